"""`spatialdreamer shots` through argparse: the table, JSON, the .otio file and usage errors."""

from __future__ import annotations

import argparse
import json
from fractions import Fraction

import pytest

from engine.cli import shots as cli_shots
from engine.document.otio_io import read_otio
from engine.errors import MediaError, UsageError


def parse(*argv: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spatialdreamer")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_shots.add_parser(sub)
    return parser.parse_args(["shots", *map(str, argv)])


def test_table_lists_every_shot_with_frames_and_timecodes(four_shot_clip, capsys):
    path, _ = four_shot_clip
    assert cli_shots.run(parse(path, "--progress", "none")) == 0
    out = capsys.readouterr().out.splitlines()
    assert "4 shots, 80 frames at 24.000 fps" in out[0]
    rows = [line.split() for line in out[2:]]
    assert [r[:3] for r in rows] == [["1", "0", "17"], ["2", "17", "41"], ["3", "41", "60"], ["4", "60", "80"]]
    # timecodes count from the clip's own 01:00:00:00; ends are exclusive
    assert rows[1][3:6] == ["01:00:00:17", "01:00:01:17", "24"] and rows[1][6] == "1.000"


def test_json_and_otio_output(four_shot_clip, tmp_path, capsys):
    path, _ = four_shot_clip
    otio_path = tmp_path / "cut.otio"
    code = cli_shots.run(parse(path, "--json", "--otio", otio_path, "--detector", "content",
                           "--min-shot-length", "0.5", "--progress", "none"))
    captured = capsys.readouterr()
    assert code == 0 and f"wrote {otio_path}" in captured.err
    data = json.loads(captured.out)
    assert data["schema"] == "ShotList.1" and data["fps"] == "24/1" and data["frame_count"] == 80
    assert data["detector"] == "content" and data["min_shot_frames"] == 12 and data["cuts"] == [17, 41, 60]
    assert data["shots"][3] == {"shot": 4, "start": 60, "end": 80, "start_timecode": "01:00:02:12",
                                "end_timecode": "01:00:03:08", "frames": 20, "seconds": pytest.approx(20 / 24)}
    project = read_otio(otio_path)
    assert [(s.start, s.end) for s in project.shots] == [(0, 17), (17, 41), (41, 60), (60, 80)]
    assert project.media == str(path) and project.fps == Fraction(24) and project.frame_count == 80


def test_progress_goes_to_stderr_and_the_table_to_stdout(four_shot_clip, capsys):
    path, _ = four_shot_clip
    assert cli_shots.run(parse(path, "--progress", "bar")) == 0
    captured = capsys.readouterr()
    assert "shots" in captured.err and "80/80" in captured.err
    assert "80/80" not in captured.out


def test_min_shot_length_forms():
    assert cli_shots.min_shot_frames("12f", Fraction(24)) == 12
    assert cli_shots.min_shot_frames("0.5", Fraction(24)) == 12
    assert cli_shots.min_shot_frames("0.5", Fraction(30000, 1001)) == 15  # 14.985 rounds up
    assert cli_shots.min_shot_frames("00:00:01.000", Fraction(25)) == 25
    for bad in ("01:00:00:00", "0f", "soon"):
        with pytest.raises(UsageError):
            cli_shots.min_shot_frames(bad, Fraction(24))


def test_source_timecode_keeps_the_sources_drop_frame_style():
    assert cli_shots.source_timecode(41, Fraction(24), None) == "00:00:01:17"
    assert cli_shots.source_timecode(41, Fraction(24), "01:00:00:00") == "01:00:01:17"
    assert cli_shots.source_timecode(2, Fraction(30000, 1001), "00:00:59;28") == "00:01:00;02"


def test_usage_and_media_errors(four_shot_clip, tmp_path):
    path, _ = four_shot_clip
    with pytest.raises(UsageError, match="stdout"):
        cli_shots.run(parse(path, "--json", "--progress", "json"))
    with pytest.raises(UsageError, match="threshold"):
        cli_shots.run(parse(path, "--threshold", "-1", "--progress", "none"))
    with pytest.raises(MediaError) as info:
        cli_shots.run(parse(tmp_path / "absent.mp4", "--progress", "none"))
    assert info.value.exit_code == 3
    with pytest.raises(SystemExit):
        parse(path, "--detector", "histogram")
