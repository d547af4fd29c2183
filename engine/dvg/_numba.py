"""CPU kernels (numba) for DVG: guided field sampling, mask propagation, temporal candidate fill.

These are the fast CPU path of :mod:`engine.dvg.propagate` and :mod:`engine.dvg.inpaint`;
the torch functions in :mod:`engine.dvg.guided` and those modules are the reference (and
the CUDA path), held equal by tests. Coordinates and weighted sums are computed in float64
with the same operation order as the torch path, so hole masks agree exactly.

Guided sampling (see :func:`engine.dvg.guided.guided_sample`): a full-resolution pixel
(y, x) reads the working-resolution fields at the bilinear taps of
((y + 0.5) * h / H - 0.5, (x + 0.5) * w / W - 0.5); taps whose guide disparity is within
`tol` of the pixel's own disparity are averaged with their bilinear weights (confidence:
their minimum); when none is, the tap with the closest disparity is taken as it is.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_CHUNK = 4096  # hole pixels per parallel task


@njit(cache=True, inline="always")
def _taps(y, x, h, w, ry, rx):
    """Bilinear tap rows, columns and weights (order (y0,x0), (y0,x1), (y1,x0), (y1,x1))."""
    sy = min(max((y + 0.5) * ry - 0.5, 0.0), h - 1.0)
    sx = min(max((x + 0.5) * rx - 0.5, 0.0), w - 1.0)
    y0 = int(sy)
    x0 = int(sx)
    fy = sy - y0
    fx = sx - x0
    y1 = min(y0 + 1, h - 1)
    x1 = min(x0 + 1, w - 1)
    return y0, y1, x0, x1, fy, fx


@njit(cache=True, inline="always")
def _gate(guide_small, g, y, x, h, w, ry, rx, inv_d, tol, ty, tx, wt):
    """Fill `ty`, `tx`, `wt` (4,) with the taps and their gated weights; return the fallback tap.

    Returns (sum of gated weights, index of the closest-disparity tap with positive weight).
    """
    y0, y1, x0, x1, fy, fx = _taps(y, x, h, w, ry, rx)
    best = -1
    best_d = np.inf
    best_w = -1.0
    wsum = 0.0
    for t in range(4):
        ty[t] = y0 if t < 2 else y1
        tx[t] = x0 if t % 2 == 0 else x1
        wy = 1.0 - fy if t < 2 else fy
        wx = 1.0 - fx if t % 2 == 0 else fx
        full_w = wy * wx
        wt[t] = 0.0
        if full_w <= 0.0:
            continue
        dd = abs(guide_small[ty[t], tx[t]] * inv_d - g)
        if not (dd <= np.inf):  # NaN guide on either side: never gated, never preferred
            dd = np.inf
        if dd <= tol:
            wt[t] = full_w
            wsum += full_w
        if best < 0 or dd < best_d or (dd == best_d and full_w > best_w):
            best = t
            best_d = dd
            best_w = full_w
    return wsum, best


@njit(cache=True, inline="always")
def _sample(fields, ty, tx, wt, wsum, best, vx, vy):
    """(u, v, c) of one neighbour's fields at the gated taps (flow in full-resolution px)."""
    if wsum > 0.0:
        su = 0.0
        sv = 0.0
        c = np.inf
        for t in range(4):
            if wt[t] > 0.0:
                su = su + wt[t] * fields[0, ty[t], tx[t]]
                sv = sv + wt[t] * fields[1, ty[t], tx[t]]
                c = min(c, np.float64(fields[2, ty[t], tx[t]]))
        return su / wsum * vx, sv / wsum * vy, c
    b = best
    return np.float64(fields[0, ty[b], tx[b]]) * vx, np.float64(fields[1, ty[b], tx[b]]) * vy, \
        np.float64(fields[2, ty[b], tx[b]])


@njit(cache=True)
def cell_starts(n_full, n_small, ratio):
    """First full-resolution index of each working-resolution cell, plus n_full at the end.

    A full-resolution index i belongs to cell int(clamp((i + 0.5) * ratio - 0.5, 0, n_small - 1)),
    the first bilinear tap of :func:`_taps`; cells are contiguous and ordered.
    """
    starts = np.full(n_small + 1, n_full, np.int64)
    for i in range(n_full - 1, -1, -1):
        cell = int(min(max((i + 0.5) * ratio - 0.5, 0.0), n_small - 1.0))
        starts[cell] = i
    for c in range(n_small - 1, -1, -1):
        starts[c] = min(starts[c], starts[c + 1])
    return starts


