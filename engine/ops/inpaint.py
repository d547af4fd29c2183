"""Filling disocclusions from the background side: smooth (diffusion) and textured (PatchMatch).

A disocclusion shows what was behind a foreground edge, so only the background around it may fill
it. Both fills here take values from *background* pixels only: known pixels whose target-view
disparity is at most the hole's background disparity (:func:`background_disparity`) plus a tolerance;
the foreground beside a hole never leaks in.

* :func:`diffuse_background`: membrane (harmonic) interpolation by red-black successive
  over-relaxation, started from the row fill. The foreground acts as an insulating wall (a zero-flux
  boundary), the background as the fixed boundary values. It removes the stripes of a row fill
  (each row copying its own, noisy, edge pixel) and is the mean-square-optimal guess where the hidden
  texture cannot be predicted.
* :func:`texture_fill`: exemplar-based completion (PatchMatch, Barnes et al. 2009; iterated
  nearest-neighbour search and voting, Wexler et al. 2007). Every hole pixel gets the offset of the
  background patch that best matches the known background (and current estimate) around it; the
  patches covering a pixel vote on its value. Candidate source patches must be fully known and lie
  on the background (their largest disparity within the tolerance). The field starts as a copy of
  the background strip just beyond each hole run, so texture continues from the background side.
  The search is Jacobi-style (every pixel reads the previous field), which is what lets the torch
  path run in parallel on a GPU and agree with the numba kernel exactly.

Shapes follow :mod:`engine.ops`: (B, C, H, W) images, (B, 1, H, W) masks and disparities.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from engine.ops import _inpaint_numba
from engine.ops._splat_numba import as_f32_array, use_numba
from engine.ops.fill import check_hole_maps, fill_holes

BACKGROUND_TOLERANCE_PX = 1.0
_M32 = 0xFFFFFFFF


def background_disparity(holes: Tensor, target_disparity: Tensor, scale: float, *, backend: str = "auto") -> Tensor:
    """Each hole pixel's background disparity: its run's farther (smaller-disparity) end, as the row fill picks.

    Args:
        holes: (B, 1, H, W) bool.
        target_disparity: (B, 1, H, W) float target-view disparity (NaN in holes).
        scale: the splat scale (its sign breaks ties, as in :func:`engine.ops.fill_holes`).
        backend: "auto" | "numba" | "torch".
    Returns:
        (B, 1, H, W) float32: the input outside holes, the background end's disparity in them.
    """
    disp = torch.nan_to_num(target_disparity.detach().to(torch.float32), nan=0.0)
    return fill_holes(disp, holes, target_disparity, scale, backend=backend)


def diffuse_background(
    image: Tensor,
    holes: Tensor,
    target_disparity: Tensor,
    background: Tensor,
    *,
    iterations: int = 20,
    omega: float = 1.8,
    tolerance: float = BACKGROUND_TOLERANCE_PX,
    backend: str = "auto",
    inplace: bool = False,
) -> Tensor:
    """Smooth the hole pixels towards the harmonic interpolant of their background boundary.

    Each iteration updates the hole pixels with (x + y) even, then odd: v <- v + omega * (mean of the
    included 4-neighbours - v). A neighbour is included when it is a hole pixel, or a known pixel
    whose disparity is <= the updated pixel's background disparity + tolerance.

    Args:
        image: (B, C, H, W) float, hole pixels holding a first estimate (e.g. the row fill).
        holes: (B, 1, H, W) bool.
        target_disparity: (B, 1, H, W) float target-view disparity (NaN in holes).
        background: (B, 1, H, W) float, background disparity of the hole pixels (:func:`background_disparity`).
        iterations: red-black sweeps (0 returns a copy).
        omega: over-relaxation factor in (0, 2).
        tolerance: background tolerance in source disparity px.
        backend: "auto" | "numba" | "torch".
        inplace: smooth `image` itself when it is float32 and contiguous (no frame copy) and return it.
    Returns:
        (B, C, H, W) float32 copy of `image` (or `image`, `inplace`) with the hole pixels smoothed.
    """
    _check(image, holes, target_disparity, background)
    if iterations < 0 or not (0.0 < omega < 2.0) or not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"need iterations >= 0, 0 < omega < 2 and tolerance >= 0, got {iterations}, {omega}, "
                         f"{tolerance}")
    direct = inplace and image.dtype == torch.float32 and image.is_contiguous()
    out = image if direct else image.detach().to(torch.float32, copy=True).contiguous()
    if iterations == 0:
        return out
    if use_numba(image.device, backend):
        _diffuse_numba(out.detach().numpy(), holes, target_disparity, background, tolerance, iterations, omega)
        return out
    bs, ys, xs = torch.nonzero(holes[:, 0], as_tuple=True)
    if bs.numel() == 0:
        return out
    inc = _included_neighbours(holes, target_disparity, background, tolerance, bs, ys, xs)
    with torch.no_grad():
        _diffuse_torch(out.detach(), bs, ys, xs, inc, iterations, omega)
    return out


PARALLEL_DIFFUSE_PIXELS = 100_000
"""Hole pixels from which the membrane sweeps run in parallel (a thread team per pass pays off)."""


def hole_pixels(holes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(b, y, x) int64 arrays of the True pixels of `holes` (B, H, W) bool, in torch.nonzero's order."""
    _, h, w = holes.shape
    index = np.flatnonzero(holes)
    bs, rest = np.divmod(index, h * w)
    ys, xs = np.divmod(rest, w)
    return bs, ys, xs


