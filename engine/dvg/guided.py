"""Disparity-guided sampling of working-resolution flow fields at full resolution (torch reference).

DVG computes flow, its confidence and their carriage into the target view at the flow's
working resolution (:mod:`engine.dvg.fields`). A full-resolution pixel reads those fields
at its four bilinear taps, but only from taps on *its own surface*: a tap counts when its
working-resolution disparity is within `tol` px of the pixel's full-resolution disparity
(joint-bilateral upsampling with a hard range kernel). Gated taps are averaged with their
bilinear weights (confidence: their minimum, so a pixel is confident only when all its
same-surface support is); when no tap is on the pixel's surface the closest-disparity tap is
used as it is. At a depth edge a pixel therefore takes the flow of its own layer, not a blend
of foreground and background motion. When the fields are already at full resolution every
pixel reads exactly its own value.

The numba kernels in :mod:`engine.dvg._numba` implement the same arithmetic (float64, same
order); tests hold them equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Geometry:
    """Working (h, w) vs full (H, W) resolution.

    Attributes:
        ry, rx: h / H and w / W (full pixel centre -> working coordinate).
        vx, vy: W / w and H / h (working px of flow -> full px).
        inv_d: W / w (working px of disparity -> full px).
    """

    h: int
    w: int
    big_h: int
    big_w: int

    @property
    def ry(self) -> float:
        return self.h / self.big_h

    @property
    def rx(self) -> float:
        return self.w / self.big_w

    @property
    def vx(self) -> float:
        return self.big_w / self.w

    @property
    def vy(self) -> float:
        return self.big_h / self.h

    @property
    def inv_d(self) -> float:
        return self.big_w / self.w

    def kernel_args(self) -> tuple[float, float, float, float, float]:
        """(ry, rx, inv_d, vx, vy) in the numba kernels' argument order."""
        return self.ry, self.rx, self.inv_d, self.vx, self.vy


@dataclass(frozen=True)
class Taps:
    """Gated bilinear taps of N full-resolution pixels (shared by every neighbour's fields).

    Attributes:
        ty, tx: 4 (N,) int64 working rows / columns, order (y0,x0), (y0,x1), (y1,x0), (y1,x1).
        wt: 4 (N,) float64 gated bilinear weights (0 for a tap off the pixel's surface).
        best: (N,) int64 tap used when no weight is gated (closest disparity).
    """

    ty: list[Tensor]
    tx: list[Tensor]
    wt: list[Tensor]
    best: Tensor

    def select(self, index: Tensor) -> Taps:
        """The taps of a subset of the pixels."""
        return Taps([t[index] for t in self.ty], [t[index] for t in self.tx], [t[index] for t in self.wt],
                    self.best[index])


