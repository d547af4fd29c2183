from fractions import Fraction

import pytest

from engine.document import parse_time
from engine.document.timecode import frames_to_timecode, timecode_to_frames
from engine.errors import UsageError


@pytest.mark.parametrize("text, kind, value", [
    ("12.5", "seconds", Fraction(25, 2)),
    ("00:01:02.500", "seconds", Fraction(125, 2)),
    ("1:02.5", "seconds", Fraction(125, 2)),
    ("123f", "frame", 123),
    ("01:00:10:12", "timecode", "01:00:10:12"),
])
def test_forms(text, kind, value):
    spec = parse_time(text)
    assert (spec.kind, spec.value) == (kind, value)


def test_seconds_resolve_through_the_reader_snap():
    calls = []

    def index_at_time(t):
        calls.append(t)
        return 7

    assert parse_time("0.25").resolve(Fraction(24), index_at_time) == 7
    assert calls == [Fraction(1, 4)]


def test_timecode_is_read_against_source_start():
    spec = parse_time("01:00:01:00")
    assert spec.resolve(Fraction(25), lambda t: 0, start_timecode="01:00:00:00") == 25
    with pytest.raises(UsageError, match="before the source"):
        parse_time("00:59:59:00").resolve(Fraction(25), lambda t: 0, start_timecode="01:00:00:00")


@pytest.mark.parametrize("frames", [0, 1799, 1800, 17982, 17983, 107892, 123456])
def test_drop_frame_round_trip(frames):
    fps = Fraction(30000, 1001)
    tc = frames_to_timecode(frames, fps, drop_frame=True)
    assert ";" in tc
    assert timecode_to_frames(tc, fps) == frames


def test_drop_frame_skips_frame_numbers():
    fps = Fraction(30000, 1001)
    assert frames_to_timecode(1800, fps, drop_frame=True) == "00:01:00;02"


@pytest.mark.parametrize("bad", ["abc", "12fps", "-3", ""])
def test_bad_times_name_the_forms(bad):
    with pytest.raises(UsageError, match="123f"):
        parse_time(bad)


def test_out_of_range_clock_time():
    with pytest.raises(UsageError, match="60 or more"):
        parse_time("1:75:00")
