"""One graded stereo frame: normalised depth + stereo parameters -> two eyes.

This is the exact per-frame path of the final render; the studio's preview and
`spatialdreamer frame` call it too (through engine.api), so what the editor
sees is what the master gets.
"""

from __future__ import annotations

import torch
from torch import Tensor

from engine.document import StereoParams
from engine.ops import StereoViews, apply_depth_curve, disparity_from_grade, render_views


def curved_depth(delta: Tensor, params: StereoParams) -> Tensor:
    """δ' = the frame's depth curve applied to δ (CONVENTIONS.md).

    Args:
        delta: (B, 1, H, W) normalised depth in [0, 1] (0 nearest), after depth edits; NaN = unknown.
    Returns:
        (B, 1, H, W) δ' (the input itself for the identity curve).
    """
    c = params.curve
    return apply_depth_curve(delta, c.near, c.far, c.gamma)


def graded_disparity(delta: Tensor, params: StereoParams) -> Tensor:
    """Disparity in pixels of the eye width of `delta`: the depth curve, then the grade.

    Args:
        delta: (B, 1, H, W) normalised depth in [0, 1] (0 nearest), after depth edits; NaN = unknown.
        params: divergence D (% of eye width), convergence c and the depth curve.
    Returns:
        (B, 1, H, W) float32 px, d = D/100 · W · (c − δ'), d > 0 in front of the screen plane; NaN stays NaN.
    """
    if delta.dim() != 4 or delta.shape[1] != 1:
        raise ValueError(f"delta must be (B, 1, H, W), got {tuple(delta.shape)}")
    return disparity_from_grade(curved_depth(delta, params), params.divergence, params.convergence,
                                delta.shape[-1])


def render_graded(image: Tensor, depth: Tensor, params: StereoParams | None, synthesize: str = "both",
                  flat: Tensor | None = None) -> StereoViews:
    """Render both eyes of one frame.

    Args:
        image: (B, 3, H, W) float in [0, 1].
        depth: (B, 1, H, W) — normalised depth δ when `params` is given, else pixel
            disparity (`disparity-px`, used as-is, bypassing grading).
        params: the frame's stereo grade, or None for imported pixel disparity.
        synthesize: 'both' | 'right' | 'left' (CONVENTIONS.md).
        flat: (1 or B, 1, H, W) bool, True where d = 0 whatever the depth says (letterbox / pillarbox bars on
            the screen plane, as FrameAssembly.flat_bars puts them in the master), or None.
    """
    if image.shape[-2:] != depth.shape[-2:]:
        raise ValueError(f"image {tuple(image.shape)} and depth {tuple(depth.shape)} differ in size")
    disparity = (depth if params is None else graded_disparity(depth, params)).to(torch.float32)
    if flat is not None:
        if flat.shape[-2:] != disparity.shape[-2:]:
            raise ValueError(f"flat {tuple(flat.shape)} and depth {tuple(depth.shape)} differ in size")
        disparity = torch.where(flat.to(disparity.device), torch.zeros_like(disparity), disparity)
    return render_views(image, disparity, synthesize=synthesize)
