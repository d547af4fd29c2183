"""Stereo grade: keyframe tracks -> per-frame stereo parameters (pure Python).

A shot's grade is five keyframe tracks (CONVENTIONS.md): divergence D (% of eye width, the
"stereo strength"), convergence c (the δ' of the screen plane) and the depth curve's near n,
far f and gamma γ. Each track is evaluated on its own; a keyframe's interpolation shapes the
segment that follows it (linear, smooth = smoothstep ease, hold = step). Before a track's first
keyframe and after its last the value is held; an empty track gives the default value.

The formulas themselves live in engine.grading / engine.ops: δ' = clamp((δ − n)/(f − n), 0, 1)^γ,
d_px = D/100 · W · (c − δ').
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field, replace

DEFAULT_DIVERGENCE = 3.0
DEFAULT_CONVERGENCE = 1.0 / 3.0
INTERPOLATIONS = ("linear", "smooth", "hold")
#: The grade's tracks, in the order a timeline shows them.
GRADE_TRACKS = ("divergence", "convergence", "near", "far", "gamma")
TRACK_DEFAULTS = {"divergence": DEFAULT_DIVERGENCE, "convergence": DEFAULT_CONVERGENCE,
                  "near": 0.0, "far": 1.0, "gamma": 1.0}
TRACK_LIMITS = {"divergence": (0.0, 20.0), "convergence": (0.0, 1.0), "near": (0.0, 1.0),
                "far": (0.0, 1.0), "gamma": (0.25, 4.0)}
#: Smallest far − near the curve keeps when independently keyed near/far tracks cross.
MIN_CURVE_SPAN = 0.01


def check_in_range(name: str, value: float, limits: tuple[float, float]) -> float:
    """`value` as a float if finite and within `limits` (inclusive), else ValueError naming `name`."""
    value = float(value)
    lo, hi = limits
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"{name} {value} is outside {lo:g}..{hi:g}")
    return value


@dataclass(frozen=True)
class DepthCurve:
    """The per-frame depth curve δ' = clamp((δ − near) / (far − near), 0, 1) ^ gamma.

    Attributes:
        near, far: 0 ≤ near < far ≤ 1, the δ mapped to 0 and to 1.
        gamma: γ in [0.25, 4]; < 1 gives the foreground more relief, > 1 the far range.
    """

    near: float = 0.0
    far: float = 1.0
    gamma: float = 1.0

    def __post_init__(self) -> None:
        check_in_range("near", self.near, TRACK_LIMITS["near"])
        check_in_range("far", self.far, TRACK_LIMITS["far"])
        check_in_range("gamma", self.gamma, TRACK_LIMITS["gamma"])
        if not self.near < self.far:
            raise ValueError(f"depth curve needs near < far, got near {self.near}, far {self.far}")

    @property
    def is_identity(self) -> bool:
        return self.near == 0.0 and self.far == 1.0 and self.gamma == 1.0

    @classmethod
    def safe(cls, near: float, far: float, gamma: float) -> DepthCurve:
        """A valid curve from interpolated values: clamped to the limits, far ≥ near + MIN_CURVE_SPAN."""
        near = min(max(near, 0.0), 1.0 - MIN_CURVE_SPAN)
        far = min(max(far, near + MIN_CURVE_SPAN), 1.0)
        return cls(near, far, min(max(gamma, 0.25), 4.0))


@dataclass(frozen=True)
class StereoParams:
    """Stereo parameters of one frame.

    Attributes:
        divergence: D, % of one full-resolution eye's width covered by the whole near-to-far range.
        convergence: c in [0, 1], the (curved) normalised depth δ' that sits on the screen plane.
        curve: the depth curve applied to δ before the grade (identity by default).
    """

    divergence: float = DEFAULT_DIVERGENCE
    convergence: float = DEFAULT_CONVERGENCE
    curve: DepthCurve = field(default_factory=DepthCurve)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.divergence) and 0.0 <= self.divergence <= 20.0):
            raise ValueError(f"divergence {self.divergence} is outside 0..20 % of the eye width")
        if not (math.isfinite(self.convergence) and 0.0 <= self.convergence <= 1.0):
            raise ValueError(f"convergence {self.convergence} is outside 0..1")

    def parallax_range_pct(self) -> tuple[float, float]:
        """Screen parallax (% of eye width) of the nearest and the farthest point: (−D·c, D·(1−c))."""
        return (-self.divergence * self.convergence, self.divergence * (1.0 - self.convergence))


@dataclass(frozen=True)
class Keyframe:
    """A track's value pinned at one source frame; `interpolation` shapes the segment that follows."""

    frame: int
    value: float
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        if isinstance(self.frame, bool) or not isinstance(self.frame, int) or self.frame < 0:
            raise ValueError(f"keyframe frame must be a source frame index >= 0, got {self.frame!r}")
        if not math.isfinite(self.value):
            raise ValueError(f"keyframe value must be finite, got {self.value}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation {self.interpolation!r} is not one of {', '.join(INTERPOLATIONS)}")


def ease(t: float, interpolation: str) -> float:
    """Segment position t in [0, 1] -> blend weight of the segment's end keyframe."""
    if interpolation == "hold":
        return 0.0
    if interpolation == "smooth":
        return t * t * (3.0 - 2.0 * t)
    return t


