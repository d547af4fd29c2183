"""The one-pass depth-map kernels give exactly the numpy expressions they replace."""

import numpy as np
import pytest

from engine.depth.normalise import ShotNormaliser, to_inverse_like
from engine.depth.stabilise import Affine, from_inverse_like, mapped_back


def _raw(shape=(37, 53)):
    rng = np.random.default_rng(21)
    raw = (rng.standard_normal(shape) * 30).astype(np.float32)
    raw.flat[::17] = np.nan
    raw.flat[5::29] = np.inf
    raw.flat[7::31] = -np.inf
    raw.flat[3::41] = -0.0
    return raw


def _numpy_inverse_like(raw, kind):
    out = -raw if kind == "relative" else raw.copy()
    out[~np.isfinite(out)] = np.nan
    return out


@pytest.mark.parametrize("kind", ["relative", "inverse"])
def test_inverse_like_is_the_numpy_result(kind):
    raw = _raw()
    for view in (raw, raw.T, raw[::2, 1::3]):
        got, want = to_inverse_like(view, kind), _numpy_inverse_like(view, kind)
        assert got.dtype == np.float32 and got.shape == view.shape
        np.testing.assert_array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("kind", ["relative", "inverse"])
def test_mapped_back_is_affine_then_from_inverse_like(kind):
    x = _numpy_inverse_like(_raw(), "inverse")
    for affine in (Affine(1.0, 0.0), Affine(0.73, -4.1), Affine(3.3e-3, 1e4)):
        np.testing.assert_array_equal(mapped_back(x, affine, kind), from_inverse_like(affine(x), kind))
    np.testing.assert_array_equal(mapped_back(x.T, Affine(2.0, 1.0), kind),
                                  from_inverse_like(Affine(2.0, 1.0)(x.T), kind))


@pytest.mark.parametrize("kind", ["relative", "inverse", "metric"])
def test_normaliser_apply_is_the_clipped_ramp(kind):
    raw = _raw()
    norm = ShotNormaliser.from_range(kind, -20.0, 25.0)
    v = to_inverse_like(raw, kind)
    want = np.clip((np.float32(25.0) - v) / np.float32(45.0), 0.0, 1.0)
    for view, expect in ((raw, want), (raw.T, want.T)):
        got = norm.apply(view)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expect)
