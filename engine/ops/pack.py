"""Packing a stereo pair into one delivery frame: SBS / TB (full, half), anaglyph, pair.

Half layouts squeeze each eye with an area filter (box average), left eye on the
left / on top; ``swap_eyes`` flips. Anaglyphs mix light, so they are computed in
linear light (sRGB decode -> matrices -> clip -> sRGB encode). Inputs and outputs
are sRGB-encoded floats in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.errors import UsageError
from engine.ops.colour import linear_to_srgb, luminance, srgb_to_linear
from engine.vocabulary import LAYOUTS

# Dubois red-cyan least-squares projection matrices (E. Dubois, "Conversion of a stereo pair
# to anaglyph with the least-squares projection method", 2009), applied to linear RGB:
# anaglyph = DUBOIS_LEFT @ left + DUBOIS_RIGHT @ right.
DUBOIS_LEFT = ((0.437, 0.449, 0.164), (-0.062, -0.062, -0.024), (-0.048, -0.050, -0.017))
DUBOIS_RIGHT = ((-0.011, -0.032, -0.007), (0.377, 0.761, 0.009), (-0.026, -0.093, 1.234))


def pack(left: Tensor, right: Tensor, layout: str, swap_eyes: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Pack two eyes into one frame (or return the pair).

    Args:
        left, right: (B, 3, H, W) float sRGB in [0, 1], same shape.
        layout: one of :data:`LAYOUTS`.
            sbs-full (B, 3, H, 2W); sbs-half (B, 3, H, 2 * ceil(W / 2)), each eye area-squeezed;
            tb-full (B, 3, 2H, W); tb-half (B, 3, 2 * ceil(H / 2), W); anaglyph (Dubois red-cyan)
            and anaglyph-half-colour (red = left luminance, green/blue = right) (B, 3, H, W);
            pair returns (left, right).
        swap_eyes: put the right eye first (left / top / red).
    Returns:
        The packed (B, 3, H', W') frame, or a (left, right) tuple for "pair". Size: :func:`packed_size`.
    """
    _check_pair(left, right, layout)
    first, second = (right, left) if swap_eyes else (left, right)
    if layout == "pair":
        return first, second
    if layout in ("anaglyph", "anaglyph-half-colour"):
        return _anaglyph(first, second, half_colour=layout == "anaglyph-half-colour")
    h, w = left.shape[-2:]
    if layout == "sbs-full":
        return torch.cat([first, second], dim=3)
    if layout == "tb-full":
        return torch.cat([first, second], dim=2)
    if layout == "sbs-half":
        if w % 2 == 0:
            return _halve_pair(first, second, dim=3)
        size = (h, (w + 1) // 2)
        return torch.cat([area_resize(first, size), area_resize(second, size)], dim=3)
    if h % 2 == 0:
        return _halve_pair(first, second, dim=2)
    size = ((h + 1) // 2, w)
    return torch.cat([area_resize(first, size), area_resize(second, size)], dim=2)


def packed_size(width: int, height: int, layout: str) -> tuple[int, int]:
    """(width, height) of the packed frame (of each eye for "pair"), before any padding.

    Args:
        width, height: one eye's size in pixels.
        layout: one of :data:`LAYOUTS`.
    """
    _check_layout(layout)
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    return {
        "sbs-full": (2 * width, height),
        "sbs-half": (2 * ((width + 1) // 2), height),
        "tb-full": (width, 2 * height),
        "tb-half": (width, 2 * ((height + 1) // 2)),
    }.get(layout, (width, height))


def pad_to_even(image: Tensor) -> tuple[Tensor, tuple[int, int]]:
    """Replicate-pad the bottom / right edge to even height and width (for 4:2:0 chroma).

    Args:
        image: (B, C, H, W) any dtype.
    Returns:
        (B, C, H + pad_bottom, W + pad_right) and (pad_bottom, pad_right), each 0 or 1.
    """
    if image.ndim != 4:
        raise ValueError(f"image must be (B, C, H, W), got {tuple(image.shape)}")
    pad_bottom, pad_right = image.shape[2] % 2, image.shape[3] % 2
    if pad_right:
        image = torch.cat([image, image[..., -1:]], dim=3)
    if pad_bottom:
        image = torch.cat([image, image[..., -1:, :]], dim=2)
    return image, (pad_bottom, pad_right)


def area_resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Box-filter (area) resample; a plain 2:1 average when a side halves exactly.

    Args:
        image: (B, C, H, W) float.
        size: (H', W') with H' <= H and W' <= W.
    Returns:
        (B, C, H', W').
    """
    h, w = image.shape[-2:]
    if h % size[0] == 0 and w % size[1] == 0:
        kernel = (h // size[0], w // size[1])
        return image if kernel == (1, 1) else F.avg_pool2d(image, kernel)
    return F.interpolate(image, size=size, mode="area")


def _halve_pair(first: Tensor, second: Tensor, dim: int) -> Tensor:
    """2:1 box average of each eye along `dim` (2 = rows, 3 = columns), written straight into the frame.

    Same result as ``cat([avg_pool2d(first, k), avg_pool2d(second, k)], dim)``, without the
    intermediate copies (this is the hot path of every half-SBS / half-TB render).
    """
    b, c, h, w = first.shape
    shape = (b, c, h, 2, w // 2) if dim == 3 else (b, c, 2, h // 2, w)
    frame = torch.empty(shape, dtype=first.dtype, device=first.device)
    for i, eye in enumerate((first, second)):
        if dim == 3:
            torch.add(eye[..., 0::2], eye[..., 1::2], out=frame[:, :, :, i])
        else:
            torch.add(eye[:, :, 0::2], eye[:, :, 1::2], out=frame[:, :, i])
    return frame.mul_(0.5).view(b, c, h, w)


def _anaglyph(first: Tensor, second: Tensor, half_colour: bool) -> Tensor:
    """Red-cyan anaglyph in linear light; `first` is seen through the red filter."""
    if first.shape[1] != 3:
        raise ValueError(f"anaglyph needs RGB eyes (B, 3, H, W), got {tuple(first.shape)}")
    lin_a, lin_b = srgb_to_linear(first), srgb_to_linear(second)
    if half_colour:
        mixed = torch.cat([luminance(lin_a), lin_b[:, 1:]], dim=1)
    else:
        m_a = torch.tensor(DUBOIS_LEFT, dtype=lin_a.dtype, device=lin_a.device)
        m_b = torch.tensor(DUBOIS_RIGHT, dtype=lin_a.dtype, device=lin_a.device)
        mixed = torch.einsum("ij,bjhw->bihw", m_a, lin_a) + torch.einsum("ij,bjhw->bihw", m_b, lin_b)
    return linear_to_srgb(mixed.clamp(0.0, 1.0))


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise UsageError(f"unknown stereo layout {layout!r}", hint=f"use one of {', '.join(LAYOUTS)}")


def _check_pair(left: Tensor, right: Tensor, layout: str) -> None:
    _check_layout(layout)
    if left.ndim != 4 or not left.is_floating_point():
        raise ValueError(f"eyes must be float (B, C, H, W) tensors, got {tuple(left.shape)} {left.dtype}")
    if left.shape != right.shape or left.device != right.device:
        raise ValueError(
            f"left and right eyes differ: {tuple(left.shape)} on {left.device} vs {tuple(right.shape)} "
            f"on {right.device}"
        )
