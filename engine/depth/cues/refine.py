"""Edge-aware smoothing, filling of sparse cues and upsampling, guided by the image."""

from __future__ import annotations

import numpy as np

from engine.opencv import cv2


def guide_image(gray: np.ndarray) -> np.ndarray:
    """(H, W) uint8 grey -> (H, W) uint8 guide with noise removed (bilateral-free, cheap)."""
    return cv2.GaussianBlur(gray, (0, 0), 0.8)


def edge_aware_fill(values: np.ndarray, weights: np.ndarray, guide: np.ndarray,
                    lam: float = 300.0, sigma_color: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Normalised edge-aware smoothing: fill sparse, weighted values along image edges.

    out = S(v * w) / S(w), S the fast global smoother (Min et al. 2014) guided by the image,
    so values spread within regions and stop at edges.

    Args:
        values: (H, W) float32 cue; any value where weights == 0.
        weights: (H, W) float32 >= 0 confidence.
        guide: (H, W) uint8 grey image.
        lam: smoothness (larger spreads farther).
        sigma_color: edge sensitivity in grey levels.
    Returns:
        filled (H, W) float32 and the smoothed weight (H, W) float32 (how much support a pixel had).
    """
    w = np.asarray(weights, np.float32)
    v = np.where(w > 0, values, 0.0).astype(np.float32)
    num = cv2.ximgproc.fastGlobalSmootherFilter(guide, v * w, lam, sigma_color)
    den = cv2.ximgproc.fastGlobalSmootherFilter(guide, w, lam, sigma_color)
    filled = num / np.maximum(den, 1e-6)
    return filled.astype(np.float32), den.astype(np.float32)


def edge_aware_smooth(values: np.ndarray, guide: np.ndarray, radius: int = 4,
                      eps: float = 1e-3) -> np.ndarray:
    """Guided filter (He et al. 2013) of a dense map: snaps its edges to the image's.

    Args:
        values: (H, W) float32 dense map (roughly in [0, 1]).
        guide: (H, W) uint8 grey image.
        radius: window radius in pixels.
        eps: regularisation in (value units)^2; smaller follows image edges more.
    Returns:
        (H, W) float32.
    """
    g = guide.astype(np.float32) / 255.0
    return cv2.ximgproc.guidedFilter(g, values.astype(np.float32), radius, eps)


def upsample(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a (h, w) float32 map to (height, width)."""
    if values.shape[:2] == (height, width):
        return values
    return cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)


def texture_confidence(gray: np.ndarray, ref: float = 2.0) -> np.ndarray:
    """How well flow can be trusted from local texture: t / (t + ref²), t the local mean |∇I|².

    Args:
        gray: (H, W) uint8.
        ref: gradient magnitude (grey levels per pixel) at which the confidence is 0.5.
    Returns:
        (H, W) float32 in [0, 1).
    """
    g = gray.astype(np.float32)
    grad2 = cv2.Sobel(g, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(g, cv2.CV_32F, 0, 1) ** 2
    energy = cv2.blur(grad2, (7, 7)) / 64.0  # the 3x3 Sobel has gain 8
    return (energy / (energy + ref * ref)).astype(np.float32)


def guided_coefficients(values: np.ndarray, guide: np.ndarray, radius: int = 4,
                        eps: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Linear coefficients of the guided filter (He et al. 2013): output = a · guide + b.

    The same filter as :func:`edge_aware_smooth` (box windows of `radius`, guide scaled to [0, 1]), but
    returning the window-averaged (a, b) so they can be applied to the guide at another resolution.

    Args:
        values: (h, w) float32 dense map.
        guide: (h, w) uint8 grey image.
        radius: window radius in pixels.
        eps: regularisation in (value units)^2.
    Returns:
        a, b: (h, w) float32 each.
    """
    g = guide.astype(np.float32) / 255.0
    p = values.astype(np.float32)
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_32F, size, borderType=cv2.BORDER_REFLECT)

    mean_g, mean_p = box(g), box(p)
    var = box(g * g) - mean_g * mean_g
    cov = box(g * p) - mean_g * mean_p
    a = cov / (var + np.float32(eps))
    b = mean_p - a * mean_g
    return box(a), box(b)


def guided_upsample(values: np.ndarray, guide: np.ndarray, full_guide: np.ndarray, radius: int = 4,
                    eps: float = 1e-3) -> np.ndarray:
    """Guided filter at working size applied at full resolution (the fast guided filter, He & Sun 2015).

    The linear coefficients are fitted on the working-size map and guide, upsampled bilinearly and applied
    to the full-resolution guide, so depth edges follow the image's edges at full resolution (thin poles,
    rails, wires) instead of the working size's blur. The result is clamped to the working-size map's
    range, so the linear model cannot overshoot at strong image edges.

    Args:
        values: (h, w) float32 dense map at working size.
        guide: (h, w) uint8 grey at working size.
        full_guide: (H, W) uint8 grey at full resolution (the same image).
        radius: window radius at working size.
        eps: regularisation in (value units)^2.
    Returns:
        (H, W) float32; at working size (H, W) == (h, w) the plain guided filter.
    """
    a, b = guided_coefficients(values, guide, radius, eps)
    height, width = full_guide.shape
    if (height, width) != values.shape:
        a = cv2.resize(a, (width, height), interpolation=cv2.INTER_LINEAR)
        b = cv2.resize(b, (width, height), interpolation=cv2.INTER_LINEAR)
    out = cv2.multiply(a, full_guide, dst=a, dtype=cv2.CV_32F, scale=1.0 / 255.0)  # in place: one full-size array fewer
    cv2.add(out, b, dst=out)
    return np.clip(out, float(values.min()), float(values.max()), out=out)
