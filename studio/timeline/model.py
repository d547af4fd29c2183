"""Timeline geometry and hit-testing, pure Python (no widgets): frames <-> x, rows, keyframes, curves."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from engine.document import GRADE_TRACKS, TRACK_DEFAULTS, TRACK_LIMITS, Clip

RULER_H = 22
SHOT_H = 54
TRACK_H = 36
HIT_PX = 6


@dataclass(frozen=True)
class TimelineView:
    """Which frames are visible: `scale` pixels per frame, `first` the frame at x = 0 (fractional)."""

    frame_count: int
    scale: float = 4.0
    first: float = 0.0

    def x_of(self, frame: float) -> float:
        return (frame - self.first) * self.scale

    def frame_at(self, x: float) -> int:
        """The frame under x, clamped to the clip."""
        return max(0, min(self.frame_count - 1, int((x / self.scale) + self.first)))

    def fitted(self, width: float) -> TimelineView:
        return replace(self, scale=max(width / max(self.frame_count, 1), 1e-3), first=0.0)

    def zoomed(self, factor: float, anchor_x: float) -> TimelineView:
        """Zoom about `anchor_x` (the frame under it stays put)."""
        at = anchor_x / self.scale + self.first
        scale = min(max(self.scale * factor, 0.02), 64.0)
        return self.clamped(replace(self, scale=scale, first=at - anchor_x / scale))

    def scrolled(self, dx: float) -> TimelineView:
        return self.clamped(replace(self, first=self.first + dx / self.scale))

    def clamped(self, view: TimelineView | None = None) -> TimelineView:
        v = view or self
        return replace(v, first=min(max(v.first, 0.0), max(0.0, v.frame_count - 1.0)))


def row_of(y: float) -> str | None:
    """'ruler', 'shots', a grade track name, or None below the last row."""
    if y < RULER_H:
        return "ruler"
    if y < RULER_H + SHOT_H:
        return "shots"
    i = int((y - RULER_H - SHOT_H) // TRACK_H)
    return GRADE_TRACKS[i] if 0 <= i < len(GRADE_TRACKS) else None


def row_top(track: str) -> float:
    return RULER_H + SHOT_H + GRADE_TRACKS.index(track) * TRACK_H


def value_y(track: str, value: float) -> float:
    """y of `value` inside its track row (the row spans the track's limits, top = high)."""
    lo, hi = TRACK_LIMITS[track]
    t = (value - lo) / (hi - lo)
    top = row_top(track)
    return top + 4 + (1.0 - min(max(t, 0.0), 1.0)) * (TRACK_H - 8)


def value_at_y(track: str, y: float) -> float:
    lo, hi = TRACK_LIMITS[track]
    t = 1.0 - (y - row_top(track) - 4) / (TRACK_H - 8)
    return lo + min(max(t, 0.0), 1.0) * (hi - lo)


@dataclass(frozen=True)
class KeyHit:
    """A keyframe under the pointer."""

    shot: int
    track: str
    frame: int


def keyframe_at(clip: Clip, view: TimelineView, track: str, x: float) -> KeyHit | None:
    """The keyframe of `track` within HIT_PX of x (the nearest), in whichever shot holds it."""
    best: tuple[float, KeyHit] | None = None
    for i, shot in enumerate(clip.shots):
        for key in shot.grade.track(track).keyframes:
            dist = abs(view.x_of(key.frame + 0.5) - x)
            if dist <= HIT_PX and (best is None or dist < best[0]):
                best = (dist, KeyHit(i, track, key.frame))
    return best[1] if best else None


def curve_points(clip: Clip, view: TimelineView, track: str, width: float, step_px: float = 2.0
                 ) -> list[list[tuple[float, float]]]:
    """Polylines (one per visible shot) of `track`'s value at frame centres, at most one point every
    `step_px` pixels (zoomed in: one per frame; a long clip in a narrow view: one per `step_px`)."""
    lines = []
    stride = max(1, math.ceil(step_px / max(view.scale, 1e-9)))
    for shot in clip.shots:
        x0, x1 = max(view.x_of(shot.start), 0.0), min(view.x_of(shot.end), width)
        if x1 <= x0:
            continue
        first = max(shot.start, view.frame_at(x0))
        last = min(shot.end - 1, view.frame_at(x1))
        frames = list(range(first, last + 1, stride))
        if frames[-1] != last:
            frames.append(last)
        value = shot.grade.value_at
        pts = [(x0, value_y(track, value(track, first)))]
        pts += [(view.x_of(f + 0.5), value_y(track, value(track, f))) for f in frames]
        pts.append((x1, value_y(track, value(track, last))))
        lines.append(pts)
    return lines


def shot_index_at(clip: Clip, frame: int) -> int | None:
    return clip.shot_index_at(frame)


def track_value(clip: Clip, track: str, frame: int) -> float:
    """The track's value at `frame` (its default outside every shot)."""
    shot = clip.shot_at(frame)
    return shot.grade.value_at(track, frame) if shot else TRACK_DEFAULTS[track]
