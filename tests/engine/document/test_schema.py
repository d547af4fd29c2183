"""Project.2 files: round trips, relative media paths, upgrades from stored Project.0/1 fixtures, refusals."""

import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from engine.document import (
    Clip,
    DepthCurve,
    Grade,
    Keyframe,
    Project,
    RenderJob,
    RenderSettings,
    Shot,
    StereoParams,
    Stroke,
    Track,
    WindowTrack,
    load_project,
    project_from_dict,
    project_to_dict,
    save_project,
)
from engine.errors import InvalidProject

FIXTURES = Path(__file__).parent / "fixtures"


def full_project(media: str) -> Project:
    """Two clips with every kind of content the schema holds."""
    grade = Grade(divergence=Track((Keyframe(0, 2.5), Keyframe(12, 3.5, "smooth"))),
                  convergence=Track((Keyframe(0, 0.4, "hold"),)),
                  near=Track((Keyframe(4, 0.1),)), far=Track((Keyframe(4, 0.9),)), gamma=Track((Keyframe(6, 0.7),)))
    stroke = Stroke("s1", "push", 5, ((10.0, 20.5), (30.0, 40.0)), radius=12.0, softness=4.0, amount=-0.2,
                    edge_aware=True)
    windows = (WindowTrack("left", Track((Keyframe(0, 1.5), Keyframe(20, 0.0)))),)
    first = Clip("c1", media, Fraction(24000, 1001), 48,
                 (Shot(0, 24, grade, "A", (stroke,), windows), Shot(24, 48, name="B")), "Opening")
    second = Clip("c2", media + ".second.mov", Fraction(25), 10, (Shot(0, 10, Grade(), "C"),))
    settings = RenderSettings(layout="tb-half", codec="hevc", bit_depth=10, crf=20, output_dir=str(Path(media).parent),
                              refiner="small", refiner_steps=6, refiner_blend="full")
    job = RenderJob("j1", "c1", 0, 24, str(Path(media).with_name("a_tb.mp4")), settings, "failed", "disk full",
                    "Shot 001")
    return Project((first, second), "reel", settings, (job,))


def test_round_trip_with_relative_media(tmp_path):
    media = tmp_path / "footage" / "clip A.mp4"
    media.parent.mkdir()
    media.write_bytes(b"x")
    project = full_project(str(media))
    path = tmp_path / "p.sdproj"
    save_project(project, path)
    data = json.loads(path.read_text())
    assert data["schema"] == "Project.2"
    assert data["clips"][0]["media"] == "footage/clip A.mp4"  # relative to the project file
    assert data["queue"][0]["output"] == "footage/a_tb.mp4"
    assert load_project(path) == project


def test_moved_project_finds_media_relative_to_it(tmp_path):
    (tmp_path / "a" / "footage").mkdir(parents=True)
    media = tmp_path / "a" / "footage" / "clip.mp4"
    media.write_bytes(b"x")
    save_project(Project.single(str(media), Fraction(24), 10, (Shot(0, 10),)), tmp_path / "a" / "p.sdproj")
    shutil.move(tmp_path / "a", tmp_path / "b")  # project and media moved together
    assert load_project(tmp_path / "b" / "p.sdproj").media == str(tmp_path / "b" / "footage" / "clip.mp4")


def test_project_moved_without_its_media_falls_back_to_the_absolute_path(tmp_path):
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"x")
    (tmp_path / "proj").mkdir()
    save_project(Project.single(str(media), Fraction(24), 10, (Shot(0, 10),)), tmp_path / "proj" / "p.sdproj")
    (tmp_path / "elsewhere").mkdir()
    shutil.move(tmp_path / "proj" / "p.sdproj", tmp_path / "elsewhere" / "deeper.sdproj")
    assert load_project(tmp_path / "elsewhere" / "deeper.sdproj").media == str(media)


def test_project_1_fixture_is_upgraded():
    project = load_project(FIXTURES / "project_v1_two_shots.sdproj")
    clip = project.clip()
    assert clip.id == "c1" and clip.media == str(FIXTURES / "media" / "clip A.mp4")
    assert clip.fps == Fraction(24000, 1001) and clip.frame_count == 48 and project.name == "demo"
    a, b = clip.shots
    assert a.grade.divergence == Track((Keyframe(0, 2.5), Keyframe(12, 3.5, "smooth")))
    assert a.grade.convergence == Track((Keyframe(0, 0.4), Keyframe(12, 0.3, "smooth")))
    assert a.grade.at(6) == StereoParams(3.0, 0.35)  # the Project.1 semantics: D and c interpolated together
    assert b.grade.at(30).divergence == 3.0 and b.grade.convergence.keyframes[0].interpolation == "hold"
    assert a.strokes == () and a.windows == () and project.queue == () and project.render == RenderSettings()
    for shot in clip.shots:
        assert shot.grade.at(shot.start).curve == DepthCurve()


