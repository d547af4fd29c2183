"""Temporal inpainting of target-view disocclusions, with a spatial fallback.

A hole pixel p of frame t's target view (nothing landed there in the splat) is filled by the
first candidate that passes, in this order:

1. **Real content seen by a neighbour.** For k = t-1, t+1, t-2, t+2, ... t±K: frame k's own
   target-view render (its splat, before any fill) read at q = p + G_{t->k}(p), the target-view
   flow (:mod:`engine.dvg.fields`). Accepted only when the flow is trusted there (forward-
   backward consistent and brightness-constant where it was measured, >= 0.5), q lies inside the
   frame, and the source taps are real content of k (not k's holes) whose disparity is <= the
   local background disparity at p + tolerance — background only, never foreground. Bilinear
   when all four taps pass, else the nearest tap when it passes.
2. **The previous frame's final result** (t-1, already filled, before its edge blend), carried by
   G_{t->t-1}, same confidence and disparity tests, bilinear when all four taps pass (filled pixels
   count), else the nearest tap. This is what keeps a hole that no frame ever sees stable: its first
   spatial fill is carried forward instead of being redone (and flickering) every frame. Bilinear
   taps follow sub-pixel motion (nearest ones jump by a pixel now and then, the seam with them); the
   cost, a slight blur of a fill carried over many frames, is below what E_warp sees.
3. **Where the forward-backward test failed but the flow is brightness-constant**
   (:meth:`engine.dvg.fields.TargetFields.brightness_constant`: the tracking flow with brightness
   constancy alone as its confidence): t±1's real content, then the previous frame's final result,
   with the same disparity tests. A motion boundary or fast motion makes DIS inconsistent both ways
   while the background beside the hole still matches; dropping temporal information there redid the
   fill spatially every frame (the flicker beside moving objects).
4. **Spatial fill** (:func:`spatial_fill`) for whatever no frame saw: the background-side row
   fill, then the membrane fill from the background only
   (:func:`engine.ops.inpaint.diffuse_background`) — the per-frame render's default fill
   (:mod:`engine.ops.synthesis`), so the large disocclusions beside moving objects are smooth
   instead of striped (the row fill repeats one pixel per row). It is done once per hole: the
   next frame carries the result (candidate 2). The holes are the splat's grown by the halo
   (``DvgConfig.halo_px``, :mod:`engine.dvg.temporal`): the foreground-tinted pixels beside an
   outline are holes from the start, so no fill takes its background colour from them, and they
   are propagated and carried like every other hole pixel (no one-frame flicker).

The local background disparity of a hole pixel is the disparity of the background-side end of
its hole run (the same choice :func:`engine.ops.fill_holes` makes), from
``fill_holes(disparity, holes, disparity)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from engine.dvg import _numba
from engine.dvg.guided import Geometry, gate_taps, sample_taps
from engine.ops import fill_holes
from engine.ops._splat_numba import as_f32_array, use_numba
from engine.ops.inpaint import diffuse_background
from engine.ops.synthesis import SynthesisConfig

SPATIAL_ITERATIONS = 20  # as SynthesisConfig.diffuse_iterations
#: the per-frame render whose result a frame with no usable neighbour gets from DVG (default DvgConfig), bit for
#: bit: DVG's splat (linear mesh, 1 px background halo), its spatial fallback (row fill, then the membrane fill)
#: and its emitted eyes' edge blend (DvgConfig.edge_blend)
SPATIAL_SYNTHESIS = SynthesisConfig(kernel="linear", halo_px=1, fill="diffuse", edge_blend=0.25,
                                    diffuse_iterations=SPATIAL_ITERATIONS)


@dataclass(frozen=True)
class Candidate:
    """One source of fill content for frame t's target view.

    Attributes:
        view: (1, C, H, W) float32, the source frame's target view (its own splat for a real
            neighbour; the final filled result for the carried previous frame).
        holes: (1, 1, H, W) bool, the source frame's own disocclusions.
        disparity: (1, 1, H, W) float32, its background-filled target disparity (px).
        fields: (3, h, w) float32, target-view flow t -> source (working px) and confidence.
        carried: True for the previous frame's final result (its filled pixels may fill too).
    """

    view: Tensor
    holes: Tensor
    disparity: Tensor
    fields: Tensor
    carried: bool = False


def background_disparity(disparity: Tensor, holes: Tensor, scale: float, *, backend: str = "auto") -> Tensor:
    """Target-view disparity with each hole run given its background-side neighbour's disparity.

    Args:
        disparity: (B, 1, H, W) float32 target-view disparity (NaN in holes).
        holes: (B, 1, H, W) bool.
        scale: the splat scale that made the view.
    Returns:
        (B, 1, H, W) float32, equal to `disparity` outside holes.
    """
    return fill_holes(disparity, holes, disparity, scale, backend=backend)


def temporal_fill(
    view: Tensor,
    holes: Tensor,
    background: Tensor,
    guide_small: Tensor,
    candidates: Sequence[Candidate],
    scale: float,
    tol: float,
    *,
    backend: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Fill `view`'s holes in place: candidates in order, then the spatial fallback.

    Args:
        view: (1, C, H, W) float32 contiguous target view (hole values ignored), filled in place.
        holes: (1, 1, H, W) bool, its own disocclusions.
        background: (1, 1, H, W) float32 from :func:`background_disparity`.
        guide_small: (h, w) float32 working-resolution target disparity (working px) of this frame.
        candidates: in priority order.
        scale: the splat scale of this view (for the spatial fallback's tie side).
        tol: disparity tolerance (px): same surface for flow sampling; how much nearer than the
            local background a candidate may be.
        backend: "auto" (numba on CPU, torch elsewhere), "numba" or "torch".
    Returns:
        `view` (filled) and (1, 1, H, W) bool: the pixels filled from candidates.
    """
    if view.ndim != 4 or view.shape[0] != 1 or view.dtype != torch.float32 or not view.is_contiguous():
        raise ValueError(f"view must be a contiguous (1, C, H, W) float32 tensor, got {tuple(view.shape)}")
    geo = Geometry(guide_small.shape[0], guide_small.shape[1], view.shape[2], view.shape[3])
    if use_numba(view.device, backend):
        flat = np.flatnonzero(holes[0, 0].numpy())  # faster than np.nonzero on a 2-D mask
        ys, xs = (torch.from_numpy(a) for a in np.divmod(flat, view.shape[3]))
        done = _fill_numba(ys, xs, view, background, candidates, guide_small, geo, tol)
    else:
        ys, xs = torch.nonzero(holes[0, 0], as_tuple=True)
        done = _fill_torch(ys, xs, view, background, candidates, guide_small, geo, tol)
    temporal = torch.zeros_like(holes)
    temporal[0, 0, ys[done], xs[done]] = True
    if not bool(done.all()):
        remaining = holes.clone()
        remaining[0, 0, ys[done], xs[done]] = False
        spatial_fill(view, remaining, background, scale, backend=backend)
    return view, temporal


