"""`spatialdreamer qc`: exit codes (0 / 6 / 2), report files, suggestions, refusals as one line."""

import json
import os
import stat

import pytest

from engine.cli import main
from tests.engine.jobs.test_qc import scene, write_master


@pytest.fixture(scope="module")
def masters(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_qc")
    return {"good": write_master(tmp / "good.mkv", scene(n=3, d_bg=-4, d_fg=2)),
            "over": write_master(tmp / "over.mkv", scene(n=3, d_bg=-4, d_fg=8))}


def test_passing_master_exits_0_and_writes_both_reports(masters, tmp_path, capsys):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    code = main(["qc", str(masters["good"]), "--layout", "sbs-full", "--screen", "tv65", "-o", str(html),
                 "--json", str(js), "--progress", "none"])
    out = capsys.readouterr().out
    assert code == 0 and "PASS" in out and "shot   1" in out
    assert html.read_text().startswith("<!DOCTYPE html>") and json.loads(js.read_text())["passed"] is True


def test_broken_budget_exits_6(masters, capsys):
    code = main(["qc", str(masters["over"]), "--layout", "sbs-full", "--progress", "none"])
    assert code == 6 and "outside the budget" in capsys.readouterr().out


def test_custom_budget_changes_the_verdict(masters):
    assert main(["qc", str(masters["over"]), "--layout", "sbs-full", "--budget", "-4", "2", "-q", "--json",
                 "/dev/null", "--overwrite", "--progress", "none"]) == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # written through, not replaced by a regular file


@pytest.mark.parametrize(("argv", "message"), [
    (["--budget", "2", "1"], "must be below its maximum"),
    (["--screen", "imax"], "use one of tv65, cinema, desktop, headset"),
])
def test_bad_budget_and_unknown_screen_are_usage_errors(masters, capsys, argv, message):
    code = main(["qc", str(masters["good"]), "--layout", "sbs-full", "--progress", "none", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err.lower() and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_suggest_writes_a_project_with_the_suggested_grades(masters, tmp_path, capsys):
    out = tmp_path / "graded.sdproj"
    code = main(["qc", str(masters["good"]), "--suggest", str(out), "--shots", "off", "--no-cache",
                 "--progress", "none"])
    assert code == 0, capsys.readouterr()
    data = json.loads(out.read_text())
    assert data["schema"] == "Project.2"
    shot = data["clips"][0]["shots"][0]
    d, c = shot["tracks"]["divergence"][0]["value"], shot["tracks"]["convergence"][0]["value"]
    assert 0 < d <= 20 and 0 <= c <= 1 and (d, c) != (3.0, 1 / 3)  # a suggestion, not the default grade


def test_convert_auto_grade_renders_a_master_that_passes(masters, tmp_path, capsys):
    src = masters["good"]  # checked as a mono source: its suggestion is rendered
    out = tmp_path / "graded.mkv"
    code = main(["convert", str(src), "-o", str(out), "--auto-grade", "tv65", "--shots", "off", "--codec", "ffv1",
                 "--temporal", "off", "--no-cache", "--progress", "none"])
    assert code == 0, capsys.readouterr().err
    assert main(["qc", str(out), "--layout", "sbs-full", "--screen", "tv65", "--progress", "none"]) == 0


def test_convert_auto_grade_refuses_an_unknown_screen_before_work(masters, tmp_path, capsys):
    out = tmp_path / "x.mkv"
    assert main(["convert", str(masters["good"]), "-o", str(out), "--auto-grade", "imax", "--progress", "none"]) == 2
    assert "tv65, cinema, desktop, headset" in capsys.readouterr().err and not out.exists()