def _diffuse_numba(arr, holes: Tensor, target_disparity: Tensor, background: Tensor, tolerance: float,
                   iterations: int, omega: float) -> None:
    """The numba membrane on `arr` (B, C, H, W) float32, in place: hole list and neighbour table, then the
    sweeps (serial for the usual few thousand pixels, parallel by rows beyond PARALLEL_DIFFUSE_PIXELS)."""
    b, _, h, w = holes.shape
    hol = holes.detach().contiguous().numpy().reshape(b, h, w)
    bs, ys, xs = hole_pixels(hol)
    if bs.size == 0:
        return
    inc = _inpaint_numba.included_neighbours(hol, as_f32_array(target_disparity).reshape(b, h, w),
                                             as_f32_array(background).reshape(b, h, w), float(tolerance),
                                             bs, ys, xs)
    if bs.size < PARALLEL_DIFFUSE_PIXELS:
        _inpaint_numba.diffuse_sweeps(arr, bs, ys, xs, inc, float(omega), int(iterations))
        return
    row_start = np.searchsorted(bs * h + ys, np.arange(b * h + 1))
    for _ in range(iterations):
        _inpaint_numba.diffuse_pass(arr, bs, ys, xs, row_start, inc, float(omega), 0)
        _inpaint_numba.diffuse_pass(arr, bs, ys, xs, row_start, inc, float(omega), 1)


def _check(image: Tensor, holes: Tensor, target_disparity: Tensor, background: Tensor) -> None:
    check_hole_maps(image, holes, target_disparity=target_disparity, background=background)


def _included_neighbours(holes: Tensor, target_disparity: Tensor, background: Tensor, tolerance: float,
                         bs: Tensor, ys: Tensor, xs: Tensor) -> Tensor:
    """(N, 4) bool: is the left / right / up / down neighbour of each hole pixel part of its membrane?"""
    _, _, h, w = holes.shape
    hol = holes[:, 0]
    dt = target_disparity[:, 0].to(torch.float32)
    lim = background[:, 0].to(torch.float32)[bs, ys, xs] + torch.tensor(tolerance, dtype=torch.float32,
                                                                           device=holes.device)
    cols = []
    for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        ny, nx = ny.clamp(0, h - 1), nx.clamp(0, w - 1)
        cols.append(inside & (hol[bs, ny, nx] | (dt[bs, ny, nx] <= lim)))
    return torch.stack(cols, dim=1).contiguous()