def spatial_fill(view: Tensor, holes: Tensor, background: Tensor, scale: float, *,
                 iterations: int = SPATIAL_ITERATIONS, backend: str = "auto") -> Tensor:
    """Fill `holes` of `view` in place from their background: row fill, then the membrane fill.

    Args:
        view: (1, C, H, W) float32 contiguous; every pixel outside `holes` is known (real or filled).
        holes: (1, 1, H, W) bool, the pixels no candidate filled.
        background: (1, 1, H, W) float32 from :func:`background_disparity` (target disparity outside
            the view's holes, the background end's disparity in them).
        scale: the splat scale of this view.
        iterations: membrane sweeps (0 = the row fill alone, the classic fallback).
        backend: "auto" | "numba" | "torch".
    Returns:
        `view`.
    """
    if not bool(holes.any()):
        return view
    fill_holes(view, holes, background, scale, backend=backend, inplace=True)
    if iterations > 0:
        target = torch.where(holes, torch.full_like(background, float("nan")), background)
        smooth = diffuse_background(view, holes, target, background, iterations=iterations, backend=backend,
                                    inplace=True)
        if smooth is not view:  # not float32 contiguous: smoothed in a copy
            view.copy_(smooth)
    return view


def _fill_numba(
    ys, xs, view, background, candidates: Sequence[Candidate], guide_small, geo: Geometry, tol
) -> Tensor:
    big_h, big_w = view.shape[-2:]
    n = ys.shape[0]
    done = torch.zeros(ys.shape, dtype=torch.bool)
    if not candidates or n == 0:
        return done
    ys_np, xs_np, out = ys.numpy(), xs.numpy(), view[0].numpy()
    bg = as_f32_array(background).reshape(big_h, big_w)
    ty, tx, wt = np.empty((n, 4), np.int64), np.empty((n, 4), np.int64), np.empty((n, 4), np.float64)
    wsum, best = np.empty(n, np.float64), np.empty(n, np.int64)
    _numba.gate_pixels(ys_np, xs_np, bg, as_f32_array(guide_small), geo.ry, geo.rx, geo.inv_d, float(tol),
                       ty, tx, wt, wsum, best)
    filled = 0
    for cand in candidates:
        filled += _numba.fill_from(
            ys_np, xs_np, done.numpy(), out, bg, ty, tx, wt, wsum, best, as_f32_array(cand.fields),
            geo.vx, geo.vy, float(tol), as_f32_array(cand.view[0]),
            cand.holes.reshape(big_h, big_w).contiguous().numpy(),
            as_f32_array(cand.disparity).reshape(big_h, big_w), bool(cand.carried),
        )
        if filled == n:
            break
    return done


