"""Putting the refined view back into the geometric one: over the (dilated, feathered) occlusion mask.

The default keeps every sharp, real pixel of the geometric render and takes the refiner's output only
where the render had nothing (the propagated occlusion mask), grown by a few pixels so the hole edge
itself is regenerated, with a soft transition; ``blend="full"`` takes the whole refined view, as the
paper does. Pure torch, any device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

BLENDS = ("composite", "full")


def feathered_alpha(mask: Tensor, dilate: int, feather: int) -> Tensor:
    """(N, 1, H, W) bool mask -> (N, 1, H, W) float alpha: 1 on the mask grown by `dilate` px (square),
    falling linearly to 0 over `feather` px outside it (a box blur of the grown mask, clamped so the
    grown mask stays 1)."""
    if dilate < 0 or feather < 0:
        raise ValueError(f"dilate {dilate} and feather {feather} must be >= 0")
    grown = mask.float()
    if dilate:
        grown = F.max_pool2d(grown, 2 * dilate + 1, stride=1, padding=dilate)
    if not feather:
        return grown
    k = 2 * feather + 1
    soft = F.avg_pool2d(F.pad(grown, (feather,) * 4, mode="replicate"), k, stride=1)
    return torch.maximum(grown, (soft * k / (feather + 1)).clamp(0.0, 1.0))


def composite_refined(geometric: Tensor, refined: Tensor, mask: Tensor, blend: str = "composite",
                      dilate: int = 3, feather: int = 4) -> Tensor:
    """The output eye: `refined` over `geometric` inside the feathered mask, or `refined` (``full``).

    Args:
        geometric, refined: (N, 3, H, W) float in [0, 1]. mask: (N, 1, H, W) bool occlusion mask.
    Returns:
        (N, 3, H, W) float.
    """
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")
    if geometric.shape != refined.shape:
        raise ValueError(f"geometric {tuple(geometric.shape)} and refined {tuple(refined.shape)} differ")
    if blend == "full":
        return refined.to(geometric.dtype)
    alpha = feathered_alpha(mask, dilate, feather).to(geometric.dtype)
    return geometric + alpha * (refined.to(geometric.dtype) - geometric)


__all__ = ["BLENDS", "composite_refined", "feathered_alpha"]
