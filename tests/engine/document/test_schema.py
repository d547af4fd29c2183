import json
from fractions import Fraction

import pytest

from engine.document import Grade, Keyframe, Project, Shot, StereoParams, load_project, save_project
from engine.errors import InvalidProject


def _project():
    shots = (Shot(0, 24, Grade((Keyframe(0, StereoParams(2.5, 0.4)), Keyframe(12, StereoParams(3.5, 0.3),
                                                                              "smooth"))), name="A"),
             Shot(24, 48, name="B"))
    return Project("clip.mp4", Fraction(24000, 1001), 48, shots, name="demo")


def test_round_trip(tmp_path):
    path = tmp_path / "p.sdproj"
    save_project(_project(), path)
    data = json.loads(path.read_text())
    assert data["schema"] == "Project.1"
    assert load_project(path) == _project()


def test_project_zero_is_upgraded(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"schema": "Project.0", "media": "a.mp4", "fps": "25/1", "frame_count": 10,
                                "stereo": {"divergence": 2.0, "convergence": 0.5},
                                "shots": [{"start": 0, "end": 10}]}))
    project = load_project(path)
    assert project.params_at(5) == StereoParams(2.0, 0.5)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a readable project"),
    ('{"schema": "Project.9", "shots": []}', "newer"),
    ('{"schema": "PairDataset.1"}', "not a Project file"),
    ('{"schema": "Project.1", "media": "a", "fps": "25", "frame_count": 5, "shots": [{"start": 3, "end": 1}]}',
     "invalid"),
])
def test_bad_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidProject, match=message) as info:
        load_project(path)
    assert str(path) in str(info.value)


def test_save_is_atomic_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    save_project(_project(), path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engine.fileio.os.fsync", boom)
    with pytest.raises(OSError):
        save_project(_project(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def test_overlapping_shots_refused():
    with pytest.raises(ValueError, match="overlaps"):
        Project("a", Fraction(24), 10, (Shot(0, 6), Shot(5, 10)))
