"""Z-buffered forward warp (splat) of an image by its disparity.

Each image row is treated as a 1-D piecewise-linear mesh: source pixel x lands at
t(x) = x - scale * d(x) in the target row, and neighbouring pixels x, x+1 are
joined by a segment that is rasterised into every target pixel centre j with
t(x) <= j < t(x+1), interpolating colour and disparity linearly. A segment is
dropped when it stretches beyond ``1 + discontinuity`` target pixels (a depth
edge opening a disocclusion, which becomes a hole) or folds over (t(x+1) <= t(x),
an occlusion, where the nearer surface wins anyway). The first and last pixel of
every run of segments also cover half a pixel beyond themselves, so an isolated
pixel behaves as a nearest-pixel splat and an integer shift reproduces the image
exactly. Where several candidates land on one target pixel the larger disparity
(nearer) wins; on equal disparity the later one in source order.

The torch path here is the reference (and the CUDA path); on CPU the public
functions dispatch to the numba kernels in :mod:`engine.ops._splat_numba`, held
equal to it by tests.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from engine.ops import _splat_numba

DISCONTINUITY_PX = 1.0
_EMPTY = torch.iinfo(torch.int64).min
_IDX_BITS = 1 << 32


def splat(
    image: Tensor, disparity: Tensor, scale: float = 1.0, *, backend: str = "auto"
) -> tuple[Tensor, Tensor]:
    """Forward-warp `image` by `disparity` with a z-buffer (larger disparity = nearer wins).

    Args:
        image: (B, C, H, W) float.
        disparity: (B, 1, H, W) px; target x = x_source - scale * disparity. Non-finite
            values (NaN, inf) do not splat and never win the z-test.
        scale: 1 = right view from left, -1 = left from right, +0.5 / -0.5 = right / left
            eye from a centre view.
        backend: "auto" (numba on CPU, torch elsewhere), "numba" or "torch".
    Returns:
        warped (B, C, H, W) in `image`'s dtype (0 in holes; computed in float32) and holes
        (B, 1, H, W) bool (True = nothing landed = disocclusion).
    """
    warped, holes, _ = splat_with_disparity(image, disparity, scale, backend=backend)
    return warped, holes


def splat_with_disparity(
    image: Tensor,
    disparity: Tensor,
    scale: float = 1.0,
    *,
    backend: str = "auto",
    discontinuity: float = DISCONTINUITY_PX,
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`splat`, also returning the z-buffer winner's disparity in the target view.

    Args:
        image: (B, C, H, W) float.
        disparity: (B, 1, H, W) px, as in :func:`splat`.
        scale: as in :func:`splat`.
        backend: "auto" | "numba" | "torch".
        discontinuity: a segment between neighbours is dropped (left as a hole) when it
            stretches by more than this many target pixels, i.e. scale * (d(x) - d(x+1)) > it.
    Returns:
        warped (B, C, H, W), holes (B, 1, H, W) bool, and the warped disparity
        (B, 1, H, W) float32: the unscaled source disparity of the winner, NaN in holes.
    """
    _check_inputs(image, disparity, scale, discontinuity)
    max_len = 1.0 + discontinuity
    n_seg = math.ceil(max_len)
    if _splat_numba.use_numba(image.device, backend):
        return _splat_numba_path(image, disparity, scale, max_len, n_seg)
    return _splat_torch(image, disparity, scale, max_len, n_seg)


def _check_inputs(image: Tensor, disparity: Tensor, scale: float, discontinuity: float) -> None:
    if image.ndim != 4 or not image.is_floating_point():
        raise ValueError(f"image must be a float (B, C, H, W) tensor, got {tuple(image.shape)} {image.dtype}")
    b, _, h, w = image.shape
    if tuple(disparity.shape) != (b, 1, h, w):
        raise ValueError(f"disparity must be (B, 1, H, W) = {(b, 1, h, w)}, got {tuple(disparity.shape)}")
    if disparity.device != image.device:
        raise ValueError(f"image is on {image.device} but disparity on {disparity.device}")
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale}")
    if not (0.0 <= discontinuity <= 8.0):
        raise ValueError(f"discontinuity must be in [0, 8] px, got {discontinuity}")


def _splat_numba_path(
    image: Tensor, disparity: Tensor, scale: float, max_len: float, n_seg: int
) -> tuple[Tensor, Tensor, Tensor]:
    b, c, h, w = image.shape
    img = _splat_numba.as_f32_array(image)
    disp = _splat_numba.as_f32_array(disparity).reshape(b, h, w)
    out = torch.empty((b, c, h, w), dtype=torch.float32)
    holes = torch.empty((b, 1, h, w), dtype=torch.bool)
    out_disp = torch.empty((b, 1, h, w), dtype=torch.float32)
    _splat_numba.splat_rows(
        img, disp, float(scale), float(max_len), int(n_seg),
        out.numpy(), holes.numpy().reshape(b, h, w), out_disp.numpy().reshape(b, h, w),
    )
    return out.to(image.dtype), holes, out_disp


