"""Defocus cue: local blur at edges from the re-blur gradient ratio (Zhuo & Sim 2011).

Re-blurring an edge of blur σ with a Gaussian of σ0 lowers its gradient by
R = sqrt(σ² + σ0²) / σ, so σ = σ0 / sqrt(R² − 1). Sharp (in-focus) regions are
taken as nearer: footage with a shallow depth of field usually focuses on the
subject in front of a blurred background. The cue is only trusted when the
frame actually shows a spread of blur.
"""

from __future__ import annotations

import numpy as np

from engine.opencv import cv2


def edge_blur(gray: np.ndarray, sigma0: float = 1.0, max_sigma: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Blur σ (pixels) at edge pixels.

    Args:
        gray: (H, W) uint8.
        sigma0: re-blur σ in pixels.
        max_sigma: clamp for the estimate.
    Returns:
        sigma (H, W) float32 (valid where mask) and mask (H, W) bool of edge pixels used.
    """
    g = gray.astype(np.float32)
    gb = cv2.GaussianBlur(g, (0, 0), sigma0)
    mag = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    mag_b = cv2.magnitude(cv2.Sobel(gb, cv2.CV_32F, 1, 0), cv2.Sobel(gb, cv2.CV_32F, 0, 1))
    edges = cv2.Canny(gray, 40, 100) > 0
    ratio = mag / np.maximum(mag_b, 1e-3)
    mask = edges & (ratio > 1.0 + 1e-3) & (mag > 20.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = sigma0 / np.sqrt(np.maximum(ratio * ratio - 1.0, 1e-6))
    return np.clip(sigma, 0.0, max_sigma).astype(np.float32), mask


def defocus_spread(sigma: np.ndarray, mask: np.ndarray, min_edges: int = 200) -> float:
    """How much blur varies across the frame: inter-decile range of σ at edges (px); 0 if too few edges."""
    if int(mask.sum()) < min_edges:
        return 0.0
    lo, hi = np.percentile(sigma[mask], [10.0, 90.0])
    return float(hi - lo)
