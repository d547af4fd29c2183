"""studio.viewer.modes.delta_range: the finite range of δ (the splat's search range), NaN and ±inf skipped."""

from __future__ import annotations

import numpy as np

from studio.viewer.modes import delta_range


def test_delta_range_is_the_finite_min_and_max_whatever_else_the_map_holds() -> None:
    rng = np.random.default_rng(0)
    delta = rng.random((36, 64)).astype(np.float32) * 0.8 + 0.1
    lo, hi = float(delta.min()), float(delta.max())
    assert delta_range(delta) == (lo, hi)
    holed = delta.copy()
    holed[3, 4], holed[7, 9] = np.nan, np.nan  # unknown depth
    assert delta_range(holed) == (lo, hi)
    inf = holed.copy()
    inf[0, 0], inf[1, 1] = np.inf, -np.inf  # never part of the range
    assert delta_range(inf) == (lo, hi)
    assert delta_range(np.full((4, 4), np.nan, np.float32)) == (0.0, 1.0)
    assert delta_range(np.zeros((0, 4), np.float32)) == (0.0, 1.0)
