"""CPU kernels (numba) for the frame <-> tensor conversions of the render (engine.jobs.frame).

A decoded frame is (H, W, 3) uint8 / uint16 and the ops take (1, 3, H, W) float32 in [0, 1]; the
torch path (a strided permute, a cast and a division, and back: clamp, multiply, round, cast) makes
several full-frame passes through memory. These kernels do each conversion in one parallel pass and
compute exactly what the torch path computes, element by element in float32:

* to float: ``float32(v) / float32(scale)`` (a true IEEE division, as ``Tensor.div_``);
* to integers: ``rint(min(max(v, 0), 1) * float32(scale))`` (round half to even, as ``Tensor.round_``),
  so the two paths give bit-identical frames (tests/engine/ops/test_image_numba.py holds them equal).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, fastmath=False)
def hwc_to_chw(image, scale, out):
    """(H, W, C) uint8 / uint16 -> (C, H, W) float32 ``value / scale``, written into `out`.

    Args:
        image: (H, W, C) uint8 or uint16, C-contiguous.
        scale: full scale (255 or 65535), as float32.
        out: (C, H, W) float32, C-contiguous.
    """
    h, w, c = image.shape
    s = np.float32(scale)
    for y in prange(h):
        for x in range(w):
            for k in range(c):
                out[k, y, x] = np.float32(image[y, x, k]) / s


@njit(parallel=True, cache=True, fastmath=False)
def chw_to_hwc(planes, scale, out):
    """(C, H, W) float32 -> (H, W, C) integers ``rint(clamp(value, 0, 1) * scale)``, written into `out`.

    Args:
        planes: (C, H, W) float32, C-contiguous (NaN gives 0).
        scale: full scale of `out`'s dtype (255 for uint8, 65535 for uint16), as float32.
        out: (H, W, C) uint8 or uint16 (may be a view into a padded frame).
    """
    c, h, w = planes.shape
    s = np.float32(scale)
    zero, one = np.float32(0.0), np.float32(1.0)
    for y in prange(h):
        for x in range(w):
            for k in range(c):
                v = planes[k, y, x]
                if not v > zero:  # also NaN
                    v = zero
                elif v > one:
                    v = one
                out[y, x, k] = np.rint(v * s)


@njit(parallel=True, cache=True, fastmath=False)
def halved_pair_to_hwc(first, second, across, scale, out):
    """The half-SBS (`across`) or half-TB frame of two eyes, straight to (H', W', C) integers.

    Each output pixel is ``rint(clamp((a + b) * 0.5, 0, 1) * scale)`` with a, b the eye's two pixels
    side by side (`across`) or one above the other: the float32 operations of engine.ops.pack's
    ``_halve_pair`` followed by :func:`chw_to_hwc`, without the packed float frame in between.

    Args:
        first, second: (C, H, W) float32 eyes, C-contiguous; W even (`across`) or H even.
        across: bool, True = side by side (first eye on the left), False = top / bottom (first on top).
        scale: full scale of `out`'s dtype, as float32.
        out: (H, W, C) uint8 / uint16, the packed frame (or its part of a padded one); each eye fills half.
    """
    c, h, w = first.shape
    s = np.float32(scale)
    rows = h if across else h // 2
    cols = w // 2 if across else w
    for y in prange(rows):
        for e in range(2):
            eye = first if e == 0 else second
            for k in range(c):
                if across:
                    row = eye[k, y]
                    _halve_row(row[0::2], row[1::2], s, out[y, e * cols:(e + 1) * cols, k])
                else:
                    _halve_row(eye[k, 2 * y], eye[k, 2 * y + 1], s, out[e * rows + y, :, k])


@njit(cache=True, inline="always")
def _halve_row(a, b, s, dst):
    """dst[x] = rint(clamp((a[x] + b[x]) * 0.5, 0, 1) * s) (NaN gives 0): one output row of a half layout."""
    half, zero, one = np.float32(0.5), np.float32(0.0), np.float32(1.0)
    for x in range(dst.size):
        v = (a[x] + b[x]) * half
        if not v > zero:
            v = zero
        elif v > one:
            v = one
        dst[x] = np.rint(v * s)