def _diffuse_torch(out: Tensor, bs: Tensor, ys: Tensor, xs: Tensor, inc: Tensor, iterations: int,
                   omega: float) -> Tensor:
    """Vectorised red-black SOR over the hole pixels, the kernel's float32 operation order."""
    b, c, h, w = out.shape
    om = torch.tensor(omega, dtype=torch.float32, device=out.device)
    base = (bs * c * h + ys) * w + xs  # channel 0 of each hole pixel in the flat image
    nbr = torch.stack([(bs * c * h + ny) * w + nx for ny, nx in
                       ((ys, (xs - 1).clamp(min=0)), (ys, (xs + 1).clamp(max=w - 1)),
                        ((ys - 1).clamp(min=0), xs), ((ys + 1).clamp(max=h - 1), xs))], dim=1)
    n = inc.to(torch.float32).sum(dim=1)  # exact small integers, same as counting
    parity = (xs + ys) % 2
    flat = out.view(-1)
    chan = torch.arange(c, device=out.device) * (h * w)
    for _ in range(iterations):
        for p in (0, 1):
            sel = (parity == p) & (n > 0)
            idx = base[sel].unsqueeze(0) + chan.unsqueeze(1)  # (C, M)
            s = torch.zeros(idx.shape, dtype=torch.float32, device=out.device)
            for m in range(4):
                vals = flat[nbr[sel, m].unsqueeze(0) + chan.unsqueeze(1)]
                s = s + torch.where(inc[sel, m].unsqueeze(0), vals, 0.0)
            v = flat[idx]
            flat[idx] = v + om * (s / n[sel].unsqueeze(0) - v)
    return out


def texture_fill(
    image: Tensor,
    holes: Tensor,
    target_disparity: Tensor,
    background: Tensor,
    *,
    weight: float = 1.0,
    patch: int = 7,
    iterations: int = 2,
    rounds: int = 3,
    search: int | None = None,
    random_tries: int = 4,
    min_run: int = 4,
    tolerance: float = BACKGROUND_TOLERANCE_PX,
    scale: float = 1.0,
    seed: int = 0,
    backend: str = "auto",
) -> Tensor:
    """Exemplar-based (PatchMatch) completion of the holes from background texture.

    Args:
        image: (B, C, H, W) float, the view with its holes holding a first estimate (the diffusion fill).
        holes: (B, 1, H, W) bool.
        target_disparity: (B, 1, H, W) float target-view disparity (NaN in holes).
        background: (B, 1, H, W) float background disparity of the hole pixels.
        weight: share of the textured estimate in the result, (1 - weight) stays the input (0 = a copy).
        patch: odd patch side in pixels.
        iterations: PatchMatch iterations per round.
        rounds: search-then-vote rounds (each matches against the previous round's votes).
        search: largest random-search radius in px; None = 3 x the longest hole run, between 16 and 128.
        random_tries: random candidates per pixel and iteration (radii search, search/2, ...).
        min_run: only pixels of hole runs at least this long are textured (narrower slivers keep the input).
        tolerance: background tolerance in source disparity px.
        scale: the splat scale (its sign picks the background side on disparity ties, as the row fill).
        seed: random-search seed (results are deterministic for a given seed).
        backend: "auto" | "numba" | "torch".
    Returns:
        (B, C, H, W) float32 copy of `image` with the hole pixels replaced.
    """
    _check(image, holes, target_disparity, background)
    if patch < 3 or patch % 2 == 0 or iterations < 0 or rounds < 0 or random_tries < 0:
        raise ValueError(f"need an odd patch >= 3 and non-negative counts, got patch={patch}, iterations="
                         f"{iterations}, rounds={rounds}, random_tries={random_tries}")
    if not (0.0 <= weight <= 1.0) or not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"weight must be in [0, 1] and tolerance >= 0, got {weight}, {tolerance}")
    out = image.detach().to(torch.float32, copy=True).contiguous()
    if weight == 0.0 or not bool(holes.any()):
        return out
    if min_run < 1:
        raise ValueError(f"min_run must be >= 1, got {min_run}")
    numba = use_numba(image.device, backend)
    r = patch // 2
    for i in range(image.shape[0]):
        field = _Field.start(holes[i, 0], target_disparity[i, 0], scale, r, min_run)
        radius = search if search is not None else int(min(128, max(16, 3 * field.longest_run)))
        run = _run_numba if numba else _run_torch
        voted = run(out[i], holes[i, 0], target_disparity[i, 0], background[i, 0], field, r, radius,
                    iterations, rounds, random_tries, tolerance, seed)
        hole = holes[i, 0]
        out[i] = torch.where(hole, (1.0 - weight) * out[i] + weight * voted, out[i])
    return out


