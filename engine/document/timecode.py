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


def timecode_to_frames(tc: str, fps: Fraction) -> int:
    """SMPTE timecode -> frame count from 00:00:00:00 (drop-frame when the separator is ';')."""
    m = _TIMECODE.match(tc.strip())
    if not m:
        raise UsageError(f"timecode {tc!r} is not HH:MM:SS:FF")
    hh, mm, ss, sep, ff = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4), int(m.group(5))
    nominal = round(fps)
    if ff >= nominal or mm >= 60 or ss >= 60:
        raise UsageError(f"timecode {tc} is out of range for {float(fps):g} fps")
    total_minutes = hh * 60 + mm
    frames = (total_minutes * 60 + ss) * nominal + ff
    if sep == ";":
        if nominal not in (30, 60):
            raise UsageError(f"drop-frame timecode {tc} needs 29.97 or 59.94 fps, not {float(fps):g}")
        drop = 2 * nominal // 30
        frames -= drop * (total_minutes - total_minutes // 10)
    return frames


def frames_to_timecode(frames: int, fps: Fraction, drop_frame: bool = False) -> str:
    """Inverse of :func:`timecode_to_frames`."""
    nominal = round(fps)
    if drop_frame:
        drop = 2 * nominal // 30
        per_10min = nominal * 600 - drop * 9
        tens, rem = divmod(frames, per_10min)
        extra = 0 if rem < drop else drop * ((rem - drop) // (nominal * 60 - drop))
        frames += drop * 9 * tens + extra
    ff = frames % nominal
    total_s = frames // nominal
    sep = ";" if drop_frame else ":"
    return f"{total_s // 3600:02d}:{total_s // 60 % 60:02d}:{total_s % 60:02d}{sep}{ff:02d}"
