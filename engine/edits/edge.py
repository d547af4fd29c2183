"""Edge-aware brush: the stroke's soft edge snapped to the frame's own image edges.

A joint-bilateral refinement of the weight map, guided by the frame's image. The brush core
(w = 1, within the radius) is what the editor painted on purpose and stays; each pixel of the soft
edge keeps its weight in proportion to how much its colour resembles the core's colour *near it*:

    μ(x), σ²(x) = mean and variance of the guide over the core, Gaussian-weighted around x
                  (normalised convolution, spatial σ_s = the larger of radius and softness)
    A(x)        = exp(-(I(x) - μ(x))² / (2 (σ_r² + σ²(x))))          range kernel, σ_r = RANGE_SIGMA
    w_edge(x)   = 1 on the core, w(x) · A(x) elsewhere

so on a flat surface A = 1 and the brush is unchanged, while across an object's outline the weight
drops to ~0 within a few pixels of the edge (the local variance term keeps textured surfaces from
being cut up). w_edge ≤ w, so an edge-aware stroke never reaches beyond radius + softness.
"""

from __future__ import annotations

import numpy as np

from engine.edits.apply import guide_gray
from engine.edits.raster import Weight
from engine.opencv import cv2

RANGE_SIGMA = 0.05  # grey levels in [0, 1]: a contrast of ~3 σ_r (0.15) cuts the weight to ~1 %


def snap_to_edges(weight: Weight, image: np.ndarray, spatial_sigma: float,
                  range_sigma: float = RANGE_SIGMA) -> Weight:
    """Refine a brush weight with the frame's image: the soft edge follows image edges.

    Args:
        weight: the plain brush weight, shape (H, W).
        image: (H, W, 3) RGB or (H, W) grey of the frame the weight acts on (uint8/uint16/float in [0, 1]).
        spatial_sigma: pixels of the map over which the core's colour is gathered (about the larger of
            the brush's radius and softness at this size).
        range_sigma: grey-level tolerance in [0, 1].
    Returns:
        :class:`Weight` of the same shape, never above `weight` outside the core (zero wherever it is zero).
    """
    if image.shape[:2] != weight.shape:
        raise ValueError(f"image {image.shape[:2]} and weight {weight.shape} differ in size")
    if weight.is_empty:
        return weight
    w = weight.crop
    core = (w >= 1.0).astype(np.float32)
    if not core.any() or spatial_sigma <= 0:
        return weight
    rows, cols = weight.slices
    g = np.ascontiguousarray(guide_gray(image[rows, cols]))

    def gather(values: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(values, (0, 0), float(spatial_sigma), borderType=cv2.BORDER_CONSTANT)

    norm = np.maximum(gather(core), 1e-12)
    mean = gather(core * g) / norm
    var = np.maximum(gather(core * g * g) / norm - mean * mean, 0.0)
    affinity = np.exp(-((g - mean) ** 2) / (2.0 * (range_sigma**2 + var)))
    crop = np.where(core > 0, 1.0, w * affinity).astype(np.float32)
    crop[w <= 0] = 0.0
    return Weight(weight.shape, weight.y0, weight.x0, crop)
