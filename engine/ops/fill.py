"""Baseline disocclusion fill: background-side row fill, then OpenCV Telea for what remains.

A disocclusion shows what was hidden behind a foreground edge, so each hole run in a
row is filled with the colour of its *background-side* neighbour — the one with the
smaller disparity (farther) — never the foreground's. A run touching one image edge
takes its only neighbour; only runs spanning a whole row are left to Telea
(``cv2.inpaint``), which in ordinary frames is nothing.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from engine.opencv import cv2
from engine.ops import _splat_numba

TELEA_RADIUS = 3


def fill_holes(
    image: Tensor,
    holes: Tensor,
    disparity_target: Tensor,
    scale: float,
    *,
    backend: str = "auto",
    inplace: bool = False,
) -> Tensor:
    """Fill disocclusion holes from the background side, then Telea for what remains.

    Args:
        image: (B, C, H, W) float, the warped view (hole pixels' values are ignored).
        holes: (B, 1, H, W) bool, True = to fill.
        disparity_target: (B, 1, H, W) disparity of the warped view (from
            :func:`engine.ops.splat.splat_with_disparity`); smaller = farther = background.
        scale: the splat scale that made the view; on a disparity tie its sign picks the side
            where disocclusions open (scale > 0: right of the foreground, so fill from the right).
        backend: "auto" (numba on CPU, torch elsewhere), "numba" or "torch".
        inplace: write into `image` (saves a frame copy) and return it.
    Returns:
        (B, C, H, W) filled image, same dtype and device as `image`; non-hole pixels unchanged.
    """
    _check_inputs(image, holes, disparity_target, scale)
    prefer_right = scale > 0
    if _splat_numba.use_numba(image.device, backend):
        filled, rows_left = _fill_rows_numba(image, holes, disparity_target, prefer_right, inplace)
    else:
        filled, rows_left = _fill_rows_torch(image, holes, disparity_target, prefer_right)
    if rows_left:
        filled = _telea(filled, holes.all(dim=3, keepdim=True).expand_as(holes))
    if inplace and filled is not image:
        return image.copy_(filled)
    return filled


def check_hole_maps(image: Tensor, holes: Tensor, **maps: Tensor) -> None:
    """Check a fill's inputs: image (B, C, H, W) float; holes and every named map (B, 1, H, W) on its
    device; holes bool. Raises ValueError naming the argument that is wrong."""
    if image.ndim != 4 or not image.is_floating_point():
        raise ValueError(f"image must be a float (B, C, H, W) tensor, got {tuple(image.shape)} {image.dtype}")
    b, _, h, w = image.shape
    for name, t in (("holes", holes), *maps.items()):
        if tuple(t.shape) != (b, 1, h, w):
            raise ValueError(f"{name} must be (B, 1, H, W) = {(b, 1, h, w)}, got {tuple(t.shape)}")
        if t.device != image.device:
            raise ValueError(f"image is on {image.device} but {name} on {t.device}")
    if holes.dtype != torch.bool:
        raise ValueError(f"holes must be a bool tensor, got {holes.dtype}")


def _check_inputs(image: Tensor, holes: Tensor, disparity_target: Tensor, scale: float) -> None:
    check_hole_maps(image, holes, disparity_target=disparity_target)
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale}")


def _fill_rows_numba(
    image: Tensor, holes: Tensor, disp: Tensor, prefer_right: bool, inplace: bool
) -> tuple[Tensor, int]:
    """The numba row fill; reads and writes one buffer (only hole pixels are written, only others read)."""
    b, _, h, w = image.shape
    direct = inplace and image.dtype == torch.float32 and image.is_contiguous()
    out = image if direct else image.detach().to(torch.float32, copy=True).contiguous()
    rows_left = _splat_numba.fill_rows(
        out.numpy() if direct else _splat_numba.as_f32_array(image),
        holes.contiguous().numpy().reshape(b, h, w),
        _splat_numba.as_f32_array(disp).reshape(b, h, w),
        bool(prefer_right),
        out.numpy(),
    )
    return (out if direct else out.to(image.dtype)), int(rows_left)


def _fill_rows_torch(image: Tensor, holes: Tensor, disp: Tensor, prefer_right: bool) -> tuple[Tensor, int]:
    """Vectorised reference: nearest valid pixel on each side by cummax / cummin, pick the farther.

    Returns the filled image and the number of rows left unfilled (all hole).
    """
    b, c, h, w = image.shape
    hol = holes.reshape(b * h, w)
    d = disp.detach().to(torch.float32).reshape(b * h, w)
    xs = torch.arange(w, device=image.device).expand(b * h, w)
    left = torch.where(hol, -1, xs).cummax(dim=1).values
    right = torch.where(hol, w, xs).flip(1).cummin(dim=1).values.flip(1)
    has_l, has_r = left >= 0, right < w
    d_l, d_r = d.gather(1, left.clamp(min=0)), d.gather(1, right.clamp(max=w - 1))
    take_r = has_r & (~has_l | (d_r < d_l) | (~(d_l < d_r) & prefer_right))
    src = torch.where(take_r, right, left).clamp(0, w - 1)
    fillable = (hol & (has_l | has_r)).view(b, 1, h, w)
    gathered = image.gather(3, src.view(b, 1, h, w).expand(b, c, h, w))
    rows_left = int(hol.all(dim=1).sum())
    return torch.where(fillable, gathered, image), rows_left


def _telea(image: Tensor, holes: Tensor) -> Tensor:
    """OpenCV Telea on the band of rows holding `holes` (whole-row runs), per image and channel.

    Runs on 16-bit images normalised to the band's known range: OpenCV's float32 Telea
    overshoots far outside the data (measured: values of -1.1 .. 1.8 filling a 0.2 .. 0.6 ramp).

    Args:
        image: (B, C, H, W) float. holes: (B, 1, H, W) bool.
    Returns:
        (B, C, H, W) with hole pixels inpainted.
    """
    out = image.detach().to("cpu", torch.float32).numpy().copy()
    mask_all = holes.detach().cpu().numpy()[:, 0]
    for i in range(out.shape[0]):
        mask = mask_all[i]
        if mask.all() or not mask.any():
            continue  # nothing known to inpaint from / nothing to do
        rows = np.flatnonzero(mask.any(axis=1))
        y0 = max(0, int(rows[0]) - TELEA_RADIUS - 1)
        y1 = min(mask.shape[0], int(rows[-1]) + TELEA_RADIUS + 2)
        band_mask = mask[y0:y1].astype(np.uint8)
        for ch in range(out.shape[1]):
            band = out[i, ch, y0:y1]
            out[i, ch, y0:y1] = np.where(band_mask > 0, _telea_channel(band, band_mask), band)
    return torch.from_numpy(out).to(device=image.device, dtype=image.dtype)


def _telea_channel(band: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Telea on one (h, w) float channel through uint16, scaled to its known pixels' range."""
    known = band[mask == 0]
    lo, hi = float(known.min()), float(known.max())
    if hi - lo <= 1e-12:
        return np.full_like(band, lo)
    q = np.rint((np.clip(band, lo, hi) - lo) * (65535.0 / (hi - lo))).astype(np.uint16)
    painted = cv2.inpaint(q, mask, TELEA_RADIUS, cv2.INPAINT_TELEA)
    return (painted.astype(np.float32) * np.float32((hi - lo) / 65535.0) + np.float32(lo)).astype(np.float32)
