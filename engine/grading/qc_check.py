"""Judging measured frames against a budget: violations, excursions, windows, depth jumps.

Input is a sequence of per-frame :class:`~engine.grading.qc.ParallaxStats` (one shot or a
whole clip, with the shot ranges); output is plain data a report, a CLI exit code or a studio
track can use. Rules (CONVENTIONS.md "Screens and comfort budgets"):

- a frame is *within budget* when low ≤ p01 and p99 ≤ high;
- a frame outside the budget but inside the excursion band is allowed when its run of such
  frames lasts at most EXCURSION_SECONDS; longer runs, and frames outside the excursion band,
  are budget violations;
- positive parallax wider than one IPD (65 mm) on the screen (p99 beyond the divergence
  limit) is always an error;
- a window violation is a 99th percentile of d > 0 in a border strip (a warning unless the
  caller fails on windows);
- a depth jump is the change in salient median parallax across a cut, from the last frames of
  one shot to the first frames of the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from engine.grading.qc import ParallaxStats
from engine.grading.qc_screens import EXCURSION_SECONDS, Budget

FRAME_OK, FRAME_EXCURSION, FRAME_OVER, FRAME_DIVERGES, FRAME_UNMEASURED = "ok", "excursion", "over", "diverges", "none"
JUMP_FRAMES = 5  # frames each side of a cut whose salient parallax is compared
WINDOW_MIN_PCT = 0.02  # a window narrower than this (% of width) is measurement noise, not a violation


def frame_states(stats: list[ParallaxStats], budget: Budget, fps: Fraction | float) -> list[str]:
    """Per-frame verdicts: 'ok', 'excursion' (allowed), 'over' (budget broken), 'diverges', 'none'.

    Args:
        stats: consecutive frames (one shot or several; excursion runs do not cross the list).
        budget: the pass band, with its screen (divergence limit) and optional excursion band.
        fps: frames per second, to turn EXCURSION_SECONDS into a frame count.
    """
    limit = budget.screen.divergence_limit_pct()
    max_run = max(1, int(math.floor(EXCURSION_SECONDS * float(fps) + 1e-9)))
    states = []
    for s in stats:
        if not (math.isfinite(s.p01) and math.isfinite(s.p99)):
            states.append(FRAME_UNMEASURED)
        elif s.p99 > limit:
            states.append(FRAME_DIVERGES)
        elif budget.contains(s.p01, s.p99):
            states.append(FRAME_OK)
        elif budget.excursion is not None and budget.excursion[0] <= s.p01 and s.p99 <= budget.excursion[1]:
            states.append(FRAME_EXCURSION)
        else:
            states.append(FRAME_OVER)
    return _long_excursions_over(states, max_run)


def _long_excursions_over(states: list[str], max_run: int) -> list[str]:
    """Excursion runs longer than `max_run` frames become 'over'."""
    out = list(states)
    i = 0
    while i < len(out):
        if out[i] != FRAME_EXCURSION:
            i += 1
            continue
        j = i
        while j < len(out) and out[j] == FRAME_EXCURSION:
            j += 1
        if j - i > max_run:
            out[i:j] = [FRAME_OVER] * (j - i)
        i = j
    return out


@dataclass(frozen=True)
class ShotCheck:
    """One shot judged against the budget.

    Attributes:
        start, end: source frames [start, end).
        p01, p99: the shot's extremes of the per-frame statistics (min p01, max p99), % of width.
        p_min, p_max: extremes of p over the shot.
        frames_over, frames_excursion, frames_diverging: counts of frames per verdict.
        window_left, window_right: floating-window widths the edges need (% of width; 0 = none),
            the largest per-frame strip d99 over the shot.
        worst_frame: source frame furthest outside (or closest to the edge of) the budget.
    """

    start: int
    end: int
    p01: float
    p99: float
    p_min: float
    p_max: float
    frames_over: int
    frames_excursion: int
    frames_diverging: int
    window_left: float
    window_right: float
    worst_frame: int

    @property
    def passes(self) -> bool:
        return self.frames_over == 0 and self.frames_diverging == 0

    @property
    def window_violation(self) -> bool:
        return self.window_left > 0.0 or self.window_right > 0.0


def _nan_extreme(values: list[float], fn) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(fn(arr)) if arr.size else float("nan")


def window_need(values: list[float]) -> float:
    """Floating-window width an edge needs over frames: the largest strip d99 > WINDOW_MIN_PCT, else 0."""
    worst = _nan_extreme(values, np.max)
    return worst if math.isfinite(worst) and worst > WINDOW_MIN_PCT else 0.0


def budget_excess(s: ParallaxStats, budget: Budget) -> float:
    """How far a frame's p01 / p99 reach past the budget, % of width (negative = margin left)."""
    if not (math.isfinite(s.p01) and math.isfinite(s.p99)):
        return -math.inf
    return max(budget.low - s.p01, s.p99 - budget.high)


def check_shot(stats: list[ParallaxStats], start: int, budget: Budget, fps: Fraction | float) -> ShotCheck:
    """Judge one shot's frames (`stats[k]` is source frame `start + k`)."""
    if not stats:
        raise ValueError("a shot needs at least one measured frame")
    states = frame_states(stats, budget, fps)
    excess = [budget_excess(s, budget) for s in stats]
    return ShotCheck(
        start=start, end=start + len(stats),
        p01=_nan_extreme([s.p01 for s in stats], np.min), p99=_nan_extreme([s.p99 for s in stats], np.max),
        p_min=_nan_extreme([s.p_min for s in stats], np.min), p_max=_nan_extreme([s.p_max for s in stats], np.max),
        frames_over=states.count(FRAME_OVER), frames_excursion=states.count(FRAME_EXCURSION),
        frames_diverging=states.count(FRAME_DIVERGES),
        window_left=window_need([s.window_left for s in stats]),
        window_right=window_need([s.window_right for s in stats]),
        worst_frame=start + int(np.argmax(excess)))


@dataclass(frozen=True)
class DepthJump:
    """The change of salient parallax across one cut.

    Attributes:
        cut: the first source frame of the next shot.
        before, after: median salient parallax (% of width) of the last / first JUMP_FRAMES frames.
        jump: after − before (% of width; > 0 = the subject moves back).
    """

    cut: int
    before: float
    after: float

    @property
    def jump(self) -> float:
        return self.after - self.before


def _median_salient(stats: list[ParallaxStats]) -> float:
    return _nan_extreme([s.salient for s in stats], np.median)


def depth_jumps(shots: list[tuple[int, list[ParallaxStats]]]) -> list[DepthJump]:
    """Depth jumps at every cut between consecutive shots.

    Args:
        shots: (start frame, per-frame stats) of each shot in order; a cut is between a shot
            and the next when the next starts where the previous ends.
    """
    jumps = []
    for (a_start, a), (b_start, b) in zip(shots, shots[1:], strict=False):
        if a and b and a_start + len(a) == b_start:
            jumps.append(DepthJump(b_start, _median_salient(a[-JUMP_FRAMES:]), _median_salient(b[:JUMP_FRAMES])))
    return jumps


__all__ = ["FRAME_DIVERGES", "FRAME_EXCURSION", "FRAME_OK", "FRAME_OVER", "FRAME_UNMEASURED", "JUMP_FRAMES",
           "DepthJump", "ShotCheck", "budget_excess", "check_shot", "depth_jumps", "frame_states", "window_need"]
