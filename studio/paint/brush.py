"""The brush: settings the inspector edits, and one press-drag-release gesture in source pixels.

Pointer positions arrive in viewer pixels; :class:`studio.paint.layer.ViewMapping` maps them to full-resolution
source pixels (stroke coordinates, CONVENTIONS.md). A drag is decimated to points about a quarter of the
brush radius apart (the rasteriser draws the segments between them exactly). Push pulls nearer with the
modifier held (a < 0); ``set`` with no value given takes δ under the press point (set-to-sampled-value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from engine.document import STROKE_KINDS, Stroke


@dataclass(frozen=True)
class BrushSettings:
    """What the brush paints.

    Attributes:
        kind: push | flatten | smooth | set.
        radius, softness: source pixels (the full-weight radius and the soft edge beyond it).
        amount: push: |δ offset| in [0, 1] (the modifier flips it nearer); other kinds: strength in [0, 1].
        value: set: target δ in [0, 1], or None to sample δ under the press point.
        edge_aware: snap the soft edge to the frame's image edges.
    """

    kind: str = "push"
    radius: float = 30.0
    softness: float = 15.0
    amount: float = 0.1
    value: float | None = None
    edge_aware: bool = True

    def __post_init__(self) -> None:
        if self.kind not in STROKE_KINDS:
            raise ValueError(f"brush kind {self.kind!r} is not one of {', '.join(STROKE_KINDS)}")
        if not (self.radius >= 0 and self.softness >= 0 and 0 <= self.amount <= 1):
            raise ValueError("brush radius and softness must be >= 0 and amount in [0, 1]")
        if self.value is not None and not 0 <= self.value <= 1:
            raise ValueError(f"set value must be in [0, 1], got {self.value}")


def sample_depth(delta: np.ndarray, x: float, y: float, source_size: tuple[int, int]) -> float | None:
    """δ at source pixel (x, y) read from a δ map of any size (nearest pixel), or None off the frame / unknown.

    Args:
        delta: (H, W) float δ (e.g. ``Session.depth(n).delta`` at eye size).
        source_size: (W_s, H_s) of the full-resolution source.
    """
    h, w = delta.shape
    col = int(math.floor((x + 0.5) * w / source_size[0]))
    row = int(math.floor((y + 0.5) * h / source_size[1]))
    if not (0 <= row < h and 0 <= col < w) or not np.isfinite(delta[row, col]):
        return None
    return float(np.clip(delta[row, col], 0.0, 1.0))


class BrushGesture:
    """One press-drag-release on frame `frame`, collected in source pixels.

    Args:
        settings: the brush at the press.
        frame: the source frame shown (the stroke is pinned to it).
        pull: the modifier is held (push pulls nearer).
        sampled: δ under the press point (used by ``set`` when the brush has no value).
    """

    def __init__(self, settings: BrushSettings, frame: int, pull: bool = False, sampled: float | None = None) -> None:
        self.settings, self.frame, self.pull, self.sampled = settings, int(frame), bool(pull), sampled
        self.points: list[tuple[float, float]] = []

    @property
    def spacing(self) -> float:
        return max(1.0, self.settings.radius / 4)

    def add(self, x: float, y: float) -> bool:
        """Add a pointer position (source px); False when it is too close to the last one to matter."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return False
        if self.points and math.hypot(x - self.points[-1][0], y - self.points[-1][1]) < self.spacing:
            return False
        self.points.append((float(x), float(y)))
        return True

    def stroke(self, stroke_id: str, last: tuple[float, float] | None = None) -> Stroke | None:
        """The document stroke of the gesture (the release point `last` kept), or None when there is nothing
        to paint (no point, or ``set`` with neither a value nor a sample)."""
        points = list(self.points)
        if last is not None and (not points or points[-1] != last):
            points.append((float(last[0]), float(last[1])))
        s = self.settings
        if not points:
            return None
        amount = -s.amount if (s.kind == "push" and self.pull) else s.amount
        value = s.value if s.value is not None else self.sampled
        if s.kind == "set" and value is None:
            return None
        return Stroke(stroke_id, s.kind, self.frame, tuple(points), float(s.radius), float(s.softness),
                      float(amount), float(value or 0.0), bool(s.edge_aware))

    def with_settings(self, settings: BrushSettings) -> BrushGesture:
        other = BrushGesture(settings, self.frame, self.pull, self.sampled)
        other.points = list(self.points)
        return other


def resized(settings: BrushSettings, factor: float) -> BrushSettings:
    """The brush with radius and softness scaled (the [ / ] keys)."""
    return replace(settings, radius=max(0.0, settings.radius * factor), softness=max(0.0, settings.softness * factor))
