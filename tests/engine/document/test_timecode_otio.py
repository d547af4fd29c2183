"""Our SMPTE timecode (drop-frame included) agrees with OpenTimelineIO's, both ways, frame for frame."""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio
import pytest

from engine.document.timecode import frames_to_timecode, timecode_to_frames

# all within 24 h (timecode wraps there)
FRAMES = [0, 1, 29, 30, 1799, 1800, 1801, 3597, 3598, 17981, 17982, 17983, 107891, 107892, 123456, 2_000_000]


@pytest.mark.parametrize("fps, drop", [(Fraction(30000, 1001), True), (Fraction(60000, 1001), True),
                                       (Fraction(30000, 1001), False), (Fraction(24), False), (Fraction(25), False),
                                       (Fraction(24000, 1001), False)])
def test_timecode_matches_opentimelineio(fps, drop):
    rate = float(fps)
    for frames in FRAMES:
        theirs = otio.opentime.to_timecode(otio.opentime.RationalTime(frames, rate), rate, drop)
        ours = frames_to_timecode(frames, fps, drop)
        assert ours == theirs, (fps, frames, ours, theirs)
        assert timecode_to_frames(ours, fps) == frames == int(otio.opentime.from_timecode(theirs, rate).value)