@njit(cache=True, inline="always")
def _may_hit(fields, integral, cy, cy1, cx, cx1, y_lo, y_hi, x_lo, x_hi, vx, vy):
    """Whether any pixel of a cell can pull a hole through these fields (conservative).

    Every pixel of the cell reads a convex combination of (or one of) its four taps, so its
    flow lies within the taps' range; the pulled rows / columns lie in that range shifted by
    the cell's extent (plus a pixel of slack for rounding), counted in the mask's integral image.
    """
    u_lo = np.inf
    u_hi = -np.inf
    v_lo = np.inf
    v_hi = -np.inf
    c_hi = 0.0
    for t in range(4):
        ty = cy if t < 2 else cy1
        tx = cx if t % 2 == 0 else cx1
        u = fields[0, ty, tx] * vx
        v = fields[1, ty, tx] * vy
        if not (math.isfinite(u) and math.isfinite(v)):
            return True  # let the exact per-pixel test decide
        u_lo = min(u_lo, u)
        u_hi = max(u_hi, u)
        v_lo = min(v_lo, v)
        v_hi = max(v_hi, v)
        c_hi = max(c_hi, np.float64(fields[2, ty, tx]))
    if not c_hi > 0.0:
        return False
    big_h = integral.shape[0] - 1
    big_w = integral.shape[1] - 1
    ya = max(int(math.floor(y_lo + v_lo + 0.5)) - 1, 0)
    yb = min(int(math.floor(y_hi - 1 + v_hi + 0.5)) + 1, big_h - 1)
    xa = max(int(math.floor(x_lo + u_lo + 0.5)) - 1, 0)
    xb = min(int(math.floor(x_hi - 1 + u_hi + 0.5)) + 1, big_w - 1)
    if ya > yb or xa > xb:
        return False
    return integral[yb + 1, xb + 1] - integral[ya, xb + 1] - integral[yb + 1, xa] + integral[ya, xa] > 0


@njit(parallel=True, cache=True)
def propagate(own, mask0, mask1, integral0, integral1, fields, guide_small, guide_full, ry, rx, inv_d, vx, vy,
              tol, row_starts, col_starts, out):
    """The paper's occlusion-mask propagation with guided working-resolution flow.

    out(p) = own(p) or sum_k masks[k](round(p + G_k(p))) * C_k(p) >= 1. Work is done per
    working-resolution cell, and only in cells from which some neighbour's holes are reachable
    (:func:`_may_hit`); elsewhere the sum is 0 and out = own.

    Args:
        own: (H, W) bool, this frame's own disocclusions.
        mask0, mask1: (H, W) bool, the own disocclusions of neighbours 0 and 1 (the paper's rule
            has at most two: t-1 and t+1; mask1 is ignored when n = 1).
        integral0, integral1: (H+1, W+1) int32, their integral images (cv2.integral).
        fields: (n, 3, h, w) float32, n in {1, 2}: target-view flow t -> k (working px) and C.
        guide_small: (h, w) float32 working-resolution disparity (working px).
        guide_full: (H, W) float32 full-resolution disparity (px).
        ry, rx: h / H and w / W. inv_d: W / w (working px of disparity -> px). vx, vy: W / w, H / h.
        tol: disparity tolerance (px) for a tap to count as the same surface.
        row_starts, col_starts: :func:`cell_starts` of rows (ratio ry) and columns (ratio rx).
        out: (H, W) bool; receives the propagated mask.
    """
    n, _, h, w = fields.shape
    for cell_row in prange(h):
        cy = np.int64(cell_row)
        y_lo = row_starts[cy]
        y_hi = row_starts[cy + 1]
        out[y_lo:y_hi] = own[y_lo:y_hi]
        if y_lo >= y_hi:
            continue
        cy1 = min(cy + 1, h - 1)
        ty = np.empty(4, np.int64)
        tx = np.empty(4, np.int64)
        wt = np.empty(4, np.float64)
        hits = np.empty(n, np.bool_)
        for cx in range(w):
            x_lo = col_starts[cx]
            x_hi = col_starts[cx + 1]
            if x_lo >= x_hi:
                continue
            cx1 = min(cx + 1, w - 1)
            anything = False
            for k in range(n):
                integral = integral0 if k == 0 else integral1
                hits[k] = _may_hit(fields[k], integral, cy, cy1, cx, cx1, y_lo, y_hi, x_lo, x_hi, vx, vy)
                anything = anything or hits[k]
            if not anything:
                continue
            for y in range(y_lo, y_hi):
                for x in range(x_lo, x_hi):
                    if own[y, x]:
                        continue
                    wsum, best = _gate(guide_small, np.float64(guide_full[y, x]), y, x, h, w, ry, rx, inv_d,
                                       tol, ty, tx, wt)
                    s = 0.0
                    for k in range(n):
                        if not hits[k]:
                            continue
                        u, v, c = _sample(fields[k], ty, tx, wt, wsum, best, vx, vy)
                        ix = int(math.floor(x + u + 0.5))
                        iy = int(math.floor(y + v + 0.5))
                        if 0 <= ix < out.shape[1] and 0 <= iy < out.shape[0] and (
                                mask0[iy, ix] if k == 0 else mask1[iy, ix]):
                            s = s + c
                    out[y, x] = s >= 1.0


