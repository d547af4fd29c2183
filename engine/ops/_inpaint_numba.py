"""CPU kernels (numba) of :mod:`engine.ops.inpaint`; the torch paths there are the references.

float32 / int64 C-contiguous arrays, and the torch paths' operation order (fixed neighbour, tap and
candidate orders, strict "<" for a better candidate, the same integer hash for the random search),
so both agree bit for bit. Hole pixels are visited through coordinate lists sorted by row, never by
scanning the frame.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_M32 = 0xFFFFFFFF


@njit(cache=True, inline="always")
def _mul32(x, c):
    """(x * c) mod 2**32 for 0 <= x, c < 2**32 without overflowing int64 (c split into 16-bit halves)."""
    lo = (x * (c & 0xFFFF)) & _M32
    hi = ((x * (c >> 16)) & 0xFFFF) << 16
    return (lo + hi) & _M32


@njit(cache=True, inline="always")
def mix32(x):
    """lowbias32 integer hash of the low 32 bits of an int64 (result in [0, 2**32))."""
    x = x & _M32
    x ^= x >> 16
    x = _mul32(x, 0x7FEB352D)
    x ^= x >> 15
    x = _mul32(x, 0x846CA68B)
    x ^= x >> 16
    return x


@njit(parallel=True, cache=True, fastmath=False)
def diffuse_pass(image, bs, ys, xs, row_start, inc, omega, parity):
    """One red (parity 0) or black (parity 1) SOR pass over the hole pixels, in place.

    Args:
        image: (B, C, H, W) float32, hole pixels hold the current estimate.
        bs, ys, xs: (N,) int64 image, row and column of every hole pixel, sorted by (b, y).
        row_start: (R + 1,) int64 offsets of each (b, y) row's hole pixels in those lists.
        inc: (N, 4) bool, neighbour included (left, right, up, down).
        omega: float, over-relaxation factor.
        parity: int, update only pixels with (x + y) % 2 == parity (their neighbours have the other parity).
    """
    n_c = image.shape[1]
    om = np.float32(omega)
    for r in prange(row_start.size - 1):
        for k in range(row_start[r], row_start[r + 1]):
            y = ys[k]
            x = xs[k]
            if (x + y) % 2 != parity:
                continue
            n = np.float32(0.0)
            for m in range(4):
                if inc[k, m]:
                    n = n + np.float32(1.0)
            if n == 0:
                continue
            b = bs[k]
            for c in range(n_c):
                ch = image[b, c]
                s = np.float32(0.0)
                if inc[k, 0]:
                    s = s + ch[y, x - 1]
                if inc[k, 1]:
                    s = s + ch[y, x + 1]
                if inc[k, 2]:
                    s = s + ch[y - 1, x]
                if inc[k, 3]:
                    s = s + ch[y + 1, x]
                v = ch[y, x]
                ch[y, x] = v + om * (s / n - v)


@njit(cache=True, inline="always")
def _patch_cost(img, hole, dt, y, x, qy, qx, r, lim, best):
    """SSD between the target patch at (y, x) and the source patch at (qy, qx); > best stops early.

    Target pixels count when inside the image and a hole or background (disparity <= lim).
    """
    n_c, n_h, n_w = img.shape
    cost = np.float32(0.0)
    for dy in range(-r, r + 1):
        ty = y + dy
        if ty < 0 or ty >= n_h:
            continue
        for dx in range(-r, r + 1):
            tx = x + dx
            if tx < 0 or tx >= n_w:
                continue
            if not (hole[ty, tx] or dt[ty, tx] <= lim):
                continue
            for c in range(n_c):
                e = img[c, ty, tx] - img[c, qy + dy, qx + dx]
                cost = cost + e * e
        if cost > best:
            return cost
    return cost


@njit(cache=True, inline="always")
def _valid(src_ok, src_dmax, qy, qx, lim):
    n_h, n_w = src_ok.shape
    return 0 <= qy < n_h and 0 <= qx < n_w and src_ok[qy, qx] and src_dmax[qy, qx] <= lim


@njit(parallel=True, cache=True, fastmath=False)
def pm_costs(img, hole, dt, bg, src_ok, src_dmax, ys, xs, oy, ox, r, tol, cost):
    """Cost of every hole pixel's current offset (inf when its source patch is not valid).

    Args:
        img: (C, H, W) float32 current estimate. hole: (H, W) bool. dt: (H, W) float32 target disparity.
        bg: (H, W) float32 background disparity of hole pixels. src_ok: (H, W) bool, patch fully known.
        src_dmax: (H, W) float32 largest disparity in the patch. ys, xs: (N,) int64 hole pixels.
        oy, ox: (N,) int64 offsets. r: patch radius. tol: float background tolerance.
        cost: (N,) float32 output.
    """
    tl = np.float32(tol)
    inf = np.float32(np.inf)
    for k in prange(ys.size):
        y = ys[k]
        x = xs[k]
        lim = bg[y, x] + tl
        qy = y + oy[k]
        qx = x + ox[k]
        if _valid(src_ok, src_dmax, qy, qx, lim):
            cost[k] = _patch_cost(img, hole, dt, y, x, qy, qx, r, lim, inf)
        else:
            cost[k] = inf


@njit(parallel=True, cache=True, fastmath=False)
def pm_iteration(img, hole, dt, bg, src_ok, src_dmax, ys, xs, pos, oy_in, ox_in, cost_in,
                 oy_out, ox_out, cost_out, r, search, tol, key, n_random):
    """One Jacobi PatchMatch iteration: propagation from neighbours at 1, 2, 4 px, then random search.

    Neighbour candidates read the input field (so every pixel is independent); the random search at
    radii search, search / 2, ... (n_random of them) is centred on the pixel's running best. A
    candidate replaces the best only when strictly cheaper.

    Args:
        (as :func:`pm_costs`), pos: (H, W) int64 index of each hole pixel in ys/xs, -1 elsewhere;
        oy_in, ox_in, cost_in: (N,) the current field; oy_out, ox_out, cost_out: (N,) outputs;
        search: int, largest random-search radius; key: int, per-iteration hash key; n_random: int.
    """
    n_h, n_w = hole.shape
    tl = np.float32(tol)
    for k in prange(ys.size):
        y = ys[k]
        x = xs[k]
        lim = bg[y, x] + tl
        by = oy_in[k]
        bx = ox_in[k]
        best = cost_in[k]
        for s in (1, 2, 4):
            for m in range(4):
                ny = y + (0, 0, -s, s)[m]
                nx = x + (-s, s, 0, 0)[m]
                if ny < 0 or ny >= n_h or nx < 0 or nx >= n_w:
                    continue
                j = pos[ny, nx]
                if j < 0 or not cost_in[j] < np.inf:
                    continue
                cy = oy_in[j]
                cx = ox_in[j]
                if (cy != by or cx != bx) and _valid(src_ok, src_dmax, y + cy, x + cx, lim):
                    c = _patch_cost(img, hole, dt, y, x, y + cy, x + cx, r, lim, best)
                    if c < best:
                        best = c
                        by = cy
                        bx = cx
        for m in range(n_random):
            rad = max(search >> m, 1)
            h = mix32(key + _mul32(np.int64(k), 0x9E3779B1) + _mul32(np.int64(m), 0x85EBCA77))
            ry = h % (2 * rad + 1) - rad
            rx = mix32(h ^ 0x68E31DA4) % (2 * rad + 1) - rad
            cy = by + ry
            cx = bx + rx
            if (ry != 0 or rx != 0) and _valid(src_ok, src_dmax, y + cy, x + cx, lim):
                c = _patch_cost(img, hole, dt, y, x, y + cy, x + cx, r, lim, best)
                if c < best:
                    best = c
                    by = cy
                    bx = cx
        oy_out[k] = by
        ox_out[k] = bx
        cost_out[k] = best


@njit(parallel=True, cache=True, fastmath=False)
def pm_vote(img, ys, xs, pos, oy, ox, cost, r, out):
    """Each hole pixel: the mean of what the patches covering it copy there (uniform weights).

    Args:
        img: (C, H, W) float32 source of the copies. ys, xs, pos, oy, ox, cost: the field (as above).
        r: patch radius. out: (C, H, W) float32, a copy of img; hole pixels with a vote are overwritten.
    """
    n_c, n_h, n_w = img.shape
    for k in prange(ys.size):
        y = ys[k]
        x = xs[k]
        acc = np.zeros(n_c, np.float32)
        cnt = np.float32(0.0)
        for dy in range(-r, r + 1):
            py = y - dy
            if py < 0 or py >= n_h:
                continue
            for dx in range(-r, r + 1):
                px = x - dx
                if px < 0 or px >= n_w:
                    continue
                j = pos[py, px]
                if j < 0 or not cost[j] < np.inf:
                    continue
                sy = y + oy[j]
                sx = x + ox[j]
                for c in range(n_c):
                    acc[c] = acc[c] + img[c, sy, sx]
                cnt = cnt + np.float32(1.0)
        if cnt > 0:
            for c in range(n_c):
                out[c, y, x] = acc[c] / cnt


@njit(cache=True)
def included_neighbours(holes, target, background, tolerance, bs, ys, xs):
    """The membrane's neighbour table (engine.ops.inpaint._included_neighbours, the same float32 tests).

    Args:
        holes: (B, H, W) bool; target: (B, H, W) float32 target disparity (NaN in holes);
        background: (B, H, W) float32; tolerance: float32 px; bs, ys, xs: (N,) hole pixels.
    Returns:
        (N, 4) bool: left / right / up / down neighbour inside the image and a hole pixel or a known pixel
        with disparity <= the pixel's background disparity + tolerance.
    """
    _, n_h, n_w = holes.shape
    n = bs.size
    inc = np.zeros((n, 4), np.bool_)
    tol = np.float32(tolerance)
    for k in range(n):
        b, y, x = bs[k], ys[k], xs[k]
        lim = background[b, y, x] + tol
        for m in range(4):
            ny = y + (1 if m == 3 else (-1 if m == 2 else 0))
            nx = x + (1 if m == 1 else (-1 if m == 0 else 0))
            if 0 <= ny < n_h and 0 <= nx < n_w:
                inc[k, m] = holes[b, ny, nx] or target[b, ny, nx] <= lim
    return inc


@njit(cache=True)
def diffuse_sweeps(image, bs, ys, xs, inc, omega, iterations):
    """`iterations` red-black SOR sweeps (red pass, then black) over the hole pixels, in place, in one call.

    The same result as alternating :func:`diffuse_pass` with parity 0 and 1, bit for bit: a pass updates
    pixels of one parity from neighbours of the other, so the visiting order within a pass does not
    matter, and each update does :func:`diffuse_pass`'s float32 operations in its order. The pixels are
    listed once per parity as flat offsets with their neighbour flags and counts, so a sweep is a tight
    loop. Serial: for the usual ten thousand hole pixels a frame, starting a thread team per pass costs
    more than the pass (about 1.5 ms a pass on 2 busy cores, measured); :func:`diffuse_pass` is the
    parallel one.

    Args:
        image: (B, C, H, W) float32, C-contiguous. bs, ys, xs: (N,) int64 hole pixels. inc: (N, 4) bool.
        omega: float, over-relaxation factor. iterations: int, sweeps.
    """
    n_b, n_c, n_h, n_w = image.shape
    flat = image.reshape(n_b * n_c * n_h * n_w)
    plane = n_h * n_w
    om = np.float32(omega)
    n = bs.size
    order = np.empty(n, np.int64)
    first = 0
    for parity in range(2):
        for k in range(n):
            if (xs[k] + ys[k]) % 2 == parity:
                order[first] = k
                first += 1
        if parity == 0:
            split = first
    offset = np.empty(n, np.int64)
    flags = np.empty((n, 4), np.bool_)
    count = np.empty(n, np.float32)
    for i in range(n):
        k = order[i]
        offset[i] = (bs[k] * n_c * n_h + ys[k]) * n_w + xs[k]
        c = np.float32(0.0)
        for m in range(4):
            flags[i, m] = inc[k, m]
            if inc[k, m]:
                c = c + np.float32(1.0)
        count[i] = c
    for _ in range(iterations):
        for lo, hi in ((0, split), (split, n)):
            for i in range(lo, hi):
                cnt = count[i]
                if cnt == 0:
                    continue
                base = offset[i]
                for c in range(n_c):
                    p = base + c * plane
                    s = np.float32(0.0)
                    if flags[i, 0]:
                        s = s + flat[p - 1]
                    if flags[i, 1]:
                        s = s + flat[p + 1]
                    if flags[i, 2]:
                        s = s + flat[p - n_w]
                    if flags[i, 3]:
                        s = s + flat[p + n_w]
                    v = flat[p]
                    flat[p] = v + om * (s / cnt - v)
