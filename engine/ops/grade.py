"""The grade formula: normalised depth -> pixel disparity (CONVENTIONS.md).

``d_px = D / 100 * W * (c - delta)``: D = divergence in % of one full-resolution
eye's width (the whole near-to-far range), c = convergence (the delta of the
screen plane), W = eye width in pixels. d > 0 is in front of the screen.
The defaults (D = 3.0, c = 1/3) live in the document layer; ops only take numbers.
"""

from __future__ import annotations

import math

from torch import Tensor


def disparity_from_grade(delta: Tensor, divergence: float, convergence: float, width: int) -> Tensor:
    """Pixel disparity of the source view from normalised depth and a grade.

    Args:
        delta: (B, 1, H, W) float normalised depth in [0, 1], 0 = nearest, 1 = farthest.
            Non-finite values stay non-finite (unknown depth does not splat).
        divergence: D, % of the full-resolution eye width spanned by delta 0 -> 1.
        convergence: c, the delta that lands on the screen plane (zero disparity).
        width: W, full-resolution eye width in pixels (not the working resolution).
    Returns:
        (B, 1, H, W) disparity in pixels, d = D / 100 * W * (c - delta); d > 0 is in front of the screen.
    """
    if delta.ndim != 4 or delta.shape[1] != 1:
        raise ValueError(f"delta must be (B, 1, H, W), got {tuple(delta.shape)}")
    if not delta.is_floating_point():
        raise ValueError(f"delta must be a float tensor, got {delta.dtype}")
    if width <= 0:
        raise ValueError(f"width must be a positive number of pixels, got {width}")
    if not (math.isfinite(divergence) and math.isfinite(convergence)):
        raise ValueError(f"divergence and convergence must be finite, got {divergence}, {convergence}")
    return (divergence / 100.0 * width) * (convergence - delta)
