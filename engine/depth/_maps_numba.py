"""CPU kernels (numba) for the full-resolution passes over raw depth maps: one pass each instead of numpy's
several (a copy, a finiteness mask, a masked write; a multiply, an add, a negation).

Each kernel does, element by element, the float32 operations of the numpy expression it replaces
(engine.depth.normalise.to_inverse_like, engine.depth.stabilise's affine map back to raw depth,
ShotNormaliser.apply), so results are bit-identical (tests/engine/depth/test_maps_numba.py).
Arrays are 1-D float32 (callers pass ravelled C-contiguous views).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, fastmath=False)
def inverse_like(raw, negate, out):
    """out = -raw (`negate`, kind "relative") or raw (kind "inverse"); non-finite values become NaN.

    Args:
        raw, out: (N,) float32 (`out` may be `raw`).
        negate: bool.
    """
    for i in prange(raw.size):
        v = raw[i]
        if not np.isfinite(v):
            out[i] = np.nan
        elif negate:
            out[i] = -v
        else:
            out[i] = v


@njit(parallel=True, cache=True, fastmath=False)
def affine(x, a, b, negate, out):
    """out = x * a + b (float32, no fused multiply-add), negated when `negate` (back to "relative" depth).

    Args:
        x, out: (N,) float32. a, b: float32 coefficients.
        negate: bool.
    """
    for i in prange(x.size):
        v = x[i] * a + b
        out[i] = -v if negate else v


@njit(parallel=True, cache=True, fastmath=False)
def normalised(x, hi, span, out):
    """out = clip((hi - x) / span, 0, 1) in float32; NaN stays NaN (numpy's clip).

    Args:
        x, out: (N,) float32 inverse-like values (`out` may be `x`). hi, span: float32.
    """
    zero, one = np.float32(0.0), np.float32(1.0)
    for i in prange(x.size):
        v = (hi - x[i]) / span
        if v < zero:
            v = zero
        elif v > one:
            v = one
        out[i] = v
