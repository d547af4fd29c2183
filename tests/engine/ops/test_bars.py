"""Letterbox detection: the tabulated dark test is the float test, and sampling stops once decided."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ops.bars import Bars, dark_limit, detect_bars


def _float_dark(values: np.ndarray, threshold: float) -> np.ndarray:
    """The per-pixel test the table replaces: value / full scale <= threshold, in float32."""
    scale = 65535.0 if values.dtype == np.uint16 else 255.0
    return values.astype(np.float32) / scale <= threshold


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("threshold", [0.0, 0.07, 0.1, 0.5, 1.0, -0.1])
def test_dark_limit_is_the_float_test_on_every_value(dtype, threshold):
    values = np.arange(np.iinfo(dtype).max + 1).astype(dtype)
    np.testing.assert_array_equal(values.astype(np.int64) <= dark_limit(dtype, threshold),
                                  _float_dark(values, threshold))


def _framed(rng, h, w, top, bottom, left, right, dtype=np.uint8):
    top_value = np.iinfo(dtype).max
    frame = rng.integers(top_value // 4, top_value, (h, w, 3)).astype(dtype)
    dark = int(0.05 * top_value)
    frame[:top], frame[h - bottom:] = dark, dark
    frame[:, :left], frame[:, w - right:] = dark, dark
    return frame


def test_bars_found_across_frames_and_dtypes():
    rng = np.random.default_rng(1)
    frames = [_framed(rng, 60, 80, 6, 5, 0, 0) for _ in range(3)]
    assert detect_bars(frames) == Bars(6, 5, 0, 0, (80, 60))
    frames[1][7] = 0  # another dark row on one frame only does not widen the bar
    assert detect_bars(frames) == Bars(6, 5, 0, 0, (80, 60))
    deep = [_framed(rng, 40, 90, 0, 0, 9, 9, np.uint16) for _ in range(2)]
    assert detect_bars(deep) == Bars(0, 0, 9, 9, (90, 40))


def test_sampling_stops_once_no_edge_can_hold_a_bar():
    rng = np.random.default_rng(2)
    read = []

    def frames():
        for k in range(9):
            read.append(k)
            yield _framed(rng, 30, 40, 4, 0, 0, 0) if k == 0 else _framed(rng, 30, 40, 1, 0, 0, 0)

    assert detect_bars(frames()) is None
    assert read == [0, 1]  # frame 1 leaves no run of min_bar at any edge: frames 2.. are never made


def test_undecided_frames_are_all_read_and_fades_are_not_bars():
    rng = np.random.default_rng(4)
    read = []

    def frames():
        for k in range(5):
            read.append(k)
            yield _framed(rng, 30, 40, 3, 3, 0, 0)

    assert detect_bars(frames()) == Bars(3, 3, 0, 0, (40, 30))
    assert read == list(range(5))
    assert detect_bars(iter([])) is None
    assert detect_bars([np.zeros((20, 30, 3), np.uint8)] * 3) is None