def _fill_torch(
    ys, xs, view, background, candidates: Sequence[Candidate], guide_small, geo: Geometry, tol
) -> Tensor:
    """The reference of the numba `fill_candidates`."""
    done = torch.zeros(ys.shape, dtype=torch.bool, device=view.device)
    g_all = background[0, 0, ys, xs].to(torch.float64)
    taps_all = gate_taps(guide_small, g_all, ys, xs, geo, tol)
    for cand in candidates:
        sel = torch.nonzero(~done).squeeze(1)
        if sel.numel() == 0:
            break
        y, x, g = ys[sel], xs[sel], g_all[sel]
        u, v, c = sample_taps(cand.fields, taps_all.select(sel), geo)
        qy, qx = y.to(torch.float64) + v, x.to(torch.float64) + u
        accepted, value = _candidate_values(cand, qy, qx, c, g + tol)
        view[0, :, y[accepted], x[accepted]] = value[:, accepted]
        done[sel[accepted]] = True
    return done


def _candidate_values(
    cand: Candidate, qy: Tensor, qx: Tensor, c: Tensor, limit: Tensor
) -> tuple[Tensor, Tensor]:
    """Which pixels one candidate fills (confident, inside, taps pass) and with what (C, N) values."""
    big_h, big_w = cand.view.shape[-2:]
    ok = (c >= 0.5) & (qx >= 0.0) & (qx <= big_w - 1.0) & (qy >= 0.0) & (qy <= big_h - 1.0)
    qx, qy = torch.where(ok, qx, 0.0), torch.where(ok, qy, 0.0)
    src, holes, disp = cand.view[0].to(torch.float32), cand.holes[0, 0], cand.disparity[0, 0]

    def accept(iy: Tensor, ix: Tensor) -> Tensor:
        passes = disp[iy, ix].to(torch.float64) <= limit
        return passes if cand.carried else passes & ~holes[iy, ix]

    iy, ix = torch.floor(qy + 0.5).long(), torch.floor(qx + 0.5).long()
    accepted = ok & accept(iy, ix)
    bil_ok, bil = _bilinear(src, qy, qx, accept)
    bil_ok &= ok
    return accepted | bil_ok, torch.where(bil_ok, bil.to(torch.float32), src[:, iy, ix])


def _bilinear(src: Tensor, qy: Tensor, qx: Tensor, accept) -> tuple[Tensor, Tensor]:
    """Bilinear sample of src (C, H, W) at (qy, qx) (inside the frame) where every weighted tap passes.

    Returns:
        (N,) bool all weighted taps pass, and (C, N) float64 values (float64 sums, as numba).
    """
    big_h, big_w = src.shape[-2:]
    y0, x0 = qy.long(), qx.long()
    fy, fx = qy - y0, qx - x0
    y1, x1 = (y0 + 1).clamp(max=big_h - 1), (x0 + 1).clamp(max=big_w - 1)
    taps = ((y0, x0, (1.0 - fy) * (1.0 - fx)), (y0, x1, (1.0 - fy) * fx),
            (y1, x0, fy * (1.0 - fx)), (y1, x1, fy * fx))
    all_ok = torch.ones_like(qy, dtype=torch.bool)
    acc = torch.zeros((src.shape[0], qy.shape[0]), dtype=torch.float64, device=src.device)
    for ty, tx, wt in taps:
        on = wt > 0.0
        all_ok &= ~on | accept(ty, tx)
        acc = acc + torch.where(on, wt * src[:, ty, tx].to(torch.float64), 0.0)
    return all_ok, acc
