"""The viewer's build-cost model: preview sizes on a fixed ladder, and a budget that leaves room for the paint."""

import pytest

from studio.viewer.gl_viewer import (
    FRAME_BUDGET_MS,
    FRAME_MARGIN_MS,
    MIN_PREVIEW_BUDGET_MS,
    MIN_PREVIEW_SCALE,
    PREVIEW_BUDGET_MS,
    PREVIEW_SCALES,
    BuildCost,
)

FULL = (1280, 720)


def _ladder(size):
    return {BuildCost._scaled(size, s) for s in (*PREVIEW_SCALES, MIN_PREVIEW_SCALE)}


def _cost(full_ms: float, overhead_ms: float | None = None) -> BuildCost:
    cost = BuildCost()
    cost.measured(FULL, full_ms)
    if overhead_ms is not None:
        cost.painted(overhead_ms + 5.0, 5.0)
    return cost


def test_nothing_measured_starts_from_the_smallest_preview():
    assert BuildCost().preview_size(FULL) == BuildCost._scaled(FULL, MIN_PREVIEW_SCALE)
    assert BuildCost().budget() == PREVIEW_BUDGET_MS


def test_previews_are_steps_of_the_ladder_and_do_not_follow_every_measurement():
    """Builds that measure a few per cent apart (every build does) keep the same preview size, so its
    targets are reused and the picture does not change size between two steps of a drag."""
    sizes = {_cost(full_ms).preview_size(FULL) for full_ms in (36.0, 36.5, 37.0, 37.5, 38.0)}
    assert len(sizes) == 1 and sizes <= _ladder(FULL)
    for full_ms in (5.0, 20.0, 40.0, 80.0, 160.0, 10_000.0):
        assert _cost(full_ms).preview_size(FULL) in _ladder(FULL)


def test_the_preview_fits_the_budget_and_is_the_largest_step_that_does():
    cost = _cost(40.0, overhead_ms=6.0)
    budget = cost.budget()
    assert budget == pytest.approx(FRAME_BUDGET_MS - FRAME_MARGIN_MS - 6.0)  # a margin of the frame left free
    preview = cost.preview_size(FULL)
    assert cost.estimate(preview) <= budget
    larger = [s for s in _ladder(FULL) if s[0] > preview[0]]
    assert all(cost.estimate(s) > budget for s in larger)


def test_a_costly_paint_leaves_less_for_the_preview_down_to_a_floor():
    cheap, dear, hopeless = _cost(40.0, 0.5), _cost(40.0, 6.0), _cost(40.0, 30.0)
    assert cheap.budget() == PREVIEW_BUDGET_MS  # capped
    assert dear.budget() == pytest.approx(FRAME_BUDGET_MS - FRAME_MARGIN_MS - 6.0)
    assert hopeless.budget() == MIN_PREVIEW_BUDGET_MS
    assert cheap.preview_size(FULL)[0] > dear.preview_size(FULL)[0] > hopeless.preview_size(FULL)[0]


def test_playback_keeps_its_own_budget_whatever_the_paint_costs():
    cost = _cost(40.0, overhead_ms=14.0)
    assert cost.budget(playing=True) == PREVIEW_BUDGET_MS
    assert cost.preview_size(FULL, playing=True)[0] > cost.preview_size(FULL)[0]


def test_the_paint_overhead_is_a_running_average_of_paint_minus_build():
    cost = BuildCost()
    assert cost.overhead_ms is None
    cost.painted(20.0, 12.0)
    assert cost.overhead_ms == pytest.approx(8.0)
    cost.painted(4.0, 4.0)  # a paint that was all build
    assert 0.0 < cost.overhead_ms < 8.0
    cost.painted(3.0, 9.0)  # timer noise: never a negative overhead
    assert cost.overhead_ms >= 0.0


def test_paints_that_showed_a_fresh_preview_set_the_overhead_once_there_are_any():
    cost = BuildCost()
    cost.painted(7.0, 0.0)  # eyes already built: composition and swap alone
    assert cost.overhead_ms == pytest.approx(7.0)
    cost.painted(16.0, 6.0, preview=True)
    assert cost.overhead_ms == pytest.approx(10.0)
    cost.painted(6.0, 0.0)  # cheaper paints no longer lower the preview's budget
    assert cost.overhead_ms == pytest.approx(10.0)


def test_build_time_is_modelled_as_proportional_to_the_pixels():
    cost = _cost(40.0)
    assert cost.estimate((640, 360)) == pytest.approx(10.0)
    assert cost.estimate(FULL, rows=180) == pytest.approx(10.0)