def guided_sample(
    fields: Tensor, guide_small: Tensor, guide_full: Tensor, ys: Tensor, xs: Tensor, geo: Geometry, tol: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Sample every neighbour's fields at full-resolution pixels (ys, xs).

    Args:
        fields: (n, 3, h, w) float32: flow u, v in working px and confidence C, per neighbour.
        guide_small: (h, w) float32 working-resolution disparity (working px).
        guide_full: (N,) disparity (px) of the sampled pixels (NaN: no surface, closest tap rule
            falls back to the largest bilinear weight).
        ys, xs: (N,) int64 full-resolution rows / columns.
        geo: the two resolutions.
        tol: px; taps within it of the pixel's disparity are the same surface.
    Returns:
        u, v (n, N) float64 flow in full px, and c (n, N) float64 confidence.
    """
    taps = gate_taps(guide_small, guide_full, ys, xs, geo, tol)
    samples = [sample_taps(fields[k], taps, geo) for k in range(fields.shape[0])]
    return tuple(torch.stack([s[i] for s in samples]) if samples else
                 torch.empty((0, ys.shape[0]), dtype=torch.float64, device=fields.device) for i in range(3))


def sample_taps(field: Tensor, taps: Taps, geo: Geometry) -> tuple[Tensor, Tensor, Tensor]:
    """One neighbour's (3, h, w) fields at gated taps: u, v (N,) float64 in full px and c (N,)."""
    f = field.to(torch.float64)
    values = [f[:, taps.ty[t], taps.tx[t]] for t in range(4)]  # each (3, N)
    wsum = taps.wt[0] + taps.wt[1] + taps.wt[2] + taps.wt[3]
    su = torch.zeros_like(wsum)
    sv = torch.zeros_like(wsum)
    cmin = torch.full_like(wsum, float("inf"))
    for t in range(4):
        on = taps.wt[t] > 0
        su = su + torch.where(on, taps.wt[t] * values[t][0], 0.0)
        sv = sv + torch.where(on, taps.wt[t] * values[t][1], 0.0)
        cmin = torch.where(on, torch.minimum(cmin, values[t][2]), cmin)
    pick = torch.stack(values, dim=0).gather(0, taps.best.view(1, 1, -1).expand(1, 3, -1))[0]
    gated = wsum > 0
    safe = torch.where(gated, wsum, 1.0)
    u = torch.where(gated, su / safe * geo.vx, pick[0] * geo.vx)
    v = torch.where(gated, sv / safe * geo.vy, pick[1] * geo.vy)
    return u, v, torch.where(gated, cmin, pick[2])


def gate_taps(
    guide_small: Tensor, guide_full: Tensor, ys: Tensor, xs: Tensor, geo: Geometry, tol: float
) -> Taps:
    """Taps, gated weights and the fallback tap of pixels (ys, xs), as the numba `_gate`.

    Args:
        guide_small: (h, w) working disparity (working px). guide_full: (N,) the pixels' disparity (px).
        ys, xs: (N,) int64. geo: the two resolutions. tol: same-surface tolerance (px).
    """
    h, w = geo.h, geo.w
    g = guide_full.to(torch.float64)
    sy = ((ys.to(torch.float64) + 0.5) * geo.ry - 0.5).clamp(0.0, h - 1.0)
    sx = ((xs.to(torch.float64) + 0.5) * geo.rx - 0.5).clamp(0.0, w - 1.0)
    y0, x0 = sy.long(), sx.long()
    fy, fx = sy - y0, sx - x0
    y1, x1 = (y0 + 1).clamp(max=h - 1), (x0 + 1).clamp(max=w - 1)
    ty = [y0, y0, y1, y1]
    tx = [x0, x1, x0, x1]
    full = [(1.0 - fy) * (1.0 - fx), (1.0 - fy) * fx, fy * (1.0 - fx), fy * fx]
    gs = guide_small.to(torch.float64)
    best = torch.full_like(ys, -1)
    best_d = torch.full_like(g, float("inf"))
    best_w = torch.full_like(g, -1.0)
    wt = []
    for t in range(4):
        pos = full[t] > 0
        dd = (gs[ty[t], tx[t]] * geo.inv_d - g).abs().nan_to_num(nan=float("inf"))
        wt.append(torch.where(pos & (dd <= tol), full[t], 0.0))
        better = pos & ((best < 0) | (dd < best_d) | ((dd == best_d) & (full[t] > best_w)))
        best = torch.where(better, t, best)
        best_d = torch.where(better, dd, best_d)
        best_w = torch.where(better, full[t], best_w)
    return Taps(ty, tx, wt, best.clamp(min=0))


def upsample_fields(fields: Tensor, guide_small: Tensor, guide_full: Tensor, tol: float) -> Tensor:
    """Guided upsampling of all fields to every full-resolution pixel.

    Args:
        fields: (n, 3, h, w) float32 u, v (working px), C.
        guide_small: (h, w) float32 working-resolution disparity (working px).
        guide_full: (H, W) float32 full-resolution disparity (px).
        tol: px, as in :func:`guided_sample`.
    Returns:
        (n, 3, H, W) float64: u, v in full px, C.
    """
    big_h, big_w = guide_full.shape
    geo = Geometry(fields.shape[2], fields.shape[3], big_h, big_w)
    rows = torch.arange(big_h, device=fields.device)
    ys, xs = torch.meshgrid(rows, torch.arange(big_w, device=fields.device), indexing="ij")
    u, v, c = guided_sample(fields, guide_small, guide_full.reshape(-1), ys.reshape(-1), xs.reshape(-1), geo,
                            tol)
    return torch.stack([u, v, c], dim=1).view(fields.shape[0], 3, big_h, big_w)