class _Field:
    """The nearest-neighbour field over one image's hole pixels and what the search needs about sources."""

    def __init__(self, ys: Tensor, xs: Tensor, pos: Tensor, oy: Tensor, ox: Tensor, longest_run: int) -> None:
        self.ys, self.xs, self.pos, self.oy, self.ox, self.longest_run = ys, xs, pos, oy, ox, longest_run

    @staticmethod
    def start(hole: Tensor, disp: Tensor, scale: float, r: int, min_run: int = 1) -> _Field:
        """Offsets copying the background strip just beyond each hole run (the background side of the row fill).

        Args:
            hole: (H, W) bool. disp: (H, W) target disparity (NaN in holes). scale: splat scale. r: patch radius.
            min_run: the field covers the pixels of hole runs at least this long.
        """
        h, w = hole.shape
        d = disp.to(torch.float32)
        xs_all = torch.arange(w, device=hole.device).expand(h, w)
        left = torch.where(hole, -1, xs_all).cummax(dim=1).values
        right = torch.where(hole, w, xs_all).flip(1).cummin(dim=1).values.flip(1)
        has_l, has_r = left >= 0, right < w
        d_l, d_r = d.gather(1, left.clamp(min=0)), d.gather(1, right.clamp(max=w - 1))
        take_r = has_r & (~has_l | (d_r < d_l) | (~(d_l < d_r) & (scale > 0)))
        length = right - left - 1
        shift = torch.where(take_r, length + r + 1, -(length + r + 1))
        ys, xs = torch.nonzero(hole & (length >= min_run), as_tuple=True)
        pos = torch.full((h, w), -1, dtype=torch.int64, device=hole.device)
        pos[ys, xs] = torch.arange(ys.numel(), device=hole.device)
        longest = int(length[hole].max()) if ys.numel() else 0
        return _Field(ys, xs, pos, torch.zeros_like(ys), shift[ys, xs].to(torch.int64), longest)


def _sources(hole: Tensor, disp: Tensor, r: int) -> tuple[Tensor, Tensor]:
    """Per centre: is the whole (2r+1)^2 patch inside and known, and its largest disparity (inf if not)."""
    k = 2 * r + 1
    known = (~hole).to(torch.float32)[None, None]
    full = F.avg_pool2d(F.pad(known, (r, r, r, r)), k, stride=1)[0, 0] >= 1.0
    d = torch.where(hole, float("-inf"), disp.to(torch.float32))
    dmax = F.max_pool2d(F.pad(d[None, None], (r, r, r, r), value=float("inf")), k, stride=1)[0, 0]
    return full.contiguous(), torch.where(full, dmax, float("inf")).contiguous()


