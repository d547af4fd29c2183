"""One graded stereo frame: normalised depth + stereo parameters -> two eyes.

This is the exact per-frame path of the final render; the studio's preview and
`spatialdreamer frame` call it too (through engine.api), so what the editor
sees is what the master gets.
"""

from __future__ import annotations

import torch
from torch import Tensor

from engine.document import StereoParams
from engine.ops import StereoViews, disparity_from_grade, render_views


def graded_disparity(delta: Tensor, params: StereoParams) -> Tensor:
    """Disparity in pixels of the eye width of `delta`.

    Args:
        delta: (B, 1, H, W) normalised depth in [0, 1] (0 nearest); NaN = unknown.
        params: divergence D (% of eye width) and convergence c.
    Returns:
        (B, 1, H, W) float32 px, d > 0 in front of the screen plane; NaN stays NaN (does not splat).
    """
    if delta.dim() != 4 or delta.shape[1] != 1:
        raise ValueError(f"delta must be (B, 1, H, W), got {tuple(delta.shape)}")
    return disparity_from_grade(delta, params.divergence, params.convergence, delta.shape[-1])


def render_graded(image: Tensor, depth: Tensor, params: StereoParams | None, synthesize: str = "both") -> StereoViews:
    """Render both eyes of one frame.

    Args:
        image: (B, 3, H, W) float in [0, 1].
        depth: (B, 1, H, W) — normalised depth δ when `params` is given, else pixel
            disparity (`disparity-px`, used as-is, bypassing grading).
        params: the frame's stereo grade, or None for imported pixel disparity.
        synthesize: 'both' | 'right' | 'left' (CONVENTIONS.md).
    """
    if image.shape[-2:] != depth.shape[-2:]:
        raise ValueError(f"image {tuple(image.shape)} and depth {tuple(depth.shape)} differ in size")
    disparity = depth if params is None else graded_disparity(depth, params)
    return render_views(image, disparity.to(torch.float32), synthesize=synthesize)
