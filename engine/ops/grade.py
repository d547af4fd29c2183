"""The grade formula and the depth curve: normalised depth -> pixel disparity (CONVENTIONS.md).

``delta' = clamp((delta - n) / (f - n), 0, 1) ** gamma`` (the per-shot depth curve, identity by default)
is applied to delta before the grade; the grade then uses delta' in place of delta.

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


def apply_depth_curve(delta: Tensor, near: float = 0.0, far: float = 1.0, gamma: float = 1.0) -> Tensor:
    """The depth curve δ' = clamp((δ − near) / (far − near), 0, 1) ** gamma.

    Args:
        delta: (B, 1, H, W) float normalised depth in [0, 1], 0 = nearest; NaN stays NaN.
        near, far: 0 <= near < far <= 1, the δ mapped to 0 and 1.
        gamma: in [0.25, 4]; < 1 gives the foreground more relief, > 1 the far range.
    Returns:
        (B, 1, H, W) δ' of `delta`'s dtype; `delta` itself (no copy) for the identity curve.
    """
    if delta.ndim != 4 or delta.shape[1] != 1:
        raise ValueError(f"delta must be (B, 1, H, W), got {tuple(delta.shape)}")
    if not delta.is_floating_point():
        raise ValueError(f"delta must be a float tensor, got {delta.dtype}")
    if not (0.0 <= near < far <= 1.0) or not 0.25 <= gamma <= 4.0:
        raise ValueError(f"depth curve needs 0 <= near < far <= 1 and gamma in [0.25, 4], got {near}, {far}, {gamma}")
    if near == 0.0 and far == 1.0 and gamma == 1.0:
        return delta
    curved = ((delta - near) / (far - near)).clamp(0.0, 1.0)
    return curved if gamma == 1.0 else curved.pow(gamma)