def _run_numba(img: Tensor, hole: Tensor, disp: Tensor, bg: Tensor, field: _Field, r: int, radius: int,
               iterations: int, rounds: int, tries: int, tol: float, seed: int) -> Tensor:
    src_ok, src_dmax = _sources(hole, disp, r)
    est = img.clone().contiguous()
    hole_np, dt_np, bg_np = hole.contiguous().numpy(), as_f32_array(disp), as_f32_array(bg)
    ok_np, dmax_np = src_ok.numpy(), src_dmax.numpy()
    ys, xs, pos = field.ys.numpy(), field.xs.numpy(), field.pos.numpy()
    oy, ox = field.oy.numpy().copy(), field.ox.numpy().copy()
    cost = torch.empty(ys.size, dtype=torch.float32).numpy()
    for rnd in range(rounds):
        e = est.numpy()
        _inpaint_numba.pm_costs(e, hole_np, dt_np, bg_np, ok_np, dmax_np, ys, xs, oy, ox, r, float(tol), cost)
        for it in range(iterations):
            oy2, ox2, cost2 = oy.copy(), ox.copy(), cost.copy()
            _inpaint_numba.pm_iteration(e, hole_np, dt_np, bg_np, ok_np, dmax_np, ys, xs, pos, oy, ox, cost,
                                        oy2, ox2, cost2, r, int(radius), float(tol),
                                        _key(seed, rnd, it), int(tries))
            oy, ox, cost = oy2, ox2, cost2
        voted = est.clone()
        _inpaint_numba.pm_vote(e, ys, xs, pos, oy, ox, cost, r, voted.numpy())
        est = voted
    return est


def _key(seed: int, rnd: int, it: int) -> int:
    """Per-iteration hash key, identical for both paths."""
    return (seed * 0x27D4EB2F + rnd * 0x165667B1 + it * 0x61C88647) & _M32


def _mul32(x: Tensor, c: int) -> Tensor:
    return (x * (c & 0xFFFF) & _M32) + ((x * (c >> 16) & 0xFFFF) << 16) & _M32


def _mix32(x: Tensor) -> Tensor:
    x = x & _M32
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


