"""Time positions as the user types them (CONVENTIONS.md, "Time").

- ``12.5``           seconds
- ``00:01:02.500``   clock time (``MM:SS.mmm`` also accepted)
- ``01:00:10:12``    SMPTE timecode, read against the source's own start timecode
- ``01:00:10;12``    drop-frame timecode (29.97 / 59.94)
- ``123f``           a frame index

Seconds snap to the first frame whose pts ≥ T (the reader resolves that, so it
is VFR-safe); timecode and frame indices are exact frame positions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from engine.errors import UsageError

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;])(\d{2,3})$")
# Timecode tags written by other tools may use '.' or ',' for drop-frame too.
_TC = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")
_FRAME = re.compile(r"^(\d+)f$")
_SECONDS = re.compile(r"^\d+(?:\.\d*)?$|^\.\d+$")


@dataclass(frozen=True)
class TimeSpec:
    """A parsed position: `kind` is 'seconds' (value: Fraction), 'frame' or 'timecode' (value: str)."""

    kind: str
    value: Fraction | int | str
    text: str

    def resolve(self, fps: Fraction, index_at_time: Callable[[Fraction], int],
                start_timecode: str | None = None) -> int:
        """Source frame index of this position.

        Args:
            fps: nominal source frame rate (timecode counting base).
            index_at_time: maps seconds from stream start to the first frame with pts ≥ T.
            start_timecode: the source's start timecode, if it has one.
        """
        if self.kind == "frame":
            return int(self.value)
        if self.kind == "seconds":
            return index_at_time(Fraction(self.value))
        base = timecode_to_frames(start_timecode, fps) if start_timecode else 0
        index = timecode_to_frames(str(self.value), fps) - base
        if index < 0:
            raise UsageError(f"timecode {self.text} is before the source's start timecode {start_timecode}")
        return index


def parse_time(text: str) -> TimeSpec:
    """Parse a user time string; UsageError naming the accepted forms if it matches none."""
    s = text.strip()
    if m := _FRAME.match(s):
        return TimeSpec("frame", int(m.group(1)), text)
    if _SECONDS.match(s):
        return TimeSpec("seconds", Fraction(s), text)
    if _TIMECODE.match(s):
        return TimeSpec("timecode", s, text)
    if m := _CLOCK.match(s):
        hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), Fraction(m.group(3))
        if minutes >= 60 or seconds >= 60:
            raise UsageError(f"time {text!r} has minutes or seconds of 60 or more")
        return TimeSpec("seconds", hours * 3600 + minutes * 60 + seconds, text)
    raise UsageError(f"cannot read time {text!r}",
                     hint="Use seconds (12.5), clock time (00:01:02.500), timecode (01:00:10:12, "
                          "';' for drop-frame) or a frame index (123f)")


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


def frames_to_timecode(frames: int, fps: Fraction, drop_frame: bool = False) -> str:
    """Timecode string of a frame count at `fps` (wraps at 24 h)."""
    rate = nominal_rate(fps)
    dropped = _drop_per_minute(fps, drop_frame)
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