@dataclass(frozen=True)
class Track:
    """Keyframes of one parameter (source-frame positions, sorted, unique)."""

    keyframes: tuple[Keyframe, ...] = ()

    def __post_init__(self) -> None:
        frames = [k.frame for k in self.keyframes]
        if frames != sorted(set(frames)):
            raise ValueError("keyframes must be sorted by frame with no duplicates")

    def __len__(self) -> int:
        return len(self.keyframes)

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(k.frame for k in self.keyframes)

    def key_at(self, frame: int) -> Keyframe | None:
        """The keyframe exactly at `frame`, if any."""
        i = bisect.bisect_left(self.frames, frame)
        return self.keyframes[i] if i < len(self.keyframes) and self.keyframes[i].frame == frame else None

    def value_at(self, frame: int, default: float) -> float:
        """The track's value at source frame `frame` (held outside its keyframes; `default` when empty)."""
        keys = self.keyframes
        if not keys:
            return default
        i = bisect.bisect_right(self.frames, frame)
        if i == 0:
            return keys[0].value
        if i == len(keys):
            return keys[-1].value
        a, b = keys[i - 1], keys[i]
        w = ease((frame - a.frame) / (b.frame - a.frame), a.interpolation)
        return a.value + w * (b.value - a.value)

    def with_keyframe(self, key: Keyframe) -> Track:
        """A copy with `key` added, replacing any keyframe at the same frame."""
        rest = [k for k in self.keyframes if k.frame != key.frame]
        return Track(tuple(sorted([*rest, key], key=lambda k: k.frame)))

    def without_keyframe(self, frame: int) -> Track:
        """A copy without the keyframe at `frame` (KeyError if there is none)."""
        if self.key_at(frame) is None:
            raise KeyError(f"no keyframe at frame {frame}")
        return Track(tuple(k for k in self.keyframes if k.frame != frame))

    def within(self, start: int, end: int) -> Track:
        """The keyframes in [start, end) with boundary keys added so every frame there keeps its value."""
        inside = [k for k in self.keyframes if start <= k.frame < end]
        if not self.keyframes:
            return Track()
        out = Track(tuple(inside))
        if not inside or inside[0].frame != start:
            out = out.with_keyframe(Keyframe(start, self.value_at(start, 0.0), self._interp_at(start)))
        last = out.keyframes[-1]
        if self.keyframes[-1].frame >= end and last.frame != end - 1 and last.interpolation != "hold":
            out = out.with_keyframe(Keyframe(end - 1, self.value_at(end - 1, 0.0), "linear"))
        return out

    def _interp_at(self, frame: int) -> str:
        """Interpolation of the segment containing `frame` (that of the keyframe at or before it)."""
        i = bisect.bisect_right(self.frames, frame)
        return self.keyframes[i - 1].interpolation if i else "linear"

    def shifted(self, offset: int) -> Track:
        """Every keyframe moved by `offset` frames (frames must stay >= 0)."""
        return Track(tuple(replace(k, frame=k.frame + offset) for k in self.keyframes))


@dataclass(frozen=True)
class Grade:
    """The keyframe tracks of one shot's grade (divergence, convergence, near, far, gamma)."""

    divergence: Track = field(default_factory=Track)
    convergence: Track = field(default_factory=Track)
    near: Track = field(default_factory=Track)
    far: Track = field(default_factory=Track)
    gamma: Track = field(default_factory=Track)

    def __post_init__(self) -> None:
        for name in GRADE_TRACKS:
            for key in getattr(self, name).keyframes:
                check_in_range(f"{name} keyframe at frame {key.frame}:", key.value, TRACK_LIMITS[name])

    @classmethod
    def constant(cls, params: StereoParams, frame: int = 0) -> Grade:
        """D and c keyed once at `frame` (and the curve, when it is not the identity)."""
        grade = cls(divergence=Track((Keyframe(frame, params.divergence),)),
                    convergence=Track((Keyframe(frame, params.convergence),)))
        if not params.curve.is_identity:
            c = params.curve
            grade = replace(grade, near=Track((Keyframe(frame, c.near),)), far=Track((Keyframe(frame, c.far),)),
                            gamma=Track((Keyframe(frame, c.gamma),)))
        return grade

    @property
    def is_keyed(self) -> bool:
        """Whether any track has a keyframe (an ungraded shot takes the job's constant grade)."""
        return any(len(self.track(name)) for name in GRADE_TRACKS)

    def track(self, name: str) -> Track:
        if name not in GRADE_TRACKS:
            raise KeyError(f"unknown grade track {name!r}; tracks are {', '.join(GRADE_TRACKS)}")
        return getattr(self, name)

    def with_track(self, name: str, track: Track) -> Grade:
        self.track(name)
        return replace(self, **{name: track})

    def value_at(self, name: str, frame: int) -> float:
        return self.track(name).value_at(frame, TRACK_DEFAULTS[name])

    def at(self, source_frame: int) -> StereoParams:
        """Stereo parameters (D, c and the depth curve) at `source_frame`."""
        v = {name: self.value_at(name, source_frame) for name in GRADE_TRACKS}
        curve = DepthCurve.safe(v["near"], v["far"], v["gamma"])
        return StereoParams(min(max(v["divergence"], 0.0), 20.0), min(max(v["convergence"], 0.0), 1.0), curve)

    def keyed_frames(self) -> tuple[int, ...]:
        """Every frame at which some track has a keyframe, sorted."""
        return tuple(sorted({k.frame for name in GRADE_TRACKS for k in self.track(name).keyframes}))

    def map_tracks(self, fn) -> Grade:
        """A grade with `fn(track)` applied to every track."""
        return Grade(**{name: fn(self.track(name)) for name in GRADE_TRACKS})
