"""Floating windows (CONVENTIONS.md): per-edge black masks applied to each eye before packing.

The left edge masks the *left* eye's left border, the right edge the *right* eye's right
border, each a width in % of the eye width, with a soft edge of 0.1 % of the width (at least
one pixel, so the edge is antialiased at any size). Masking the eye whose border would show
an object in front of the screen moves the window itself forward, so the object no longer
breaks it. Applied before packing, the masks travel with their eye through ``--swap-eyes``.
"""

from __future__ import annotations

import torch
from torch import Tensor

SOFT_EDGE_FRACTION = 0.001  # 0.1 % of the eye width


def edge_alpha(width: int, mask_pct: float, from_right: bool, device: torch.device | str = "cpu") -> Tensor:
    """Per-column opacity of one eye under one edge mask.

    Args:
        width: eye width W in pixels.
        mask_pct: mask width in % of W (0 or less = no mask).
        from_right: measure from the right border instead of the left.
    Returns:
        (W,) float32 in [0, 1]: 0 = black (masked), 1 = untouched. The soft edge is centred
        on the mask's nominal border, SOFT_EDGE_FRACTION · W wide (at least 1 px).
    """
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    ones = torch.ones(width, dtype=torch.float32, device=device)
    if not mask_pct > 0.0:
        return ones
    border = mask_pct / 100.0 * width
    ramp = max(SOFT_EDGE_FRACTION * width, 1.0)
    centres = torch.arange(width, dtype=torch.float32, device=device) + 0.5
    distance = (width - centres) if from_right else centres
    return ((distance - border) / ramp + 0.5).clamp_(0.0, 1.0)


def apply_floating_windows(left: Tensor, right: Tensor, left_pct: float, right_pct: float) -> tuple[Tensor, Tensor]:
    """Mask the left eye's left border and the right eye's right border.

    Args:
        left, right: (B, C, H, W) float images of the two eyes (not yet packed or swapped).
        left_pct, right_pct: window widths in % of W (0 = none).
    Returns:
        (left, right), new tensors (the inputs are not modified); unmasked eyes are returned as-is.
    """
    if left.dim() != 4 or left.shape != right.shape:
        raise ValueError(f"left and right must be (B, C, H, W) of one shape, got {tuple(left.shape)} "
                         f"and {tuple(right.shape)}")
    width = left.shape[-1]
    if left_pct > 0.0:
        left = left * edge_alpha(width, left_pct, from_right=False, device=left.device).to(left.dtype)
    if right_pct > 0.0:
        right = right * edge_alpha(width, right_pct, from_right=True, device=right.device).to(right.dtype)
    return left, right


__all__ = ["SOFT_EDGE_FRACTION", "apply_floating_windows", "edge_alpha"]
