"""Depth-edge handling of a synthesised view: the foreground halo, and anti-aliased layer boundaries.

Real images are anti-aliased: a pixel on an object's outline mixes foreground and background colour,
and depth maps (even ground truth) do not follow outlines to the pixel. Two things follow for a view
rendered by a z-buffered splat:

* **Halo.** The background pixels just outside a foreground outline carry some foreground colour. In
  the synthesised view they land on the far side of the disocclusion the foreground opens, and a row
  fill from the background side copies that foreground tint across the whole hole (the striped,
  "ghost contour" fill). :func:`background_halo` grows every hole run by a pixel or two into its
  background side, so those pixels are filled with the hole instead of feeding it.
* **Hard layer edges.** The splat composites layers with a hard z-test, so the moved foreground ends
  in a staircase edge. :func:`soften_edges` gives the background pixel next to every depth edge a
  share of the foreground's colour, the way the camera's pixel footprint mixes them.

Both work on rows (disparity moves pixels along rows only); the torch paths are the references, the
numba CPU kernels agree with them bit for bit.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from engine.ops import _edges_numba
from engine.ops._splat_numba import as_f32_array, use_numba

HALO_MIN_STEP_PX = 0.5
EDGE_MIN_STEP_PX = 1.5


def background_halo(
    holes: Tensor,
    target_disparity: Tensor,
    scale: float,
    width: int = 1,
    *,
    min_step_px: float = HALO_MIN_STEP_PX,
    backend: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Grow each hole run by `width` pixels into its background side.

    A run's background side is the end with the smaller disparity; runs whose two ends differ by no
    more than `min_step_px` in the target view (a stretched slope, not a depth edge) and runs touching
    the row's end are left alone. Only pixels that were not holes are added; growth stops at the next
    hole.

    Args:
        holes: (B, 1, H, W) bool, the splat's holes.
        target_disparity: (B, 1, H, W) float, the splat's target-view disparity (source units, NaN in holes).
        scale: the splat scale; a step counts in target pixels, |scale| * (d_fg - d_bg).
        width: pixels to add on the background side (0 = none).
        min_step_px: smallest end-to-end step, in target pixels, that counts as a depth edge.
        backend: "auto" | "numba" | "torch".
    Returns:
        grown holes (B, 1, H, W) bool and the target disparity (B, 1, H, W) float32 with NaN at the added pixels.
    """
    _check_maps(holes, target_disparity, scale)
    if width < 0:
        raise ValueError(f"width must be >= 0, got {width}")
    if not (math.isfinite(min_step_px) and min_step_px >= 0):
        raise ValueError(f"min_step_px must be finite and >= 0, got {min_step_px}")
    disp = target_disparity.detach().to(torch.float32)
    if width == 0:
        return holes.clone(), disp.clone()
    step = float(min_step_px) / abs(scale) if scale != 0 else math.inf
    if use_numba(holes.device, backend):
        b, _, h, w = holes.shape
        grown = holes.contiguous().clone()
        out_disp = disp.contiguous().clone()
        _edges_numba.grow_halo(holes.contiguous().numpy().reshape(b, h, w), as_f32_array(disp).reshape(b, h, w),
                               int(width), float(step), grown.numpy().reshape(b, h, w),
                               out_disp.numpy().reshape(b, h, w))
        return grown, out_disp
    return _halo_torch(holes, disp, int(width), step)


def soften_edges(
    image: Tensor,
    disparity: Tensor,
    scale: float,
    weight: float = 0.25,
    *,
    min_step_px: float = EDGE_MIN_STEP_PX,
    backend: str = "auto",
) -> Tensor:
    """Blend a share of the foreground's colour into the background pixel beside every depth edge.

    Along each row, wherever the disparity steps by more than `min_step_px` target pixels between x-1
    and x, the pixel on the farther side becomes (1 - weight) * itself + weight * its nearer neighbour.
    Every pixel reads the input only (a pixel between two edges gets both shares).

    Args:
        image: (B, C, H, W) float, a complete (filled) view.
        disparity: (B, 1, H, W) float, its disparity (holes given their background disparity; NaN = no edge).
        scale: the splat scale that made the view (steps count as |scale| * Δd).
        weight: the foreground share, in [0, 1] (0 returns a copy).
        min_step_px: smallest step, in target pixels, that is a depth edge.
        backend: "auto" | "numba" | "torch".
    Returns:
        (B, C, H, W), same dtype and device as `image`.
    """
    _check_maps(torch.zeros_like(disparity, dtype=torch.bool), disparity, scale)
    if image.ndim != 4 or not image.is_floating_point() or image.shape[2:] != disparity.shape[2:] \
            or image.shape[0] != disparity.shape[0]:
        raise ValueError(f"image must be a float (B, C, H, W) tensor matching disparity {tuple(disparity.shape)}, "
                         f"got {tuple(image.shape)} {image.dtype}")
    if not (0.0 <= weight <= 1.0):
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    step = float(min_step_px) / abs(scale) if scale != 0 else math.inf
    if use_numba(image.device, backend):
        b, c, h, w = image.shape
        out = torch.empty((b, c, h, w), dtype=torch.float32)
        _edges_numba.soften_rows(as_f32_array(image), as_f32_array(disparity).reshape(b, h, w), float(step),
                                 float(weight), out.numpy())
        return out.to(image.dtype)
    return _soften_torch(image, disparity, step, weight)


