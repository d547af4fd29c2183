"""convert with a Project.2 (a chosen clip), with our OTIO as the project, and `--shots edit.otio`
taking the grades stored in the OTIO's metadata (issue #14)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine import api
from engine.document import Clip, Grade, Project, Shot, StereoParams
from engine.document.otio_io import write_otio
from tests.support.shot_clips import two_shots

LENGTHS = (6, 6)


@pytest.fixture(scope="module")
def two_shot_clip(tmp_path_factory) -> Path:
    return two_shots(tmp_path_factory.mktemp("clip") / "two.mp4", LENGTHS)


def graded(media: Path, first: float, second: float) -> Project:
    """The clip's two shots, divergence `first` and `second` (c = 0.5)."""
    n = sum(LENGTHS)
    shots = (Shot(0, LENGTHS[0], Grade.constant(StereoParams(first, 0.5), 0), "one"),
             Shot(LENGTHS[0], n, Grade.constant(StereoParams(second, 0.5), LENGTHS[0]), "two"))
    return Project.single(str(media), Fraction(24), n, shots)


def rendered_disparity(tmp_path: Path, request: api.ConvertRequest) -> list[float]:
    """Max |d| of every frame, from the disparity the render exported."""
    out = tmp_path / "d"
    request = api.ConvertRequest(**{**request.__dict__, "output": tmp_path / "out.mkv", "temporal": False,
                                    "encode": api.EncodeSettings(codec="ffv1"), "use_cache": False,
                                    "export_depth": api.DepthExportSpec(out, "npy", out, "npy")})
    for _ in api.convert(request):
        pass
    files = sorted(out.glob("*.disparity.*.npy"))
    assert len(files) == sum(LENGTHS)
    return [float(np.nanmax(np.abs(np.load(f)))) for f in files]


def test_project_clip_grades_drive_the_render(tmp_path, two_shot_clip):
    other = Clip("c1", "/elsewhere/missing.mov", Fraction(24), 12, (Shot(0, 12),))
    chosen = graded(two_shot_clip, 0.0, 6.0).clips[0]
    project = Project((other, Clip("c2", chosen.media, chosen.fps, chosen.frame_count, chosen.shots, "main")))
    d = rendered_disparity(tmp_path, api.ConvertRequest(input=None, project=project, clip="main"))
    assert max(d[:LENGTHS[0]]) < 1e-6  # D = 0 on the first shot: flat
    assert min(d[LENGTHS[0]:]) > 1.0  # D = 6 % of 160 px: the nearest moves by several pixels
    with pytest.raises(api.UsageError, match="2 clips"):
        rendered_disparity(tmp_path, api.ConvertRequest(input=None, project=project))


def test_otio_written_by_shots_is_a_project(tmp_path, two_shot_clip):
    timeline = tmp_path / "cut.otio"
    write_otio(graded(two_shot_clip, 6.0, 0.0), timeline)
    project = api.load_project(timeline)
    assert [(s.start, s.end) for s in project.shots] == [(0, 6), (6, 12)]
    d = rendered_disparity(tmp_path, api.ConvertRequest(input=two_shot_clip, project=project))
    assert min(d[:LENGTHS[0]]) > 1.0 and max(d[LENGTHS[0]:]) < 1e-6


def test_shots_from_our_otio_bring_their_grades(tmp_path, two_shot_clip):
    timeline = tmp_path / "edit.otio"
    write_otio(graded(two_shot_clip, 0.0, 6.0), timeline)
    d = rendered_disparity(tmp_path, api.ConvertRequest(input=two_shot_clip, shots=str(timeline),
                                                        params=StereoParams(3.0, 0.5)))
    assert max(d[:LENGTHS[0]]) < 1e-6 and min(d[LENGTHS[0]:]) > 1.0


def test_shots_from_a_foreign_otio_take_the_request_grade(tmp_path, two_shot_clip):
    timeline = tmp_path / "edit.otio"
    project = graded(two_shot_clip, 0.0, 6.0)
    ungraded = Project.single(project.media, project.fps, project.frame_count,
                              tuple(Shot(s.start, s.end, Grade(), s.name) for s in project.shots))
    write_otio(ungraded, timeline)
    d = rendered_disparity(tmp_path, api.ConvertRequest(input=two_shot_clip, shots=str(timeline),
                                                        params=StereoParams(0.0, 0.5)))
    assert max(d) < 1e-6


def test_cli_convert_and_frame_take_a_project_and_a_clip(tmp_path, two_shot_clip, cli):
    chosen = graded(two_shot_clip, 0.0, 6.0).clips[0]
    other = Clip("c1", str(tmp_path / "missing.mov"), Fraction(24), 12, (Shot(0, 12),))
    path = tmp_path / "reel.sdproj"
    api.save_project(Project((other, Clip("c2", chosen.media, chosen.fps, chosen.frame_count, chosen.shots,
                                          "main"))), path)
    fast = ("--codec", "ffv1", "--temporal", "off", "--no-cache", "-q")
    result = cli("convert", "--project", path, "--clip", "main", "-o", tmp_path / "out.mkv", *fast)
    assert result.code == 0, result.err
    with api.open_media(tmp_path / "out.mkv") as reader:
        assert len(reader) == sum(LENGTHS)
    result = cli("convert", "--project", path, "-o", tmp_path / "again.mkv", *fast)
    assert result.code == 2 and "2 clips" in result.err and "c2 'main' (two.mp4)" in result.err
    assert "--clip" in result.err and not (tmp_path / "again.mkv").exists()
    result = cli("frame", "--project", path, "--clip", "2", "--at", "3f", "-o", tmp_path / "look.png",
                 "--temporal", "off", "--no-cache", "-q")
    assert result.code == 0, result.err
    assert (tmp_path / "look.png").exists()
    result = cli("convert", "-o", tmp_path / "none.mkv", *fast)
    assert result.code == 2 and "no input given" in result.err


def test_the_otio_that_shots_writes_is_a_project(tmp_path, two_shot_clip, cli):
    timeline = tmp_path / "cut.otio"
    assert cli("shots", two_shot_clip, "--otio", timeline, "-q").code == 0
    project = api.load_project(timeline)
    assert project.shots[0].start == 0 and project.shots[-1].end == sum(LENGTHS)  # (shots this short merge)
    result = cli("convert", two_shot_clip, "--project", timeline, "-o", tmp_path / "out.mkv", "--codec", "ffv1",
                 "--temporal", "off", "--no-cache", "-q")
    assert result.code == 0, result.err
    result = cli("convert", "--project", timeline, "-o", tmp_path / "out2.mkv", "--codec", "ffv1",
                 "--temporal", "off", "--no-cache", "-q")  # the media named in the timeline
    assert result.code == 0, result.err


def test_a_second_render_reads_the_cached_shot_range_and_is_identical(tmp_path, two_shot_clip):
    request = api.ConvertRequest(input=two_shot_clip, shots="off", temporal=False, cache_dir=tmp_path / "cache",
                                 encode=api.EncodeSettings(codec="ffv1"), overwrite=True)
    runs = []
    for name in ("cold.mkv", "warm.mkv"):
        depth_steps = [p for p in api.convert(replace(request, output=tmp_path / name)) if p.stage == "depth"]
        with api.open_media(tmp_path / name) as reader:
            runs.append((len(depth_steps), [f.image for f in reader.frames()]))
    (cold_steps, cold), (warm_steps, warm) = runs
    assert cold_steps == sum(LENGTHS) and warm_steps == 1  # the warm depth pass is one cached-range step
    assert all(np.array_equal(a, b) for a, b in zip(cold, warm, strict=True))
