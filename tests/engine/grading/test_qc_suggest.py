"""Grade suggestions: every frame inside 90 % of the budget, ≥ 80 % used, relative depth kept, smoothing."""

import numpy as np
import pytest

from engine.grading.qc import delta_stats, parallax_stats
from engine.grading.qc_check import check_shot, depth_jumps
from engine.grading.qc_screens import SCREENS, budget_for
from engine.grading.qc_suggest import MAX_DIVERGENCE, shot_depth, smooth_convergence, suggest_grade


def shot_frames(lo, hi, n=6, seed=0, h=40, w=200, subject=None):
    """δ frames spanning about [lo, hi] (uniform noise), optional near subject δ in the centre."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        delta = lo + (hi - lo) * rng.random((h, w))
        if subject is not None:
            delta[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = subject
        frames.append(delta)
    return frames


def graded_stats(frames, divergence, convergence):
    w = frames[0].shape[1]
    return [parallax_stats(divergence / 100 * w * (convergence - d)) for d in frames]


@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (0.3, 0.6), (0.05, 0.95)])
def test_suggestion_fits_ninety_percent_of_every_budget(screen, lo, hi):
    budget = budget_for(screen)
    frames = shot_frames(lo, hi)
    s = suggest_grade(shot_depth([delta_stats(d) for d in frames]), budget)
    a, b = budget.aim(0.9)
    stats = graded_stats(frames, s.divergence, s.convergence)
    assert min(x.p01 for x in stats) == pytest.approx(a, abs=1e-9)
    assert max(x.p99 for x in stats) == pytest.approx(b, abs=1e-9)
    assert s.budget_used(budget) == pytest.approx(0.9)
    assert check_shot(stats, 0, budget, 24).passes


def test_divergence_is_capped_and_the_range_centred_in_the_aim():
    budget = budget_for("desktop")
    frames = shot_frames(0.45, 0.55)
    s = suggest_grade(shot_depth([delta_stats(d) for d in frames]), budget)
    a, b = budget.aim(0.9)
    assert s.divergence == MAX_DIVERGENCE and not s.flat
    assert a < s.p_low < s.p_high < b
    assert (s.p_low + s.p_high) / 2 == pytest.approx((a + b) / 2)


def test_suggestion_keeps_relative_depth_and_places_the_screen_plane():
    frames = shot_frames(0.0, 1.0)
    s = suggest_grade(shot_depth([delta_stats(d) for d in frames]), budget_for("tv65"))
    lo, hi = 0.01, 0.99  # about the shot's q01 / q99
    assert s.divergence == pytest.approx(2.7 / (hi - lo), rel=0.02)
    assert s.convergence == pytest.approx(lo + 0.9 / s.divergence, abs=0.01)  # p(lo) = -0.9 %
    # relative depth: parallax stays an increasing affine function of δ (same order, same ratios)
    d = frames[0]
    p = s.divergence * (d - s.convergence)
    assert np.corrcoef(p.ravel(), d.ravel())[0, 1] == pytest.approx(1.0)


def test_window_suggestion_follows_the_new_grade():
    frames = shot_frames(0.7, 1.0)  # far background (behind the screen at the borders) ...
    for d in frames:
        d[:, 80:120] = 0.0  # ... a near object in the middle ...
        d[:, :2] = 0.2  # ... and a nearer-than-the-screen one touching the left border (strip = 2 px)
    s = suggest_grade(shot_depth([delta_stats(d) for d in frames]), budget_for("tv65"))
    stats = graded_stats(frames, s.divergence, s.convergence)
    assert s.window_left == pytest.approx(max(x.window_left for x in stats))
    assert s.window_left == pytest.approx(s.divergence * (s.convergence - 0.2)) and s.window_right == 0.0


def test_flat_shot_is_not_amplified():
    frames = [np.full((20, 100), 0.5) + 1e-4 * np.random.default_rng(0).random((20, 100))]
    s = suggest_grade(shot_depth([delta_stats(d) for d in frames]), budget_for("tv65"))
    assert s.flat and s.divergence == pytest.approx(3.0) and s.convergence == pytest.approx(0.5, abs=1e-3)
    assert abs(s.p_low) < 0.01 and abs(s.p_high) < 0.01


def test_smoothing_reduces_depth_jumps_and_keeps_the_budget():
    budget = budget_for("tv65")
    shots = [shot_frames(0.0, 1.0, subject=0.1, seed=1), shot_frames(0.0, 1.0, subject=0.8, seed=2),
             shot_frames(0.2, 1.0, subject=0.25, seed=3)]
    depths = [shot_depth([delta_stats(d) for d in f]) for f in shots]

    def jumps(suggestions):
        graded = [graded_stats(f, s.divergence, s.convergence) for f, s in zip(shots, suggestions, strict=True)]
        starts = [0, 6, 12]
        for st in graded:
            assert check_shot(st, 0, budget, 24).passes
        return [abs(j.jump) for j in depth_jumps(list(zip(starts, graded, strict=True)))], graded

    plain, _ = jumps([suggest_grade(d, budget) for d in depths])
    smooth_s = smooth_convergence(depths, budget)
    smooth, graded = jumps(smooth_s)
    # the slack (85 % -> 90 % of a 3 % budget) bounds how far c may move: 0.15 % of width per shot
    for before, after in zip(plain, smooth, strict=True):
        assert after < before - 0.1
    a, b = budget.aim(0.9)
    for s, st in zip(smooth_s, graded, strict=True):
        assert a - 1e-9 <= min(x.p01 for x in st) and max(x.p99 for x in st) <= b + 1e-9
        assert s.budget_used(budget) >= 0.8
