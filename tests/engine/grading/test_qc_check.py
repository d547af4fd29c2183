"""Budget verdicts per frame and per shot: excursions, divergence, windows, depth jumps."""

import math

import pytest

from engine.grading.qc import ParallaxStats
from engine.grading.qc_check import (
    FRAME_DIVERGES,
    FRAME_EXCURSION,
    FRAME_OK,
    FRAME_OVER,
    FRAME_UNMEASURED,
    check_shot,
    depth_jumps,
    frame_states,
)
from engine.grading.qc_screens import budget_for


def frame(p01, p99, salient=0.0, left=-1.0, right=-1.0):
    return ParallaxStats(p01, p99, p01 - 0.1, p99 + 0.1, salient, left, right, 1.0)


TV = budget_for("tv65")


def test_frame_verdicts():
    stats = [frame(-0.5, 1.5), frame(-2.0, 1.0), frame(-3.0, 1.0), frame(-0.5, 4.6), frame(math.nan, math.nan)]
    assert frame_states(stats, TV, 24) == [FRAME_OK, FRAME_EXCURSION, FRAME_OVER, FRAME_DIVERGES, FRAME_UNMEASURED]


def test_excursion_longer_than_one_second_is_over():
    brief = [frame(0, 1)] + [frame(-2.0, 1.0)] * 24 + [frame(0, 1)]
    long = [frame(0, 1)] + [frame(-2.0, 1.0)] * 25 + [frame(0, 1)]
    assert frame_states(brief, TV, 24).count(FRAME_EXCURSION) == 24
    assert frame_states(long, TV, 24).count(FRAME_OVER) == 25


def test_custom_budget_has_no_excursion_band():
    b = budget_for("tv65", (-1.0, 2.0))
    assert frame_states([frame(-2.0, 1.0)], b, 24) == [FRAME_OVER]


def test_cinema_divergence_is_always_an_error():
    cinema = budget_for("cinema")
    assert frame_states([frame(-1.0, 0.7)], cinema, 24) == [FRAME_DIVERGES]


def test_shot_summary_extremes_worst_frame_and_windows():
    stats = [frame(-0.5, 1.5), frame(-0.9, 2.5, left=0.3), frame(-0.2, 1.0, right=0.01)]
    shot = check_shot(stats, start=100, budget=TV, fps=24)
    assert (shot.start, shot.end) == (100, 103)
    assert shot.p01 == -0.9 and shot.p99 == 2.5
    assert shot.p_min == pytest.approx(-1.0) and shot.p_max == pytest.approx(2.6)
    assert shot.frames_excursion == 1 and shot.frames_over == 0 and shot.passes
    assert shot.worst_frame == 101
    assert shot.window_left == 0.3 and shot.window_right == 0.0  # 0.01 % is below the noise floor
    assert shot.window_violation


def test_shot_that_breaks_the_budget_fails():
    shot = check_shot([frame(-0.5, 1.5)] * 3 + [frame(-3.0, 1.0)], 0, TV, 24)
    assert not shot.passes and shot.frames_over == 1 and shot.worst_frame == 3


def test_depth_jumps_use_the_frames_next_to_the_cut():
    a = [frame(0, 1, salient=5.0)] * 10 + [frame(0, 1, salient=1.0)] * 5
    b = [frame(0, 1, salient=-0.5)] * 5 + [frame(0, 1, salient=9.0)] * 10
    c = [frame(0, 1, salient=0.0)] * 3
    jumps = depth_jumps([(0, a), (15, b), (40, c)])  # b ends at 30: no cut between b and c
    assert len(jumps) == 1
    assert jumps[0].cut == 15 and jumps[0].before == 1.0 and jumps[0].after == -0.5
    assert jumps[0].jump == pytest.approx(-1.5)
