"""CPU kernels (numba) for the row splat and the background-side hole fill.

These are the fast CPU path of :mod:`engine.ops.splat` and :mod:`engine.ops.fill`;
the torch functions there are the reference, and tests hold both equal. Every
kernel takes float32 C-contiguous arrays only (one compiled signature each), is
parallel over image rows, and computes in float32 with the same operation order
as the torch path so that the two agree bit for bit on hole masks and values.

Row geometry (shared with the torch path; see :func:`engine.ops.splat.splat_with_disparity`):
source pixel x lands at t(x) = x - scale * d(x). Neighbours x, x+1 with finite
disparity form a segment when 0 < t(x+1) - t(x) <= max_len; it covers the target
pixels j in [t(x), t(x+1)) with linear interpolation. A pixel at the end of a run
of segments also covers half a pixel beyond itself: [t - 0.5, t) on its left,
[t, t + 0.5) on its right. Among the candidates for one target pixel the larger
disparity wins; equal disparities go to the later candidate in source order.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange


def use_numba(device: torch.device, backend: str) -> bool:
    """Whether to run the numba kernels for tensors on `device`.

    Args:
        device: device of the input tensors.
        backend: "auto" (numba on CPU, torch elsewhere), "numba" or "torch".
    Returns:
        True for the numba path.
    """
    if backend not in ("auto", "numba", "torch"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'torch', got {backend!r}")
    if backend == "numba" and device.type != "cpu":
        raise ValueError(f"the numba backend runs on CPU tensors only, got a tensor on {device}")
    return backend == "numba" or (backend == "auto" and device.type == "cpu")


def as_f32_array(tensor: torch.Tensor) -> np.ndarray:
    """Zero-copy float32 C-contiguous numpy view of a CPU tensor (copies only when it must)."""
    return tensor.detach().to(torch.float32).contiguous().numpy()


@njit(cache=True, inline="always")
def _ceil_i(v):
    """Exact ceil of a float32 with |v| < 2**31, as an int (no libm call)."""
    i = int(v)
    return i + 1 if i < v else i


@njit(parallel=True, cache=True, fastmath=False)
def splat_rows(image, disp, scale, max_len, n_seg, out, holes, out_disp):
    """Z-buffered row-mesh splat.

    Pass 1 rasterises every row's candidates into a per-row z-buffer holding the
    winner's source x and interpolation weight (-1 for a cap); pass 2 writes the
    colours once per target pixel.

    Args:
        image: (B, C, H, W) float32 source.
        disp: (B, H, W) float32 source disparity in px (non-finite = does not splat).
        scale: float, target x = x - scale * d.
        max_len: float, longest segment (in target px) still treated as one surface.
        n_seg: int, most target pixels one segment may cover (ceil(max_len)).
        out: (B, C, H, W) float32; receives the warped image (0 in holes).
        holes: (B, H, W) bool; receives True where nothing landed.
        out_disp: (B, H, W) float32; receives the winner's disparity (NaN in holes).
    """
    n_b, n_c, n_h, n_w = image.shape
    sf = np.float32(scale)
    ml = np.float32(max_len)
    half = np.float32(0.5)
    one = np.float32(1.0)
    lo = -ml - one  # a pixel landing left of this or right of n_w + 1 can cover nothing
    hi = np.float32(n_w + 1)
    for row in prange(n_b * n_h):
        b = row // n_h
        y = row % n_h
        drow = disp[b, y]
        t = np.empty(n_w + 1, np.float32)
        fin = np.empty(n_w + 1, np.bool_)
        best = np.empty(n_w, np.float32)
        src = np.full(n_w, -1, np.int64)
        weight = np.empty(n_w, np.float32)
        for x in range(n_w):
            fin[x] = np.isfinite(drow[x])
            t[x] = np.float32(x) - drow[x] * sf
        fin[n_w] = False
        prev_seg = False
        for x in range(n_w):
            if not fin[x]:
                prev_seg = False
                continue
            tx = t[x]
            dx = drow[x]
            seg_len = t[x + 1] - tx
            seg = fin[x + 1] and seg_len > 0 and seg_len <= ml
            if tx < lo or tx > hi:
                prev_seg = seg
                continue
            if not prev_seg:  # left cap [t - 0.5, t)
                j = _ceil_i(tx - half)
                if j < tx and j >= 0 and j < n_w and (src[j] < 0 or dx >= best[j]):
                    best[j] = dx
                    src[j] = x
                    weight[j] = -one
            if seg:  # segment [t(x), t(x+1))
                t1 = t[x + 1]
                d1 = drow[x + 1]
                j0 = _ceil_i(tx)
                for k in range(n_seg):
                    j = j0 + k
                    jf = np.float32(j)
                    if jf >= t1:
                        break
                    if j >= 0 and j < n_w:
                        a = (jf - tx) / seg_len
                        dj = (one - a) * dx + a * d1
                        if src[j] < 0 or dj >= best[j]:
                            best[j] = dj
                            src[j] = x
                            weight[j] = a
            else:  # right cap [t, t + 0.5)
                j = _ceil_i(tx)
                if j < tx + half and j >= 0 and j < n_w and (src[j] < 0 or dx >= best[j]):
                    best[j] = dx
                    src[j] = x
                    weight[j] = -one
            prev_seg = seg
        for c in range(n_c):
            irow = image[b, c, y]
            orow = out[b, c, y]
            for j in range(n_w):
                x = src[j]
                if x < 0:
                    orow[j] = 0
                elif weight[j] < 0:
                    orow[j] = irow[x]
                else:
                    a = weight[j]
                    orow[j] = (one - a) * irow[x] + a * irow[x + 1]
        for j in range(n_w):
            holes[b, y, j] = src[j] < 0
            out_disp[b, y, j] = best[j] if src[j] >= 0 else np.nan


@njit(cache=True, inline="always")
def next_hole_run(holes, b, y, x, n_w):
    """(start, stop) of the first run of True in holes[b, y, x:]; start == n_w when there is none."""
    while x < n_w and not holes[b, y, x]:
        x += 1
    start = x
    while x < n_w and holes[b, y, x]:
        x += 1
    return start, x


@njit(parallel=True, cache=True, fastmath=False)
def fill_rows(image, holes, disp, prefer_right, out):
    """Fill each hole run with the colour of its background-side neighbour.

    The background side is the neighbour with the smaller disparity; on a tie (or
    unknown disparity) `prefer_right` decides; a run touching one image edge takes
    its only neighbour; a run spanning the whole row is left untouched (for inpainting).

    Args:
        image: (B, C, H, W) float32.
        holes: (B, H, W) bool, True = to fill.
        disp: (B, H, W) float32 disparity of the target view.
        prefer_right: bool, side to take on a disparity tie.
        out: (B, C, H, W) float32, a copy of `image` or `image` itself; hole pixels are overwritten.
    Returns:
        The number of rows left unfilled (all hole).
    """
    n_b, n_c, n_h, n_w = image.shape
    n_left = 0
    for row in prange(n_b * n_h):
        b = row // n_h
        y = row % n_h
        x = 0
        while x < n_w:
            start, x = next_hole_run(holes, b, y, x, n_w)
            if start == n_w:
                break
            src = -1
            if start > 0 and x < n_w:
                d_left = disp[b, y, start - 1]
                d_right = disp[b, y, x]
                if d_left < d_right:
                    src = start - 1
                elif d_right < d_left:
                    src = x
                else:
                    src = x if prefer_right else start - 1
            elif start > 0:
                src = start - 1
            elif x < n_w:
                src = x
            if src < 0:
                n_left += 1
                continue
            for c in range(n_c):
                v = image[b, c, y, src]
                for i in range(start, x):
                    out[b, c, y, i] = v
    return n_left
