"""CPU kernels (numba) of :mod:`engine.ops.edges`; the torch paths there are the references.

float32 C-contiguous arrays only, parallel over rows, the torch paths' float32 operation order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from engine.ops._splat_numba import next_hole_run


@njit(parallel=True, cache=True, fastmath=False)
def grow_halo(holes, disp, width, step, grown, out_disp):
    """Mark `width` pixels beyond the background end of every hole run with two ends a step apart.

    Args:
        holes: (B, H, W) bool, the original holes (read only).
        disp: (B, H, W) float32 target disparity.
        width: int, pixels to add.
        step: float, smallest end-to-end disparity difference (source units) that is a depth edge.
        grown: (B, H, W) bool, a copy of `holes`; receives the added pixels.
        out_disp: (B, H, W) float32, a copy of `disp`; NaN at the added pixels.
    """
    n_b, n_h, n_w = holes.shape
    st = np.float32(step)
    for row in prange(n_b * n_h):
        b = row // n_h
        y = row % n_h
        x = 0
        while x < n_w:
            start, x = next_hole_run(holes, b, y, x, n_w)
            if start == n_w:
                break
            if start == 0 or x == n_w:
                continue
            d_l = disp[b, y, start - 1]
            d_r = disp[b, y, x]
            if d_l - d_r > st:  # background on the right
                k = x
                while k < n_w and k < x + width and not holes[b, y, k]:
                    grown[b, y, k] = True
                    out_disp[b, y, k] = np.nan
                    k += 1
            elif d_r - d_l > st:  # background on the left
                k = start - 1
                while k >= 0 and k > start - 1 - width and not holes[b, y, k]:
                    grown[b, y, k] = True
                    out_disp[b, y, k] = np.nan
                    k -= 1


@njit(parallel=True, cache=True, fastmath=False)
def soften_rows(image, disp, step, weight, out):
    """out = image + weight * (nearer neighbour - pixel) on the farther side of every step > `step`.

    Each row is copied, then only the pixels beside a step are recomputed (from the input row, in the
    order: the right neighbour's share, then the left one's), so the cost is a copy plus the edges.

    Args:
        image: (B, C, H, W) float32.
        disp: (B, H, W) float32 (NaN never forms a step).
        step: float, smallest disparity step (source units).
        weight: float, the foreground share.
        out: (B, C, H, W) float32 output.
    """
    n_b, n_c, n_h, n_w = image.shape
    st = np.float32(step)
    wt = np.float32(weight)
    for row in prange(n_b * n_h):
        b = row // n_h
        y = row % n_h
        drow = disp[b, y]
        for c in range(n_c):
            out[b, c, y, :] = image[b, c, y, :]
        for x in range(n_w - 1):
            jump = drow[x + 1] - drow[x]
            right = jump > st  # x is the farther side of the step to x + 1
            left = jump < -st  # x + 1 is the farther side of the step from x
            if not (right or left):
                continue
            for c in range(n_c):
                irow = image[b, c, y]
                if right:
                    o = irow[x]
                    o = o + wt * (irow[x + 1] - irow[x])
                    if x > 0 and drow[x] - drow[x - 1] < -st:
                        o = o + wt * (irow[x - 1] - irow[x])
                    out[b, c, y, x] = o
                if left and not (x + 2 < n_w and drow[x + 2] - drow[x + 1] > st):
                    o = irow[x + 1]
                    o = o + wt * (irow[x] - irow[x + 1])
                    out[b, c, y, x + 1] = o
