"""engine.depth.normalise: kinds to inverse-like, shot-wide robust range, bounded sample."""

from __future__ import annotations

import numpy as np
import pytest

from engine.depth.normalise import FLAT_DELTA, ShotNormaliser, to_inverse_like


def test_to_inverse_like_kinds():
    raw = np.array([[1.0, 2.0], [4.0, np.inf]], np.float32)
    np.testing.assert_array_equal(to_inverse_like(raw, "inverse")[0], [1.0, 2.0])
    np.testing.assert_array_equal(to_inverse_like(raw, "relative")[0], [-1.0, -2.0])
    metric = to_inverse_like(np.array([2.0, 4.0, 0.0, -1.0, np.nan], np.float32), "metric")
    np.testing.assert_allclose(metric[:2], [0.5, 0.25])
    assert np.isnan(metric[2:]).all()
    assert np.isnan(to_inverse_like(raw, "inverse")[1, 1])
    with pytest.raises(ValueError, match="never normalised"):
        to_inverse_like(raw, "disparity-px")
    with pytest.raises(ValueError, match="unknown depth kind"):
        to_inverse_like(raw, "z")


@pytest.mark.parametrize("kind", ["relative", "inverse", "metric"])
def test_nearest_is_zero_for_every_kind(kind):
    z = np.linspace(1.0, 10.0, 100, dtype=np.float32).reshape(10, 10)  # metric depth, top-left nearest
    raw = {"metric": z, "relative": z * 3.0 + 7.0, "inverse": 2.0 / z}[kind]
    norm = ShotNormaliser(kind, low_pct=0.0, high_pct=100.0)
    norm.update(raw)
    norm.finalize()
    delta = norm.apply(raw)
    assert delta.dtype == np.float32
    assert delta[0, 0] == pytest.approx(0.0, abs=1e-6) and delta[-1, -1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(delta.ravel()) >= -1e-6)  # monotone: farther is larger


def test_range_is_per_shot_not_per_frame():
    norm = ShotNormaliser("inverse")
    near = np.full((20, 20), 10.0, np.float32)
    far = np.full((20, 20), 1.0, np.float32)
    for frame in (near, far):
        norm.update(frame)
    lo, hi = norm.finalize()
    assert (lo, hi) == (pytest.approx(1.0), pytest.approx(10.0))
    assert norm.apply(near).max() == 0.0 and norm.apply(far).min() == 1.0  # neither frame is stretched


def test_robust_percentiles_ignore_outliers_and_nan():
    rng = np.random.default_rng(1)
    frame = rng.uniform(0.0, 1.0, (100, 100)).astype(np.float32)
    frame[0, :5] = 1e6
    frame[1, :5] = np.nan
    norm = ShotNormaliser("inverse")
    norm.update(frame)
    lo, hi = norm.finalize()
    assert 0.0 < lo < 0.05 and 0.95 < hi < 1.0
    delta = norm.apply(frame)
    assert np.isnan(delta[1, :5]).all() and (delta[0, :5] == 0.0).all()
    assert np.nanmin(delta) == 0.0 and np.nanmax(delta) == 1.0


def test_reservoir_is_bounded_and_unbiased():
    norm = ShotNormaliser("inverse", sample_per_frame=5000, capacity=8000)
    for i in range(40):  # frame i holds values around i: a uniform sample spans the whole shot
        norm.update(np.full((100, 100), float(i), np.float32) + np.random.default_rng(i).random((100, 100)))
    assert norm._reservoir.size == 8000 and norm._seen == 40 * 5000
    lo, hi = norm.finalize()
    assert lo == pytest.approx(0.02 * 40, abs=0.6) and hi == pytest.approx(0.98 * 40, abs=0.6)


def test_flat_and_empty_shots_go_to_the_screen_plane():
    norm = ShotNormaliser("inverse")
    norm.update(np.full((8, 8), 3.0, np.float32))
    norm.finalize()
    assert norm.flat and "flat" in norm.note
    frame = np.full((8, 8), 3.0, np.float32)
    frame[0, 0] = np.nan
    delta = norm.apply(frame)
    assert np.isnan(delta[0, 0]) and np.all(delta.ravel()[1:] == np.float32(FLAT_DELTA))

    empty = ShotNormaliser("metric")
    empty.update(np.zeros((4, 4), np.float32))  # metric 0 = unknown everywhere
    assert empty.finalize() == (0.0, 0.0) and empty.flat and "no valid depth" in empty.note


def test_from_range_matches_finalized():
    rng = np.random.default_rng(2)
    frame = rng.uniform(1.0, 5.0, (30, 40)).astype(np.float32)
    norm = ShotNormaliser("metric")
    norm.update(frame)
    lo, hi = norm.finalize()
    rebuilt = ShotNormaliser.from_range("metric", lo, hi)
    np.testing.assert_array_equal(rebuilt.apply(frame), norm.apply(frame))
    with pytest.raises(RuntimeError):
        ShotNormaliser("metric").apply(frame)
    with pytest.raises(ValueError):
        ShotNormaliser("disparity-px")
