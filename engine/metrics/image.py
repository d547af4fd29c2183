"""Full-reference image quality: PSNR and SSIM, optionally restricted to a mask.

Images are RGB (or grey) arrays; integers are scaled to [0, 1] (uint8 / 255, uint16 / 65535),
floats are taken as already in [0, 1], so the data range L is 1.

SSIM follows Wang et al. (IEEE TIP 2004): a Gaussian window (σ = 1.5, 11 taps), K1 = 0.01,
K2 = 0.03, population (not sample) statistics, computed per channel and averaged over channels.
The unmasked figure is the mean of the SSIM map with a 5-pixel border left out — the same as
``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1, channel_axis=-1)``. The masked figure is the mean of
the full map (edges by reflection, as skimage's ``full=True`` map) over the mask, border
included: holes of a synthesised view lie at the frame edge as often as not.
"""

from __future__ import annotations

import math

import numpy as np

from engine.opencv import cv2

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # int(3.5 * σ + 0.5): scipy's gaussian_filter with truncate=3.5, as skimage uses
SSIM_K1, SSIM_K2 = 0.01, 0.03


def as_unit_float(image: np.ndarray) -> np.ndarray:
    """An image as float32 in [0, 1].

    Args:
        image: (H, W) or (H, W, C); uint8, uint16, or float (taken as already in [0, 1]).
    Returns:
        float32 array of the same shape (no copy when already float32).
    """
    if image.dtype == np.uint8:
        return image.astype(np.float32) * np.float32(1.0 / 255.0)
    if image.dtype == np.uint16:
        return image.astype(np.float32) * np.float32(1.0 / 65535.0)
    if image.dtype.kind != "f":
        raise ValueError(f"expected uint8, uint16 or float image, got {image.dtype}")
    return image.astype(np.float32, copy=False)


def _pair(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64 (H, W, C) in [0, 1]; shapes (and the mask's) checked."""
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim not in (2, 3):
        raise ValueError(f"expected (H, W) or (H, W, C) images, got {a.shape}")
    if mask is not None and mask.shape != a.shape[:2]:
        raise ValueError(f"mask must be (H, W) = {a.shape[:2]}, got {mask.shape}")
    fa, fb = (as_unit_float(x).astype(np.float64) for x in (a, b))
    return (fa[..., None], fb[..., None]) if a.ndim == 2 else (fa, fb)


def mse(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """Mean squared error over pixels and channels (over the mask's pixels when given).

    Args:
        a, b: (H, W) or (H, W, C) images (see :func:`as_unit_float`).
        mask: (H, W) bool, pixels to count; None = all.
    Returns:
        the MSE in [0, 1], or None when the mask selects no pixel.
    """
    fa, fb = _pair(a, b, mask)
    sq = (fa - fb) ** 2
    if mask is None:
        return float(sq.mean())
    return float(sq[mask].mean()) if mask.any() else None


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """Peak signal-to-noise ratio in dB, 10·log10(1 / MSE), with a data range of 1.

    Args:
        a, b: (H, W) or (H, W, C) images (see :func:`as_unit_float`).
        mask: (H, W) bool, pixels to count; None = all.
    Returns:
        dB (inf for identical images), or None when the mask selects no pixel.
    """
    err = mse(a, b, mask)
    if err is None:
        return None
    return math.inf if err == 0.0 else 10.0 * math.log10(1.0 / err)


def _blur(x: np.ndarray) -> np.ndarray:
    size = 2 * SSIM_RADIUS + 1
    return cv2.GaussianBlur(x, (size, size), SSIM_SIGMA, sigmaY=SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (Wang et al. 2004), averaged over channels.

    Args:
        a, b: (H, W) or (H, W, C) images (see :func:`as_unit_float`), at least 11x11.
    Returns:
        (H, W) float64 SSIM in [-1, 1]; edges use reflected neighbours.
    """
    fa, fb = _pair(a, b, None)
    if min(fa.shape[:2]) < 2 * SSIM_RADIUS + 1:
        raise ValueError(f"SSIM needs images at least {2 * SSIM_RADIUS + 1} px on a side, got {fa.shape[:2]}")
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    maps = []
    for ch in range(fa.shape[2]):
        x, y = np.ascontiguousarray(fa[..., ch]), np.ascontiguousarray(fb[..., ch])
        mx, my = _blur(x), _blur(y)
        vx, vy, cxy = _blur(x * x) - mx * mx, _blur(y * y) - my * my, _blur(x * y) - mx * my
        num = (2 * mx * my + c1) * (2 * cxy + c2)
        maps.append(num / ((mx * mx + my * my + c1) * (vx + vy + c2)))
    return np.mean(maps, axis=0)


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """Mean SSIM: over the map less a 5-px border (skimage's figure), or over `mask` when given.

    Args:
        a, b: (H, W) or (H, W, C) images (see :func:`as_unit_float`), at least 11x11.
        mask: (H, W) bool; the mean of the full SSIM map over these pixels.
    Returns:
        SSIM in [-1, 1], or None when the mask selects no pixel.
    """
    if mask is not None and mask.shape != a.shape[:2]:
        raise ValueError(f"mask must be (H, W) = {a.shape[:2]}, got {mask.shape}")
    s = ssim_map(a, b)
    if mask is None:
        r = SSIM_RADIUS
        return float(s[r:-r, r:-r].mean())
    return float(s[mask].mean()) if mask.any() else None