@njit(cache=True, inline="always")
def _accept(src_holes, src_disp, iy, ix, limit, carried):
    """Whether a source tap may fill: real content (unless `carried`) no nearer than `limit`."""
    if not carried and src_holes[iy, ix]:
        return False
    return src_disp[iy, ix] <= limit


@njit(parallel=True, cache=True)
def gate_pixels(ys, xs, background, guide_small, ry, rx, inv_d, tol, ty, tx, wt, wsum, best):
    """The guided taps of hole pixels, once for every candidate (see :func:`_gate`).

    Args:
        ys, xs: (N,) int64 hole pixels. background: (H, W) float32 their disparity (px).
        guide_small, ry, rx, inv_d, tol: as in :func:`propagate`.
        ty, tx: (N, 4) int64, wt: (N, 4) float64, wsum: (N,) float64, best: (N,) int64; receive
            each pixel's taps, gated weights, their sum and the fallback tap.
    """
    h, w = guide_small.shape
    n = ys.shape[0]
    for chunk in prange((n + _CHUNK - 1) // _CHUNK):
        for i in range(chunk * _CHUNK, min(n, chunk * _CHUNK + _CHUNK)):
            g = np.float64(background[ys[i], xs[i]])
            wsum[i], best[i] = _gate(guide_small, g, ys[i], xs[i], h, w, ry, rx, inv_d, tol,
                                     ty[i], tx[i], wt[i])


@njit(parallel=True, cache=True)
def fill_from(ys, xs, done, out, background, ty, tx, wt, wsum, best, fields, vx, vy, tol,
              src, src_holes, src_disp, carried):
    """Fill not-yet-done hole pixels from one candidate view, carried by its flow.

    A hole pixel p takes src at q = p + G(p) when C(p) >= 0.5, q is inside the frame and the
    source taps pass :func:`_accept` with limit = background(p) + tol: bilinear when every
    tap with weight passes, else the nearest tap when it passes. A `carried` candidate (the
    previous frame's final result) accepts filled pixels too.
    Parallel over chunks of ``_CHUNK`` pixels (each pixel writes only its own output).

    Args:
        ys, xs: (N,) int64 hole pixels. done: (N,) bool, updated in place.
        out: (C, H, W) float32 view being filled in place.
        background: (H, W) float32 background disparity (px) of this frame's target view.
        ty, tx, wt, wsum, best: from :func:`gate_pixels`.
        fields: (3, h, w) float32 flow t -> k (working px) and C. vx, vy: W / w, H / h. tol: px.
        src: (C, H, W) float32 candidate view. src_holes: (H, W) bool its own holes.
        src_disp: (H, W) float32 its disparity (NaN never passes).
        carried: bool, see above.
    Returns:
        The number of pixels filled.
    """
    big_h, big_w = background.shape
    n = ys.shape[0]
    filled = 0
    for chunk in prange((n + _CHUNK - 1) // _CHUNK):
        for i in range(chunk * _CHUNK, min(n, chunk * _CHUNK + _CHUNK)):
            if done[i]:
                continue
            y = ys[i]
            x = xs[i]
            u, v, c = _sample(fields, ty[i], tx[i], wt[i], wsum[i], best[i], vx, vy)
            qx = x + u
            qy = y + v
            if not (c >= 0.5 and qx >= 0.0 and qx <= big_w - 1.0 and qy >= 0.0 and qy <= big_h - 1.0):
                continue
            limit = np.float64(background[y, x]) + tol
            if _fill_pixel(out, y, x, src, src_holes, src_disp, qy, qx, limit, carried):
                done[i] = True
                filled += 1
    return filled


@njit(cache=True, inline="always")
def _fill_pixel(out, y, x, src, src_holes, src_disp, qy, qx, limit, carried):
    """Write src sampled at (qy, qx) into out[:, y, x] when the taps pass; return whether written."""
    n_c, big_h, big_w = out.shape
    y0 = int(qy)
    x0 = int(qx)
    y1 = min(y0 + 1, big_h - 1)
    x1 = min(x0 + 1, big_w - 1)
    fy = qy - y0
    fx = qx - x0
    ok = True
    for t in range(4):
        wy = 1.0 - fy if t < 2 else fy
        wx = 1.0 - fx if t % 2 == 0 else fx
        if wy * wx > 0.0 and not _accept(src_holes, src_disp, y0 if t < 2 else y1,
                                         x0 if t % 2 == 0 else x1, limit, carried):
            ok = False
    if ok:
        for ch in range(n_c):
            acc = 0.0
            for t in range(4):
                wy = 1.0 - fy if t < 2 else fy
                wx = 1.0 - fx if t % 2 == 0 else fx
                if wy * wx > 0.0:
                    acc = acc + wy * wx * src[ch, y0 if t < 2 else y1, x0 if t % 2 == 0 else x1]
            out[ch, y, x] = acc
        return True
    iy = int(math.floor(qy + 0.5))
    ix = int(math.floor(qx + 0.5))
    if not _accept(src_holes, src_disp, iy, ix, limit, carried):
        return False
    for ch in range(n_c):
        out[ch, y, x] = src[ch, iy, ix]
    return True


@njit(cache=True)
def hole_sources(holes, disp, prefer_right, margin, tol, fields, guide):
    """Give each hole pixel of a working-resolution target view the fields of a background pixel.

    Each hole run in a row takes its background side as :func:`engine.ops.fill_holes` does
    (the end with the smaller disparity; `prefer_right` on a tie; the only end at an image
    edge). From that end it walks up to `margin` px away from the hole while the pixels stay
    real (not holes) and on one surface (|d step| <= tol): flow right at a motion boundary is
    smeared by the foreground, a few pixels into the background it is the background's own.
    The run's pixels copy every channel of `fields` from the column the walk ends on (0 in a
    row that is all hole).

    Args:
        holes: (h, w) bool. disp: (h, w) float32 target disparity (working px).
        prefer_right: bool. margin: int px. tol: float, largest disparity step on one surface.
        fields: (C, h, w) float32, the splatted fields; hole pixels are overwritten.
        guide: (h, w) float32; receives disp, with each hole run given its background end's value
            (NaN in a row that is all hole).
    """
    n_c, h, w = fields.shape
    for y in range(h):
        x = 0
        while x < w:
            if not holes[y, x]:
                guide[y, x] = disp[y, x]
                x += 1
                continue
            start = x
            while x < w and holes[y, x]:
                x += 1
            end = _background_end(disp[y], start, x, w, prefer_right)
            col = -1
            value = np.float32(np.nan)
            if end >= 0:
                step = 1 if end >= x else -1
                col = end
                value = disp[y, end]
                for _ in range(margin):
                    nxt = col + step
                    if nxt < 0 or nxt >= w or holes[y, nxt] or not abs(disp[y, nxt] - disp[y, col]) <= tol:
                        break
                    col = nxt
            for i in range(start, x):
                guide[y, i] = value
                for c in range(n_c):
                    fields[c, y, i] = fields[c, y, col] if col >= 0 else 0.0


@njit(cache=True, inline="always")
def _background_end(drow, start, stop, w, prefer_right):
    """The background-side end (column) of the hole run [start, stop); -1 for a whole row."""
    if start > 0 and stop < w:
        if drow[start - 1] < drow[stop]:
            return start - 1
        if drow[stop] < drow[start - 1]:
            return stop
        return stop if prefer_right else start - 1
    if start > 0:
        return start - 1
    if stop < w:
        return stop
    return -1
