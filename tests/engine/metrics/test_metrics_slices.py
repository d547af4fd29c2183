"""engine.metrics.slices: x–t slices stack one row per frame; side_by_side joins them."""

from __future__ import annotations

import numpy as np
import pytest

from engine.metrics.slices import XtSlice, side_by_side, xt_slice


def moving_bar(t: int, width: int = 40, height: int = 12) -> np.ndarray:
    """A white 2-px vertical bar at x = 5 + 3t on black."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, 5 + 3 * t : 7 + 3 * t] = 255
    return frame


def test_slice_stacks_the_chosen_row_of_each_frame():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (10, 16, 3), dtype=np.uint8) for _ in range(5)]
    out = xt_slice(iter(frames), row=7)
    assert out.shape == (5, 16, 3) and out.dtype == np.uint8
    for t, frame in enumerate(frames):
        np.testing.assert_array_equal(out[t], frame[7])


def test_a_moving_edge_draws_a_slanted_line():
    out = xt_slice((moving_bar(t) for t in range(8)), row=6)
    starts = [int(np.flatnonzero(out[t, :, 0])[0]) for t in range(8)]
    assert starts == [5 + 3 * t for t in range(8)]


def test_slice_rejects_bad_rows_and_mixed_frames():
    with pytest.raises(ValueError, match="outside"):
        xt_slice([moving_bar(0)], row=12)
    with pytest.raises(ValueError, match=">= 0"):
        XtSlice(-1)
    acc = XtSlice(0)
    acc.add(moving_bar(0))
    with pytest.raises(ValueError, match="differ"):
        acc.add(moving_bar(0, width=30))
    with pytest.raises(ValueError, match="no frames"):
        XtSlice(0).image()


def test_side_by_side_puts_grey_gaps_between():
    a = np.zeros((4, 3, 3), np.uint8)
    b = np.full((4, 5, 3), 255, np.uint8)
    out = side_by_side([a, b, a], gap=2)
    assert out.shape == (4, 3 + 2 + 5 + 2 + 3, 3)
    assert (out[:, 3:5] == 127).all() and (out[:, 5:10] == 255).all() and (out[:, -3:] == 0).all()
    floats = side_by_side([a.astype(np.float32), b.astype(np.float32) / 255], gap=1)
    assert floats[0, 3, 0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="differ"):
        side_by_side([a, np.zeros((5, 3, 3), np.uint8)])
