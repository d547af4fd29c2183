"""Stereo grade: per-frame stereo parameters from keyframes.

The grade formula itself (CONVENTIONS.md) is d_px = D/100 · W · (c − δ); this
module only decides D (divergence, % of eye width) and c (convergence, the δ
of the screen plane) for each frame.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

DEFAULT_DIVERGENCE = 3.0
DEFAULT_CONVERGENCE = 1.0 / 3.0
INTERPOLATIONS = ("linear", "hold", "smooth")


@dataclass(frozen=True)
class StereoParams:
    """Stereo parameters of one frame.

    Attributes:
        divergence: D, % of one full-resolution eye's width covered by the whole near-to-far range.
        convergence: c in [0, 1], the normalised depth δ that sits on the screen plane.
    """

    divergence: float = DEFAULT_DIVERGENCE
    convergence: float = DEFAULT_CONVERGENCE

    def __post_init__(self) -> None:
        if not 0.0 <= self.divergence <= 20.0:
            raise ValueError(f"divergence {self.divergence} is outside 0..20 % of the eye width")
        if not 0.0 <= self.convergence <= 1.0:
            raise ValueError(f"convergence {self.convergence} is outside 0..1")

    def parallax_range_pct(self) -> tuple[float, float]:
        """Screen parallax (% of eye width) of the nearest and the farthest point: (−D·c, D·(1−c))."""
        return (-self.divergence * self.convergence, self.divergence * (1.0 - self.convergence))


@dataclass(frozen=True)
class Keyframe:
    """Stereo parameters pinned at one source frame; `interpolation` shapes the segment that follows."""

    frame: int
    params: StereoParams
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation {self.interpolation!r} is not one of {', '.join(INTERPOLATIONS)}")


def _ease(t: float, interpolation: str) -> float:
    """Map segment position t in [0, 1] to the blend weight of the next keyframe."""
    if interpolation == "hold":
        return 0.0
    if interpolation == "smooth":
        return t * t * (3.0 - 2.0 * t)
    return t


@dataclass(frozen=True)
class Grade:
    """Keyframed stereo parameters of one shot (source-frame positions, sorted, unique)."""

    keyframes: tuple[Keyframe, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        frames = [k.frame for k in self.keyframes]
        if frames != sorted(set(frames)):
            raise ValueError("keyframes must be sorted by frame with no duplicates")

    @classmethod
    def constant(cls, params: StereoParams) -> Grade:
        return cls((Keyframe(0, params),))

    def at(self, source_frame: int) -> StereoParams:
        """Stereo parameters at `source_frame`: held before the first and after the last keyframe."""
        keys = self.keyframes
        if not keys:
            return StereoParams()
        i = bisect.bisect_right([k.frame for k in keys], source_frame)
        if i == 0:
            return keys[0].params
        if i == len(keys):
            return keys[-1].params
        a, b = keys[i - 1], keys[i]
        w = _ease((source_frame - a.frame) / (b.frame - a.frame), a.interpolation)
        return StereoParams(
            divergence=a.params.divergence + w * (b.params.divergence - a.params.divergence),
            convergence=a.params.convergence + w * (b.params.convergence - a.params.convergence),
        )

    def with_keyframe(self, key: Keyframe) -> Grade:
        """A copy with `key` added (replacing any keyframe at the same frame)."""
        rest = [k for k in self.keyframes if k.frame != key.frame]
        return Grade(tuple(sorted([*rest, key], key=lambda k: k.frame)))
