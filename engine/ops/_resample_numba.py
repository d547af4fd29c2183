"""CPU kernel (numba) of :func:`engine.ops.resample.sharpen_resample`; the torch path there is the reference.

float32 C-contiguous arrays only, parallel over rows, the same float32 operation order as the torch
path (weights from the same table), so both agree bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, fastmath=False)
def resample_rows(image, disp, target_disp, holes, scale, tolerance, table, out):
    """Re-sample covered pixels: the kernel where its taps lie on the pixel's surface, else linear at s.

    Args:
        image: (B, C, H, W) float32 source view.
        disp: (B, H, W) float32 source disparity (non-finite = unknown).
        target_disp: (B, H, W) float32 target-view disparity (NaN in holes).
        holes: (B, H, W) bool.
        scale: float, splat scale; source position s = j + scale * d_t(j).
        tolerance: float, largest |d(tap) - d_t(j)| on one surface.
        table: (PHASES + 1, taps) float32 kernel weights.
        out: (B, C, H, W) float32, holding the splat's view; pixels that pass are overwritten.
    """
    n_b, n_c, n_h, n_w = image.shape
    n_taps = table.shape[1]
    phases = table.shape[0] - 1
    half = n_taps // 2
    sf = np.float32(scale)
    tol = np.float32(tolerance)
    fph = np.float32(phases)
    for row in prange(n_b * n_h):
        b = row // n_h
        y = row % n_h
        for j in range(n_w):
            if holes[b, y, j]:
                continue
            dt = target_disp[b, y, j]
            s = np.float32(j) + dt * sf
            if not np.isfinite(s):
                continue
            x0f = np.float32(np.floor(s))
            x0 = int(x0f)
            if x0 < 0 or x0 + 1 >= n_w:
                continue
            first = x0 - (half - 1)
            ok = first >= 0 and first + n_taps - 1 < n_w
            if ok:
                for k in range(n_taps):
                    dk = disp[b, y, first + k]
                    if not (np.isfinite(dk) and abs(dk - dt) <= tol):
                        ok = False
                        break
            if not ok:  # beside a depth edge: linear between the two source pixels around s
                f = s - x0f
                for c in range(n_c):
                    irow = image[b, c, y]
                    out[b, c, y, j] = (np.float32(1.0) - f) * irow[x0] + f * irow[x0 + 1]
                continue
            phase = int(np.floor((s - x0f) * fph + np.float32(0.5)))
            phase = min(max(phase, 0), phases)
            for c in range(n_c):
                irow = image[b, c, y]
                acc = np.float32(0.0)
                lo = np.float32(np.inf)
                hi = np.float32(-np.inf)
                for k in range(n_taps):
                    v = irow[first + k]
                    acc = acc + table[phase, k] * v
                    lo = min(lo, v)
                    hi = max(hi, v)
                out[b, c, y, j] = min(max(acc, lo), hi)