class _TorchSearch:
    """Vectorised PatchMatch over one image's hole pixels; the reference of the numba kernels."""

    def __init__(self, hole: Tensor, disp: Tensor, bg: Tensor, field: _Field, r: int, tol: float) -> None:
        self.hole, self.r = hole, r
        self.dt = disp.to(torch.float32)
        self.src_ok, self.src_dmax = _sources(hole, disp, r)
        self.ys, self.xs, self.pos = field.ys, field.xs, field.pos
        self.lim = bg.to(torch.float32)[self.ys, self.xs] + torch.tensor(tol, dtype=torch.float32, device=hole.device)

    def valid(self, oy: Tensor, ox: Tensor) -> Tensor:
        h, w = self.hole.shape
        qy, qx = self.ys + oy, self.xs + ox
        inside = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
        qy, qx = qy.clamp(0, h - 1), qx.clamp(0, w - 1)
        return inside & self.src_ok[qy, qx] & (self.src_dmax[qy, qx] <= self.lim)

    def cost(self, est: Tensor, oy: Tensor, ox: Tensor, ok: Tensor) -> Tensor:
        """SSD of every pixel's patch against its candidate (inf where not `ok`), the kernel's summation order."""
        c, h, w = est.shape
        total = torch.zeros(self.ys.shape, dtype=torch.float32, device=est.device)
        for dy in range(-self.r, self.r + 1):
            for dx in range(-self.r, self.r + 1):
                ty, tx = self.ys + dy, self.xs + dx
                inside = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
                ty, tx = ty.clamp(0, h - 1), tx.clamp(0, w - 1)
                part = inside & (self.hole[ty, tx] | (self.dt[ty, tx] <= self.lim))
                sy, sx = (ty + oy).clamp(0, h - 1), (tx + ox).clamp(0, w - 1)
                for ch in range(c):
                    e = est[ch, ty, tx] - est[ch, sy, sx]
                    total = total + torch.where(part, e * e, 0.0)
        return torch.where(ok, total, float("inf"))

    def iterate(self, est: Tensor, oy: Tensor, ox: Tensor, cost: Tensor, radius: int, key: int,
                tries: int) -> tuple[Tensor, Tensor, Tensor]:
        h, w = self.hole.shape
        by, bx, best = oy.clone(), ox.clone(), cost.clone()
        for s in (1, 2, 4):
            for ny_d, nx_d in ((0, -s), (0, s), (-s, 0), (s, 0)):
                ny, nx = self.ys + ny_d, self.xs + nx_d
                inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
                j = self.pos[ny.clamp(0, h - 1), nx.clamp(0, w - 1)]
                usable = inside & (j >= 0)
                j = j.clamp(min=0)
                usable &= cost[j] < float("inf")
                cy, cx = oy[j], ox[j]
                self._offer(est, cy, cx, usable, by, bx, best)
        k = torch.arange(self.ys.numel(), device=est.device, dtype=torch.int64)
        for m in range(tries):
            rad = max(radius >> m, 1)
            hsh = _mix32(key + _mul32(k, 0x9E3779B1) + _mul32(torch.full_like(k, m), 0x85EBCA77))
            ry = hsh % (2 * rad + 1) - rad
            rx = _mix32(hsh ^ 0x68E31DA4) % (2 * rad + 1) - rad
            self._offer(est, by + ry, bx + rx, torch.ones_like(k, dtype=torch.bool), by, bx, best)
        return by, bx, best

    def _offer(self, est: Tensor, cy: Tensor, cx: Tensor, usable: Tensor, by: Tensor, bx: Tensor,
               best: Tensor) -> None:
        """Replace (in place) the best offsets where the candidate is valid and strictly cheaper."""
        ok = usable & ((cy != by) | (cx != bx)) & self.valid(cy, cx)
        c = self.cost(est, cy, cx, ok)
        better = ok & (c < best)
        by.copy_(torch.where(better, cy, by))
        bx.copy_(torch.where(better, cx, bx))
        best.copy_(torch.where(better, c, best))

    def vote(self, est: Tensor, oy: Tensor, ox: Tensor, cost: Tensor) -> Tensor:
        c, h, w = est.shape
        acc = torch.zeros((c, self.ys.numel()), dtype=torch.float32, device=est.device)
        cnt = torch.zeros(self.ys.shape, dtype=torch.float32, device=est.device)
        for dy in range(-self.r, self.r + 1):
            for dx in range(-self.r, self.r + 1):
                py, px = self.ys - dy, self.xs - dx
                inside = (py >= 0) & (py < h) & (px >= 0) & (px < w)
                j = self.pos[py.clamp(0, h - 1), px.clamp(0, w - 1)]
                use = inside & (j >= 0)
                j = j.clamp(min=0)
                use &= cost[j] < float("inf")
                sy, sx = (self.ys + oy[j]).clamp(0, h - 1), (self.xs + ox[j]).clamp(0, w - 1)
                acc = acc + torch.where(use.unsqueeze(0), est[:, sy, sx], 0.0)
                cnt = cnt + use.to(torch.float32)
        out = est.clone()
        have = cnt > 0
        out[:, self.ys[have], self.xs[have]] = acc[:, have] / cnt[have].unsqueeze(0)
        return out


def _run_torch(img: Tensor, hole: Tensor, disp: Tensor, bg: Tensor, field: _Field, r: int, radius: int,
               iterations: int, rounds: int, tries: int, tol: float, seed: int) -> Tensor:
    search = _TorchSearch(hole, disp, bg, field, r, tol)
    oy, ox = field.oy.clone(), field.ox.clone()
    est = img.clone()
    for rnd in range(rounds):
        cost = search.cost(est, oy, ox, search.valid(oy, ox))
        for it in range(iterations):
            oy, ox, cost = search.iterate(est, oy, ox, cost, radius, _key(seed, rnd, it), tries)
        est = search.vote(est, oy, ox, cost)
    return est
