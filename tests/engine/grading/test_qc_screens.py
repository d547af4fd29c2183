"""Screen presets and budgets: CONVENTIONS.md numbers, geometry round trips, refusals."""

import math

import pytest

from engine.errors import UsageError
from engine.grading.qc_screens import SCREENS, Budget, budget_for, screen_preset


def test_presets_match_the_conventions():
    tv = budget_for("tv65")
    assert (tv.low, tv.high, tv.excursion) == (-1.0, 2.0, (-2.5, 4.0))
    cinema = budget_for("cinema")
    assert cinema.low == -2.0 and cinema.high == pytest.approx(0.65)
    desktop = budget_for("desktop")
    assert (desktop.low, desktop.high) == (-1.5, 3.0)
    headset = budget_for("headset")  # ±1° of vergence at 2.5 m on a 3 m screen
    assert headset.low == pytest.approx(-1.455, abs=2e-3)
    assert headset.high == pytest.approx(1.455, abs=2e-3)


def test_divergence_limit_is_one_ipd_on_the_screen():
    assert screen_preset("tv65").divergence_limit_pct() == pytest.approx(6.5 / 1.44)
    assert screen_preset("cinema").divergence_limit_pct() == pytest.approx(0.65)
    assert screen_preset("tv65").pct_to_mm(1.0) == pytest.approx(14.4)


@pytest.mark.parametrize("name", list(SCREENS))
def test_vergence_round_trip_and_sign(name):
    screen = screen_preset(name)
    assert screen.vergence_deg(0.0) == pytest.approx(0.0, abs=1e-12)
    assert screen.vergence_deg(-1.0) > 0 > screen.vergence_deg(0.3)  # in front: the eyes converge more
    screen_angle = math.degrees(2 * math.atan(0.065 / (2 * screen.distance_m)))
    for deg in (-0.9 * screen_angle, -0.5 * screen_angle, 0.25, 1.0, 2.0):
        assert screen.vergence_deg(screen.degrees_to_pct(deg)) == pytest.approx(deg, abs=1e-9)


def test_vergence_at_the_divergence_limit_is_the_screen_angle():
    screen = screen_preset("tv65")
    full = math.degrees(2 * math.atan(0.065 / (2 * 2.5)))
    assert screen.vergence_deg(screen.divergence_limit_pct()) == pytest.approx(-full)


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(UsageError) as err:
        budget_for("imax")
    assert "'imax'" in str(err.value) and "tv65, cinema, desktop, headset" in str(err.value)


@pytest.mark.parametrize("limits", [(2.0, 1.0), (1.0, 1.0)])
def test_budget_min_not_below_max_is_refused(limits):
    with pytest.raises(UsageError, match="must be below"):
        budget_for("tv65", limits)


def test_custom_budget_keeps_the_screen_geometry_and_aim():
    b = budget_for("desktop", (-0.5, 1.5))
    assert b.screen.name == "desktop" and b.excursion is None
    assert b.aim(0.9) == pytest.approx((-0.45, 1.35))
    behind = Budget(0.5, 1.5, b.screen)  # screen plane outside the band: shrink about its centre
    assert behind.aim(0.9) == pytest.approx((0.55, 1.45))


def test_the_light_vocabulary_lists_every_preset():
    from engine.vocabulary import SCREEN_NAMES

    assert tuple(SCREENS) == SCREEN_NAMES


def test_the_default_grade_on_a_full_depth_range_is_inside_the_tv65_budget():
    """Regression: D = 3, c = 1/3 spans exactly −1 … +2 % (tv65's budget); float rounding must not break it."""
    import numpy as np

    from engine.document import StereoParams
    from engine.document.grade import DEFAULT_CONVERGENCE, DEFAULT_DIVERGENCE
    from engine.grading.qc import parallax_stats
    from engine.grading.qc_check import FRAME_OK, frame_states
    from engine.grading.render import graded_disparity
    from engine.jobs.frame import depth_to_tensor

    row = np.clip(np.linspace(-0.2, 1.2, 640, dtype=np.float32), 0.0, 1.0)  # 14 % of it at each end
    delta = np.tile(row, (360, 1))
    params = StereoParams(DEFAULT_DIVERGENCE, DEFAULT_CONVERGENCE)
    d = graded_disparity(depth_to_tensor(delta, "cpu"), params)[0, 0].numpy()
    stats = parallax_stats(d, 640)
    assert f"{stats.p01:+.2f} {stats.p99:+.2f}" == "-1.00 +2.00"
    budget = budget_for("tv65")
    assert budget.contains(stats.p01, stats.p99)
    assert frame_states([stats], budget, 24) == [FRAME_OK]


def test_budget_contains_allows_only_the_display_rounding():
    budget = budget_for("tv65")
    assert budget.contains(-1.0, 2.0) and budget.contains(-1.004, 2.004)
    assert not budget.contains(-1.01, 2.0) and not budget.contains(-1.0, 2.01)
