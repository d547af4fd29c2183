"""sRGB transfer functions (IEC 61966-2-1) and luminance, on tensors.

Everything outside this module works on sRGB-encoded floats in [0, 1]; the few
operations that mix light (anaglyph matrices, luminance) decode to linear light
first and encode back afterwards.
"""

from __future__ import annotations

import torch
from torch import Tensor

# Rec. 709 / sRGB primaries, linear-light luminance weights.
LUMA_709 = (0.2126, 0.7152, 0.0722)


def srgb_to_linear(image: Tensor) -> Tensor:
    """Decode sRGB to linear light (exact piecewise curve, not a 2.2 gamma).

    Args:
        image: (..., ) float, sRGB-encoded, nominally in [0, 1].
    Returns:
        Same shape, linear light. Values outside [0, 1] follow the curve's odd extension.
    """
    a = image.abs()
    lin = torch.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)
    return torch.copysign(lin, image)


def linear_to_srgb(image: Tensor) -> Tensor:
    """Encode linear light to sRGB (inverse of :func:`srgb_to_linear`).

    Args:
        image: (..., ) float, linear light.
    Returns:
        Same shape, sRGB-encoded.
    """
    a = image.abs()
    enc = torch.where(a <= 0.0031308, a * 12.92, 1.055 * a.clamp_min(1e-12) ** (1 / 2.4) - 0.055)
    return torch.copysign(enc, image)


def luminance(linear_rgb: Tensor) -> Tensor:
    """Relative luminance Y of linear-light RGB (Rec. 709 weights).

    Args:
        linear_rgb: (B, 3, H, W) float, linear light.
    Returns:
        (B, 1, H, W) float.
    """
    if linear_rgb.ndim != 4 or linear_rgb.shape[1] != 3:
        raise ValueError(f"luminance expects (B, 3, H, W), got {tuple(linear_rgb.shape)}")
    w = torch.tensor(LUMA_709, dtype=linear_rgb.dtype, device=linear_rgb.device).view(1, 3, 1, 1)
    return (linear_rgb * w).sum(dim=1, keepdim=True)
