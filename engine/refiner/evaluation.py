"""Hole-pixel scores (PSNR/SSIM pooled over many frames) and the geometric baseline fill.

Used by the training's validation pass and the Middlebury benchmark: both compare a view against the
real one only where the render had a hole, which is the only place the refiner changes anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from engine.metrics.image import ssim_map
from engine.opencv import cv2


@dataclass
class HoleScore:
    """Running PSNR/SSIM over the hole pixels of many frames (pooled: every pixel counts the same)."""

    squared: float = 0.0
    ssim_sum: float = 0.0
    pixels: int = 0

    def add(self, estimate: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> None:
        """One frame: (H, W, 3) float in [0, 1] images and an (H, W) bool mask."""
        if not mask.any():
            return
        diff = (estimate.astype(np.float64) - truth.astype(np.float64))[mask]
        self.squared += float((diff**2).mean(axis=-1).sum())
        self.ssim_sum += float(ssim_map(estimate.astype(np.float32), truth.astype(np.float32))[mask].sum())
        self.pixels += int(mask.sum())

    def add_frames(self, estimate: Tensor, truth: Tensor, mask: Tensor) -> None:
        """(F, 3, H, W) float tensors and an (F, 1, H, W) mask."""
        est, tru = (x.detach().float().permute(0, 2, 3, 1).cpu().numpy() for x in (estimate, truth))
        holes = mask[:, 0].bool().cpu().numpy()
        for k in range(est.shape[0]):
            self.add(est[k], tru[k], holes[k])

    @property
    def psnr(self) -> float | None:
        if not self.pixels:
            return None
        mse = self.squared / self.pixels
        return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)

    @property
    def ssim(self) -> float | None:
        return self.ssim_sum / self.pixels if self.pixels else None


def telea_fill(frames: Tensor, mask: Tensor, radius: int = 3) -> Tensor:
    """Fill (F, 3, H, W) float frames inside the (F, 1, H, W) mask with OpenCV Telea (per frame)."""
    out = []
    for image, holes in zip(frames, mask[:, 0].bool(), strict=True):
        rgb = (image.permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255.0).round().astype(np.uint8)
        filled = cv2.inpaint(rgb, holes.cpu().numpy().astype(np.uint8), radius, cv2.INPAINT_TELEA)
        out.append(torch.from_numpy(filled).permute(2, 0, 1).float() / 255.0)
    return torch.stack(out).to(frames.device)


def geometric_fill(frames: Tensor, mask: Tensor, disparity: Tensor, scale: Tensor | float) -> Tensor:
    """The geometric path's own spatial fill of a render's holes: background-side row fill, then the membrane
    fill from the background (:func:`engine.ops.synthesis.fill_spatial`, the default SynthesisConfig).

    Args:
        frames: (N, 3, H, W) float in [0, 1] views (hole values ignored). mask: (N, 1, H, W) holes.
        disparity: (N, 1, H, W) px disparity of the views (NaN in the holes).
        scale: the splat scale that made them (a float, or (N,) one per view; its sign breaks ties).
    Returns:
        (N, 3, H, W) float32 filled views (non-hole pixels unchanged).
    """
    from engine.ops.inpaint import background_disparity
    from engine.ops.synthesis import SynthesisConfig, fill_spatial

    scales = torch.as_tensor(scale, dtype=torch.float32).reshape(-1).expand(frames.shape[0]).tolist()
    out = []
    for k, s in enumerate(scales):
        view, holes = frames[k:k + 1].float().cpu().contiguous().clone(), mask[k:k + 1].bool().cpu()
        disp = disparity[k:k + 1].float().cpu().contiguous()
        if not bool(holes.any()):
            out.append(view)
            continue
        background = background_disparity(holes, disp, s)
        out.append(fill_spatial(view, holes, disp, background, s, SynthesisConfig()).clamp(0.0, 1.0))
    return torch.cat(out).to(frames.device)


__all__ = ["HoleScore", "geometric_fill", "telea_fill"]