def test_project_1_is_saved_as_2_only_when_saved(tmp_path):
    source = tmp_path / "old.sdproj"
    shutil.copy(FIXTURES / "project_v1_absolute_media.sdproj", source)
    before = source.read_bytes()
    project = load_project(source)
    assert source.read_bytes() == before  # loading never rewrites
    assert project.media == "/nonexistent/footage/plate.mov"
    assert project.params_at(5) == StereoParams(4.0, 0.5)
    save_project(project, source)
    assert json.loads(source.read_text())["schema"] == "Project.2"
    assert load_project(source) == project


def test_project_0_fixture_is_upgraded_through_1():
    project = load_project(FIXTURES / "project_v0.sdproj")
    assert project.params_at(5) == StereoParams(2.0, 0.5)


def test_running_job_is_queued_again_after_a_restart(tmp_path):
    media = tmp_path / "m.mp4"
    project = Project((Clip("c1", str(media), Fraction(24), 10, (Shot(0, 10),)),),
                      queue=(RenderJob("j1", "c1", 0, 10, str(tmp_path / "o.mp4"), state="running"),))
    save_project(project, tmp_path / "p.sdproj")
    job = load_project(tmp_path / "p.sdproj").queue[0]
    assert job.state == "queued" and "interrupted" in job.message


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a readable project"),
    ('{"schema": "Project.9", "clips": []}', "newer than this version"),
    ('{"schema": "PairDataset.1"}', "not a Project file"),
    ('{"name": "x"}', "no schema tag"),
    ('[1, 2]', "JSON object"),
    ('{"schema": "Project.1", "media": "a", "fps": "25", "frame_count": 5, "shots": [{"start": 3, "end": 1, '
     '"keyframes": []}]}', "invalid"),
    ('{"schema": "Project.2", "clips": [{"id": "c1", "media": "a", "fps": "0/1", "frame_count": 5, "shots": []}]}',
     "invalid"),
    ('{"schema": "Project.2", "clips": [{"id": "c1", "media": "a", "fps": "25", "frame_count": 5, "shots": [{'
     '"start": 0, "end": 5, "tracks": {"divergence": [{"frame": 0, "value": 99}]}}]}]}', "outside 0..20"),
    ('{"schema": "Project.2", "clips": [], "queue": [{"id": "j1", "clip": "c9", "start": 0, "end": 1, '
     '"output": "o.mp4"}]}', "c9"),
])
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.sdproj"
    path.write_text(content)
    with pytest.raises(InvalidProject, match=message) as info:
        load_project(path)
    assert str(path) in str(info.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InvalidProject, match="not found"):
        load_project(tmp_path / "nope.sdproj")


def test_save_is_atomic_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "p.sdproj"
    project = full_project(str(tmp_path / "m.mp4"))
    save_project(project, path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engine.fileio.os.fsync", boom)
    with pytest.raises(OSError):
        save_project(project, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.sdproj"]


def test_dict_round_trip_without_a_base_keeps_paths_as_given():
    project = full_project("rel/clip.mp4")
    assert project_from_dict(project_to_dict(project)) == project


def test_overlapping_shots_refused():
    with pytest.raises(ValueError, match="overlaps"):
        Project.single("a", Fraction(24), 10, (Shot(0, 6), Shot(5, 10)))


def test_several_clips_need_a_name():
    project = full_project("m.mp4")
    with pytest.raises(ValueError, match="2 clips"):
        _ = project.shots
    assert project.clip("c2").id == project.clip(2).id == project.clip("2").id == "c2"
    assert project.clip("Opening").id == "c1"
    with pytest.raises(KeyError, match="no clip 'c7'.*1: c1 'Opening' \\(m.mp4\\)"):
        project.clip("c7")


@pytest.mark.parametrize("doc", ["docs/project_format.md", "README.md"])
def test_documented_examples_load(tmp_path, doc):
    import re

    text = (Path(__file__).parents[3] / doc).read_text()
    examples = [m for m in re.findall(r"```json\n(.*?)```", text, re.S) if '"Project.2"' in m]
    assert examples
    for n, example in enumerate(examples):
        path = tmp_path / f"example{n}.sdproj"
        path.write_text(example)
        project = load_project(path)
        assert project.clip().shots[0].grade.at(30) == StereoParams(3.0, 0.4, DepthCurve(0.0, 1.0, 0.8))
