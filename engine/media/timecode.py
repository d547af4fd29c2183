"""SMPTE timecode strings <-> frame counts (non-drop and 29.97/59.94 drop-frame).

A timecode 'HH:MM:SS:FF' counts frames at the *nominal* integer rate (24 for 24000/1001);
drop-frame timecodes ('HH:MM:SS;FF') skip frame numbers 0 and 1 (0-3 at 59.94) at the start of
every minute except each tenth, so the clock stays in step with 30000/1001 video.
"""

from __future__ import annotations

import re
from fractions import Fraction

from engine.errors import UsageError

_TC = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


def nominal_rate(fps: Fraction) -> int:
    """Integer frame rate a timecode counts in (24000/1001 -> 24, 30000/1001 -> 30)."""
    return max(1, round(fps))


def _drop_per_minute(fps: Fraction, drop: bool) -> int:
    if not drop:
        return 0
    rate = nominal_rate(fps)
    if rate % 30 != 0:
        raise UsageError(f"drop-frame timecode needs a 29.97 or 59.94 fps source, not {float(fps):.3f} fps")
    return 2 * rate // 30


def parse_timecode(text: str) -> tuple[int, int, int, int, bool]:
    """Split 'HH:MM:SS:FF' (';' before FF = drop frame) into (h, m, s, f, drop)."""
    match = _TC.match(text.strip())
    if not match:
        raise UsageError(f"not a timecode: {text!r}", hint="Use HH:MM:SS:FF (or HH:MM:SS;FF for drop frame)")
    h, m, s, sep, f = match.groups()
    return int(h), int(m), int(s), int(f), sep in ";,"


def timecode_to_frames(text: str, fps: Fraction) -> int:
    """Frame count since 00:00:00:00 of a timecode at `fps`."""
    h, m, s, f, drop = parse_timecode(text)
    rate = nominal_rate(fps)
    if m > 59 or s > 59 or f >= rate:
        raise UsageError(f"timecode {text!r} is out of range for {rate} fps")
    dropped = _drop_per_minute(fps, drop)
    total_minutes = 60 * h + m
    frames = (3600 * h + 60 * m + s) * rate + f
    return frames - dropped * (total_minutes - total_minutes // 10)


def frames_to_timecode(frames: int, fps: Fraction, drop: bool = False) -> str:
    """Timecode string of a frame count at `fps` (wraps at 24 h)."""
    rate = nominal_rate(fps)
    dropped = _drop_per_minute(fps, drop)
    frames %= 24 * 3600 * rate - (dropped * 24 * 54 if dropped else 0)
    if dropped:
        per_10min = 600 * rate - 9 * dropped
        per_min = 60 * rate - dropped
        tens, rest = divmod(frames, per_10min)
        frames += 9 * dropped * tens + (dropped * ((rest - dropped) // per_min) if rest > dropped else 0)
    f = frames % rate
    s = frames // rate % 60
    m = frames // (60 * rate) % 60
    h = frames // (3600 * rate)
    return f"{h:02d}:{m:02d}:{s:02d}{';' if dropped else ':'}{f:02d}"


def offset_timecode(text: str, frames: int, fps: Fraction) -> str:
    """`text` advanced by `frames` frames, keeping its drop/non-drop style."""
    drop = parse_timecode(text)[4]
    return frames_to_timecode(timecode_to_frames(text, fps) + frames, fps, drop)
