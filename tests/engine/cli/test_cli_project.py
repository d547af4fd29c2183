"""`spatialdreamer project new|show` (issue #13): shots detected with default grades, edit files, summaries."""

from __future__ import annotations

import json

import pytest

from engine import api
from engine.document import Grade, Project, Shot, StereoParams
from engine.document.otio_io import write_otio
from tests.support.shot_clips import two_shots

LENGTHS = (10, 10)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return two_shots(tmp_path_factory.mktemp("clip") / "two.mp4", LENGTHS)


def test_new_detects_the_cut_and_keys_default_grades(cli, clip, tmp_path):
    out = tmp_path / "p.sdproj"
    r = cli("project", "new", clip, "-o", out, "--progress", "none")
    assert r.code == 0, r.err
    assert "2 shots" in r.err
    project = api.load_project(out)
    shots = project.clips[0].shots
    assert [(s.start, s.end) for s in shots] == [(0, 10), (10, 20)]
    assert all(s.grade.is_keyed and s.grade.at(s.start) == StereoParams() for s in shots)
    assert [s.name for s in shots] == ["Shot 001", "Shot 002"]
    assert project.clips[0].frame_count == 20 and project.name == "two"


def test_new_off_and_refusals(cli, clip, tmp_path):
    out = tmp_path / "one.sdproj"
    assert cli("project", "new", clip, "-o", out, "--shots", "off").code == 0
    assert [(s.start, s.end) for s in api.load_project(out).clips[0].shots] == [(0, 20)]
    again = cli("project", "new", clip, "-o", out, "--shots", "off")
    assert again.code == 4 and "--overwrite" in again.err and again.err.count("\n") == 1
    bad = cli("project", "new", clip, "-o", tmp_path / "p.json")
    assert bad.code == 2 and ".sdproj" in bad.err
    missing = cli("project", "new", tmp_path / "nope.mp4", "-o", tmp_path / "n.sdproj")
    assert missing.code == 3 and "nope.mp4" in missing.err and "Traceback" not in missing.err


def test_new_from_our_otio_keeps_its_grades(cli, clip, tmp_path):
    shots = (Shot(0, 10, Grade.constant(StereoParams(5.0, 0.5), 0), "a"), Shot(10, 20, Grade(), "b"))
    timeline = tmp_path / "cut.otio"
    write_otio(Project.single(str(clip), 24, 20, shots), timeline)
    out = tmp_path / "o.sdproj"
    assert cli("project", "new", clip, "-o", out, "--shots", timeline).code == 0
    got = api.load_project(out).clips[0].shots
    assert got[0].grade.at(0) == StereoParams(5.0, 0.5)
    assert got[1].grade.is_keyed and got[1].grade.at(10) == StereoParams()  # ungraded -> default keyed


def test_show_table_and_json(cli, clip, tmp_path):
    out = tmp_path / "s.sdproj"
    cli("project", "new", clip, "-o", out)
    table = cli("project", "show", out)
    assert table.code == 0
    rows = [line for line in table.out.splitlines() if "Shot 00" in line]
    assert len(rows) == 2 and rows[1].split()[:4] == ["2", "10", "20", "10"]
    assert "render: layout=sbs-full" in table.out
    data = json.loads(cli("project", "show", out, "--json").out)
    assert data["schema"] == "ProjectSummary.1"
    assert [s["start"] for s in data["clips"][0]["shots"]] == [0, 10]
    assert data["clips"][0]["shots"][0]["grade"]["divergence"] == pytest.approx(3.0)
    assert data["clips"][0]["media_found"] is True
    bad = tmp_path / "bad.sdproj"
    bad.write_text("{not json")
    r = cli("project", "show", bad)
    assert r.code == 3 and "bad.sdproj" in r.err
