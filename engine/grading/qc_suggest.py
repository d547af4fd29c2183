"""Automatic per-shot grade suggestions: divergence + convergence that fit a budget.

Given the per-frame δ statistics of a shot (after edits and curve, so only D and c change and
the shot's relative depth is kept), the shot's δ range is [δ_lo, δ_hi] = [min q01, max q99]
over its frames, and under a constant grade its parallax range is [D(δ_lo − c), D(δ_hi − c)].
The suggestion solves for the D and c that map that range onto the aim band (by default 90 %
of the budget, see :meth:`Budget.aim`): every frame's p01 / p99 then lies inside it, with the
remaining 10 % as margin for measurement error on a master (about 0.2 % of width).

Optional convergence smoothing across cuts (:func:`smooth_convergence`) gives each shot a
little slack (D for 85 % of the budget, c free while the range stays inside 90 %) and moves c,
shot by shot, toward the value that keeps the salient region's parallax where the previous
shot left it, which limits the depth jumps that make viewers refocus after a cut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.grading.qc import DeltaStats
from engine.grading.qc_check import WINDOW_MIN_PCT
from engine.grading.qc_screens import Budget

AIM_FRACTION = 0.9
SMOOTH_FRACTION = 0.85
MAX_DIVERGENCE = 20.0  # StereoParams' limit (% of width)
FLAT_SPREAD = 0.01  # a shot whose δ range is below this has no real depth
FLAT_DIVERGENCE = 3.0  # a flat shot keeps the default strength, on the screen plane


@dataclass(frozen=True)
class ShotDepth:
    """What the suggestion needs of one shot's depth (from its frames' :class:`DeltaStats`).

    Attributes:
        lo, hi: the shot's δ range, min q01 and max q99 over its frames.
        salient_first, salient_last: median salient δ of its first / last frames.
        strip_left, strip_right: the nearest δ (min over frames of the strip q01) at each border.
    """

    lo: float
    hi: float
    salient_first: float
    salient_last: float
    strip_left: float
    strip_right: float

    @property
    def spread(self) -> float:
        return self.hi - self.lo


def _finite(values) -> np.ndarray:
    arr = np.asarray(list(values), dtype=np.float64)
    return arr[np.isfinite(arr)]


def _reduce(values, fn, default: float) -> float:
    arr = _finite(values)
    return float(fn(arr)) if arr.size else default


def shot_depth(stats: list[DeltaStats], edge_frames: int = 5) -> ShotDepth:
    """Summarise a shot's frames; `edge_frames` first / last frames give the salient depth at its cuts."""
    if not stats:
        raise ValueError("a shot needs at least one measured frame")
    lo = _reduce((s.q01 for s in stats), np.min, 0.0)
    hi = _reduce((s.q99 for s in stats), np.max, 1.0)
    mid = (lo + hi) / 2.0
    return ShotDepth(lo, hi,
                     _reduce((s.salient for s in stats[:edge_frames]), np.median, mid),
                     _reduce((s.salient for s in stats[-edge_frames:]), np.median, mid),
                     _reduce((s.strip_left for s in stats), np.min, math.nan),
                     _reduce((s.strip_right for s in stats), np.min, math.nan))


@dataclass(frozen=True)
class Suggestion:
    """A suggested constant grade for one shot, and the floating windows it then needs.

    Attributes:
        divergence: D, % of eye width.
        convergence: c, the δ of the screen plane.
        p_low, p_high: the shot's parallax range under this grade (% of width).
        window_left, window_right: floating-window widths (% of width; 0 = none).
        flat: the shot has no real depth (its grade is the default strength on the screen plane).
    """

    divergence: float
    convergence: float
    p_low: float
    p_high: float
    window_left: float
    window_right: float
    flat: bool = False

    def budget_used(self, budget: Budget) -> float:
        """Fraction of the budget's span the shot's 1st–99th percentile range uses."""
        return (self.p_high - self.p_low) / budget.span


def _window(depth: ShotDepth, divergence: float, convergence: float, strip: float) -> float:
    if not math.isfinite(strip):
        return 0.0
    need = divergence * (convergence - strip)
    return need if need > WINDOW_MIN_PCT else 0.0


def _make(depth: ShotDepth, divergence: float, convergence: float, flat: bool = False) -> Suggestion:
    return Suggestion(divergence, convergence, divergence * (depth.lo - convergence),
                      divergence * (depth.hi - convergence),
                      _window(depth, divergence, convergence, depth.strip_left),
                      _window(depth, divergence, convergence, depth.strip_right), flat)


def _flat(depth: ShotDepth, aim: tuple[float, float]) -> Suggestion:
    """A shot without real depth: the default strength (less if it would not fit), on the screen plane."""
    a, b = aim
    c = float(np.clip((depth.lo + depth.hi) / 2.0, 0.0, 1.0))
    divergence = FLAT_DIVERGENCE
    if depth.spread > 0:
        divergence = min(divergence, (b - a) / depth.spread)
    return _make(depth, divergence, c, flat=True)


def convergence_interval(depth: ShotDepth, divergence: float, aim: tuple[float, float]) -> tuple[float, float]:
    """The c for which [D(lo − c), D(hi − c)] lies inside `aim` (empty when lo > hi of the result)."""
    a, b = aim
    return depth.hi - b / divergence, depth.lo - a / divergence


def suggest_grade(depth: ShotDepth, budget: Budget, fraction: float = AIM_FRACTION) -> Suggestion:
    """The D and c that map the shot's δ range onto `fraction` of the budget.

    A shot with real depth uses exactly that fraction of the budget (unless D would pass
    MAX_DIVERGENCE); a flat one keeps the default strength on the screen plane.
    """
    aim = budget.aim(fraction)
    if depth.spread < FLAT_SPREAD:
        return _flat(depth, aim)
    a, b = aim
    divergence = min(MAX_DIVERGENCE, (b - a) / depth.spread)
    lo_c, hi_c = convergence_interval(depth, divergence, aim)
    convergence = float(np.clip((lo_c + hi_c) / 2.0, 0.0, 1.0))
    return _make(depth, divergence, convergence)


def smooth_convergence(depths: list[ShotDepth], budget: Budget) -> list[Suggestion]:
    """Suggestions for consecutive shots with convergence smoothed across their cuts.

    Each shot's D maps its range onto SMOOTH_FRACTION of the budget; c then moves, inside
    the interval that keeps the range within AIM_FRACTION of it, toward the value that puts
    the salient region of the shot's first frames at the parallax the previous shot's
    salient region ended at.
    """
    aim = budget.aim(AIM_FRACTION)
    out: list[Suggestion] = []
    for depth in depths:
        base = suggest_grade(depth, budget, SMOOTH_FRACTION)
        if out and not base.flat:
            prev, prev_depth = out[-1], depths[len(out) - 1]
            target_p = prev.divergence * (prev_depth.salient_last - prev.convergence)
            lo_c, hi_c = convergence_interval(depth, base.divergence, aim)
            want = depth.salient_first - target_p / base.divergence
            c = float(np.clip(np.clip(want, lo_c, hi_c), 0.0, 1.0))
            base = _make(depth, base.divergence, c)
        out.append(base)
    return out


__all__ = ["AIM_FRACTION", "FLAT_SPREAD", "MAX_DIVERGENCE", "SMOOTH_FRACTION", "ShotDepth", "Suggestion",
           "convergence_interval", "shot_depth", "smooth_convergence", "suggest_grade"]
