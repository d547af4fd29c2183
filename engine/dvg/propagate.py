"""Occlusion-mask propagation across neighbouring frames (the SpatialDreamer DVG rule).

For frame t and its neighbours k in {t-1, t+1} (exactly these two: the paper's rule; the
temporal fill looks further, see :mod:`engine.dvg.inpaint`), all in the *target* view:

    m^t(i, j) = 1  when  sum_k m^k(i + u_k, j + v_k) * C_k(i, j) >= 1,   OR-ed with frame t's own mask,

where (u_k, v_k) = G_{t->k}(i, j) is the flow from t to k carried into the target view: the
source-view DIS flow of the source pixel that the z-buffered splat put at (i, j) (splatted as
image channels with the image's own disparity and scale; a hole takes the flow of the
background beside it), the "screen" flow of :mod:`engine.dvg.fields`, which describes the
carriage in full. m^k is frame k's *own* disocclusion mask (never an already propagated one,
so masks do not grow along a shot), read at the nearest pixel (outside the frame = 0), and
C_k is the forward-backward confidence of that flow, carried the same way (hard: 0 / 1, so
the sum is an OR; soft: in [0, 1], so two half-confident neighbours together also count).
Full-resolution pixels read the working-resolution fields by disparity-guided upsampling
(:mod:`engine.dvg.guided`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from engine.dvg import _numba
from engine.dvg.guided import Geometry, upsample_fields
from engine.opencv import cv2
from engine.ops._splat_numba import as_f32_array, use_numba


def propagate_masks(
    own: Tensor, neighbour_masks: Sequence[Tensor], flows: Sequence[Tensor], confidences: Sequence[Tensor]
) -> Tensor:
    """The propagation rule with full-resolution flows (the reference).

    Args:
        own: (B, 1, H, W) bool, frame t's own disocclusion mask.
        neighbour_masks: per neighbour k, (B, 1, H, W) bool own mask of frame k.
        flows: per neighbour, (B, 2, H, W) float target-view flow t -> k (u = x, v = y) in px.
        confidences: per neighbour, (B, 1, H, W) float C_k in [0, 1].
    Returns:
        (B, 1, H, W) bool: own OR sum_k m^k(p + flow_k(p)) * C_k(p) >= 1.
    """
    _check(own, neighbour_masks, flows, confidences)
    b, _, h, w = own.shape
    ys = torch.arange(h, device=own.device, dtype=torch.float64).view(1, h, 1)
    xs = torch.arange(w, device=own.device, dtype=torch.float64).view(1, 1, w)
    total = torch.zeros((b, h, w), dtype=torch.float64, device=own.device)
    for mask, flow, conf in zip(neighbour_masks, flows, confidences, strict=True):
        f = flow.to(torch.float64)
        total = total + _pull(mask[:, 0], ys + f[:, 1], xs + f[:, 0]) * conf[:, 0].to(torch.float64)
    return own | (total >= 1.0).unsqueeze(1)


def _pull(mask: Tensor, qy: Tensor, qx: Tensor) -> Tensor:
    """mask (B, H, W) bool read at the nearest pixel of (qy, qx); 0 outside. Returns float64."""
    b, h, w = mask.shape
    iy, ix = torch.floor(qy + 0.5).long(), torch.floor(qx + 0.5).long()
    inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    batch = torch.arange(b, device=mask.device).view(b, 1, 1)
    flat = (batch * h + iy.clamp(0, h - 1)) * w + ix.clamp(0, w - 1)
    return (mask.reshape(-1)[flat] & inside).to(torch.float64)


def _check(own: Tensor, masks: Sequence[Tensor], flows: Sequence[Tensor], confs: Sequence[Tensor]) -> None:
    if own.ndim != 4 or own.shape[1] != 1 or own.dtype != torch.bool:
        raise ValueError(f"own must be a (B, 1, H, W) bool tensor, got {tuple(own.shape)} {own.dtype}")
    if not len(masks) == len(flows) == len(confs):
        raise ValueError(
            f"need one flow and confidence per mask, got {len(masks)}, {len(flows)}, {len(confs)}"
        )
    b, _, h, w = own.shape
    for mask, flow, conf in zip(masks, flows, confs, strict=True):
        shapes = (tuple(mask.shape), tuple(flow.shape), tuple(conf.shape))
        if shapes != ((b, 1, h, w), (b, 2, h, w), (b, 1, h, w)) or mask.dtype != torch.bool:
            raise ValueError(
                f"neighbour mask / flow / confidence must be (B,1|2|1,H,W) = {(b, h, w)}, got {shapes}"
            )


def propagate_guided(
    own: Tensor,
    neighbour_masks: Sequence[Tensor],
    fields: Tensor,
    guide_small: Tensor,
    guide_full: Tensor,
    tol: float,
    *,
    backend: str = "auto",
    integrals: Sequence[np.ndarray] | None = None,
) -> Tensor:
    """The propagation rule with flows read from working-resolution fields (the render path).

    Equal to :func:`propagate_masks` on the fields upsampled by
    :func:`engine.dvg.guided.upsample_fields`, without materialising them on CPU.

    Args:
        own: (1, 1, H, W) bool own mask of frame t.
        neighbour_masks: n masks (1, 1, H, W) bool, one per row of `fields`.
        fields: (n, 3, h, w) float32 target-view flow t -> k (working px) and C.
        guide_small: (h, w) float32 frame t's working-resolution target disparity (working px).
        guide_full: (1, 1, H, W) float32 frame t's background-filled target disparity (px).
        tol: px, same-surface tolerance of the guided sampling.
        backend: "auto" (numba on CPU, torch elsewhere), "numba" or "torch".
        integrals: optional :func:`hole_integral` of each neighbour mask (numba path; computed
            when not given).
    Returns:
        (1, 1, H, W) bool propagated mask.
    """
    n = fields.shape[0]
    if n != len(neighbour_masks):
        raise ValueError(f"{n} fields for {len(neighbour_masks)} neighbour masks")
    if n == 0:
        return own.clone()
    if not use_numba(own.device, backend):
        up = upsample_fields(fields, guide_small, guide_full[0, 0], tol)
        flows = [up[k : k + 1, :2] for k in range(n)]
        confs = [up[k : k + 1, 2:] for k in range(n)]
        return propagate_masks(own, list(neighbour_masks), flows, confs)
    big_h, big_w = own.shape[-2:]
    geo = Geometry(fields.shape[2], fields.shape[3], big_h, big_w)
    if n > 2:
        raise ValueError(f"the propagation rule reads t-1 and t+1 only, got {n} neighbours")
    masks = [m.reshape(big_h, big_w).contiguous().numpy() for m in neighbour_masks]
    if integrals is None:
        integrals = [hole_integral(m) for m in neighbour_masks]
    out = torch.empty((1, 1, big_h, big_w), dtype=torch.bool)
    _numba.propagate(own.reshape(big_h, big_w).contiguous().numpy(), masks[0], masks[-1], integrals[0],
                     integrals[-1], as_f32_array(fields), as_f32_array(guide_small),
                     as_f32_array(guide_full).reshape(big_h, big_w), *geo.kernel_args(), float(tol),
                     _numba.cell_starts(big_h, geo.h, geo.ry), _numba.cell_starts(big_w, geo.w, geo.rx),
                     out.numpy().reshape(big_h, big_w))
    return out


def hole_integral(mask: Tensor) -> np.ndarray:
    """Integral image of a (1, 1, H, W) bool CPU mask: (H + 1, W + 1) int32 (cv2.integral)."""
    big_h, big_w = mask.shape[-2:]
    out = np.empty((big_h + 1, big_w + 1), np.int32)
    cv2.integral(mask.reshape(big_h, big_w).contiguous().numpy().view(np.uint8), sum=out, sdepth=cv2.CV_32S)
    return out
