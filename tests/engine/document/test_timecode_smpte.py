"""SMPTE timecode arithmetic (non-drop and drop-frame)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.document.timecode import frames_to_timecode, offset_timecode, timecode_to_frames
from engine.errors import UsageError

NTSC = Fraction(30000, 1001)


def test_non_drop_round_trip() -> None:
    assert timecode_to_frames("01:00:00:00", Fraction(24)) == 86400
    assert timecode_to_frames("00:00:01:05", Fraction(25)) == 30
    for n in (0, 1, 23, 24, 86399, 123456):
        assert timecode_to_frames(frames_to_timecode(n, Fraction(24)), Fraction(24)) == n
    assert frames_to_timecode(24000 // 1001 * 0 + 24, Fraction(24000, 1001)) == "00:00:01:00"


def test_drop_frame_skips_two_numbers_a_minute_except_tenths() -> None:
    assert frames_to_timecode(1799, NTSC, drop_frame=True) == "00:00:59;29"
    assert frames_to_timecode(1800, NTSC, drop_frame=True) == "00:01:00;02"  # ;00 and ;01 dropped
    assert frames_to_timecode(17982, NTSC, drop_frame=True) == "00:10:00;00"  # tenth minute keeps them
    assert timecode_to_frames("00:01:00;02", NTSC) == 1800
    assert timecode_to_frames("01:00:00;00", NTSC) == 107892  # 29.97 * 3600 rounded, the classic value
    for n in (0, 1799, 1800, 17981, 17982, 53946, 107891):
        assert timecode_to_frames(frames_to_timecode(n, NTSC, drop_frame=True), NTSC) == n


def test_offset_keeps_style() -> None:
    assert offset_timecode("01:00:10:05", 12, Fraction(24)) == "01:00:10:17"
    assert offset_timecode("00:00:59;29", 1, NTSC) == "00:01:00;02"
    assert offset_timecode("23:59:59:23", 1, Fraction(24)) == "00:00:00:00"  # wraps at 24 h


@pytest.mark.parametrize("bad", ["1:2:3", "01:00:00:30", "aa:bb:cc:dd", "01:61:00:00"])
def test_bad_timecodes_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        timecode_to_frames(bad, Fraction(30))


def test_drop_frame_needs_ntsc_rates() -> None:
    with pytest.raises(UsageError, match="drop-frame"):
        timecode_to_frames("00:00:01;00", Fraction(25))