def _splat_torch(
    image: Tensor, disparity: Tensor, scale: float, max_len: float, n_seg: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Vectorised reference: candidates -> packed (disparity, order) keys -> scatter amax -> gather."""
    b, c, h, w = image.shape
    d = disparity.detach().to(torch.float32).reshape(b * h, w)
    geo = _row_geometry(d, scale, max_len)
    j, dj, covered = _candidates(d, geo, n_seg)
    n_slot = n_seg + 2
    rows = torch.arange(b * h, device=d.device).view(-1, 1, 1)
    target = torch.where(covered, rows * w + j.clamp(0, w - 1).long(), b * h * w)
    order = torch.arange(w * n_slot, device=d.device).view(1, w, n_slot)
    key = _sortable(dj + 0.0) * _IDX_BITS + order
    best = torch.full((b * h * w + 1,), _EMPTY, dtype=torch.int64, device=d.device)
    best.scatter_reduce_(0, target.reshape(-1), key.reshape(-1), reduce="amax", include_self=True)
    best = best[:-1].view(b * h, w)
    holes = best == _EMPTY
    winner = torch.where(holes, 0, best & (_IDX_BITS - 1))
    return _gather_winners(image, d, geo, winner // n_slot, winner % n_slot, holes, n_seg)


def _row_geometry(d: Tensor, scale: float, max_len: float) -> dict[str, Tensor]:
    """Per-pixel target position, finiteness, segment length/validity and run ends.

    Args:
        d: (N, W) float32 disparity rows.
    Returns:
        dict of (N, W) tensors: t, fin, seg_len (NaN in the last column), seg, left_cap, right_cap.
    """
    w = d.shape[1]
    xs = torch.arange(w, device=d.device, dtype=torch.float32)
    fin = torch.isfinite(d)
    t = xs - d * torch.tensor(scale, dtype=torch.float32, device=d.device)
    seg_len = torch.full_like(t, float("nan"))
    seg_len[:, :-1] = t[:, 1:] - t[:, :-1]
    seg = torch.zeros_like(fin)
    seg[:, :-1] = fin[:, :-1] & fin[:, 1:]
    seg &= (seg_len > 0) & (seg_len <= max_len)
    prev_seg = torch.zeros_like(seg)
    prev_seg[:, 1:] = seg[:, :-1]
    return {"t": t, "fin": fin, "seg_len": seg_len, "seg": seg,
            "left_cap": fin & ~prev_seg, "right_cap": fin & ~seg}


def _candidates(d: Tensor, geo: dict[str, Tensor], n_seg: int) -> tuple[Tensor, Tensor, Tensor]:
    """Every (source pixel, slot) candidate: slot 0 left cap, 1..n_seg segment pixels, last right cap.

    Returns:
        j (N, W, n_seg + 2) float32 target column, dj same shape candidate disparity,
        covered same shape bool (candidate exists and lands inside the row).
    """
    w = d.shape[1]
    t, seg_len = geo["t"], geo["seg_len"]
    t1 = torch.full_like(t, float("nan"))
    t1[:, :-1] = t[:, 1:]
    d1 = torch.zeros_like(d)
    d1[:, :-1] = d[:, 1:]
    j0 = torch.ceil(t)
    ks = torch.arange(n_seg, device=d.device, dtype=torch.float32)
    j_seg = j0.unsqueeze(-1) + ks
    a = (j_seg - t.unsqueeze(-1)) / seg_len.unsqueeze(-1)
    d_seg = (1 - a) * d.unsqueeze(-1) + a * d1.unsqueeze(-1)
    cov_seg = geo["seg"].unsqueeze(-1) & (j_seg < t1.unsqueeze(-1))
    j_left = torch.ceil(t - 0.5)
    cov_left = geo["left_cap"] & (j_left < t)
    cov_right = geo["right_cap"] & (j0 < t + 0.5)
    j = torch.cat([j_left.unsqueeze(-1), j_seg, j0.unsqueeze(-1)], dim=-1)
    dj = torch.cat([d.unsqueeze(-1), d_seg, d.unsqueeze(-1)], dim=-1)
    covered = torch.cat([cov_left.unsqueeze(-1), cov_seg, cov_right.unsqueeze(-1)], dim=-1)
    covered &= (j >= 0) & (j < w)
    return j, torch.where(covered, dj, 0.0), covered


def _sortable(values: Tensor) -> Tensor:
    """Map float32 to int64 keys with the same order (no NaN; -0.0 must be normalised first)."""
    bits = values.contiguous().view(torch.int32)
    return torch.where(bits >= 0, bits, bits ^ 0x7FFFFFFF).to(torch.int64)


def _gather_winners(
    image: Tensor, d: Tensor, geo: dict[str, Tensor], src_x: Tensor, slot: Tensor, holes: Tensor, n_seg: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Recompute each winner's colour and disparity exactly as the candidate stage did."""
    b, c, h, w = image.shape
    is_seg = (slot >= 1) & (slot <= n_seg)
    src_x1 = (src_x + 1).clamp(max=w - 1)
    jf = torch.arange(w, device=d.device, dtype=torch.float32).expand_as(d)
    t0 = geo["t"].gather(1, src_x)
    a = torch.where(is_seg, (jf - t0) / geo["seg_len"].gather(1, src_x), 0.0)
    d0, d1 = d.gather(1, src_x), d.gather(1, src_x1)
    out_disp = torch.where(is_seg, (1 - a) * d0 + a * d1, d0)
    out_disp = torch.where(holes, float("nan"), out_disp).view(b, 1, h, w)
    img = image.to(torch.float32) if image.dtype != torch.float32 else image
    ix0 = src_x.view(b, 1, h, w).expand(b, c, h, w)
    ix1 = src_x1.view(b, 1, h, w).expand(b, c, h, w)
    c0, c1 = img.gather(3, ix0), img.gather(3, ix1)
    a4, seg4, holes4 = a.view(b, 1, h, w), is_seg.view(b, 1, h, w), holes.view(b, 1, h, w)
    warped = torch.where(seg4, (1 - a4) * c0 + a4 * c1, c0)
    warped = torch.where(holes4, 0.0, warped)
    return warped.to(image.dtype), holes4, out_disp