def _check_maps(holes: Tensor, disparity: Tensor, scale: float) -> None:
    if holes.ndim != 4 or holes.shape[1] != 1 or holes.dtype != torch.bool:
        raise ValueError(f"holes must be a (B, 1, H, W) bool tensor, got {tuple(holes.shape)} {holes.dtype}")
    if tuple(disparity.shape) != tuple(holes.shape) or not disparity.is_floating_point():
        raise ValueError(f"disparity must be a float tensor of shape {tuple(holes.shape)}, got "
                         f"{tuple(disparity.shape)} {disparity.dtype}")
    if disparity.device != holes.device:
        raise ValueError(f"holes are on {holes.device} but disparity on {disparity.device}")
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale}")


def _halo_torch(holes: Tensor, disp: Tensor, width: int, step: float) -> tuple[Tensor, Tensor]:
    """Vectorised reference: each non-hole pixel looks up the nearest hole on either side and its run's ends."""
    b, _, h, w = holes.shape
    hol = holes.reshape(b * h, w)
    d = disp.reshape(b * h, w)
    xs = torch.arange(w, device=holes.device).expand(b * h, w)
    # known ends of the run each hole pixel belongs to (-1 / w when the run touches the row's end)
    left_end = torch.where(hol, -1, xs).cummax(dim=1).values
    right_end = torch.where(hol, w, xs).flip(1).cummin(dim=1).values.flip(1)
    both = (left_end >= 0) & (right_end < w)
    d_l = d.gather(1, left_end.clamp(min=0))
    d_r = d.gather(1, right_end.clamp(max=w - 1))
    st = torch.tensor(step, dtype=torch.float32, device=holes.device)
    bg_right = hol & both & (d_l - d_r > st)
    bg_left = hol & both & (d_r - d_l > st)
    # nearest hole pixel on each side of every pixel
    near_l = torch.where(hol, xs, -1).cummax(dim=1).values
    prev_hole = torch.full_like(near_l, -1)
    prev_hole[:, 1:] = near_l[:, :-1]
    near_r = torch.where(hol, xs, w).flip(1).cummin(dim=1).values.flip(1)
    next_hole = torch.full_like(near_r, w)
    next_hole[:, :-1] = near_r[:, 1:]
    from_left = (prev_hole >= 0) & (xs - prev_hole <= width) & bg_right.gather(1, prev_hole.clamp(min=0))
    from_right = (next_hole < w) & (next_hole - xs <= width) & bg_left.gather(1, next_hole.clamp(max=w - 1))
    add = ~hol & (from_left | from_right)
    grown = (hol | add).view(b, 1, h, w)
    out_disp = torch.where(add, float("nan"), d).view(b, 1, h, w)
    return grown, out_disp


def _soften_torch(image: Tensor, disparity: Tensor, step: float, weight: float) -> Tensor:
    """Vectorised reference of :func:`soften_edges` (float32, the kernel's operation order)."""
    img = image.to(torch.float32)
    d = disparity.to(torch.float32)
    wt = torch.tensor(weight, dtype=torch.float32, device=image.device)
    st = torch.tensor(step, dtype=torch.float32, device=image.device)
    jump = d[..., 1:] - d[..., :-1]  # (B, 1, H, W-1): between x-1 and x
    zero = torch.zeros_like(img[..., :1])
    # pixel x-1 is the farther side of a step up at x: it takes a share of x
    up = jump > st
    share_next = torch.cat([torch.where(up, wt * (img[..., 1:] - img[..., :-1]), 0.0), zero], dim=-1)
    # pixel x is the farther side of a step down at x: it takes a share of x-1
    down = jump < -st
    share_prev = torch.cat([zero, torch.where(down, wt * (img[..., :-1] - img[..., 1:]), 0.0)], dim=-1)
    return (img + share_next + share_prev).to(image.dtype)
