"""Layering cue: how many image boundaries separate a pixel from the top of the frame.

In most footage the top of the frame shows the far background (back wall, sky,
distant scene) and nearer things are stacked in front of it, lower in the frame
and bounded by occluding contours. The cue is the geodesic distance from the top
row, where walking one frame height costs ``height_cost`` and crossing a boundary
costs its colour change (CIELAB units). A smooth image gives the vertical prior
("lower is nearer"); each contour crossed on the way down adds nearness, so an
object in front of a wall stands out from the wall around it even at the same
height (the "lower region" and "surroundedness" figure–ground cues).

Dense texture (print, foliage, a checkerboard) would add nearness on every
stroke, so the edge strength is reduced by ``suppression`` times its local mean
(surround suppression, Grigorescu et al. 2003): isolated contours count, texture
far less. Boundaries between flat markings and the surface they lie on still
count (a known failure; see docs/depth_eval.md).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.opencv import cv2

_SQRT2 = np.float32(np.sqrt(2.0))
_HALF = np.float32(0.5)
_HALF_SQRT2 = np.float32(0.5 * np.sqrt(2.0))


def boundary_strength(rgb: np.ndarray, sigma: float = 3.0, suppression: float = 0.5,
                      surround: float = 4.0) -> np.ndarray:
    """Colour-edge strength with texture suppressed.

    Args:
        rgb: (H, W, 3) uint8 RGB.
        sigma: Gaussian scale of the gradient in pixels.
        suppression: share of the local mean edge strength subtracted (0 = none).
        surround: size of that neighbourhood, in units of `sigma`.
    Returns:
        (H, W) float32 ≥ 0, CIELAB units per pixel (a step of ΔE spread over the
        blur integrates to about ΔE across the edge).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    lab = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32), (0, 0), sigma)
    edge = _gradient_magnitude(cv2.Sobel(lab, cv2.CV_32F, 1, 0), cv2.Sobel(lab, cv2.CV_32F, 0, 1))
    if suppression > 0.0:
        edge = np.maximum(edge - suppression * cv2.GaussianBlur(edge, (0, 0), surround * sigma), 0.0)
    return edge.astype(np.float32)


@njit(cache=True, nogil=True)
def _gradient_magnitude(sx, sy):
    """(H, W, C) float32 Sobel responses -> (H, W) float32 ``sqrt(sum_c (sx/8)^2 + (sy/8)^2)``, in one pass.

    The float32 operations of ``np.sqrt(((sx / 8) ** 2 + (sy / 8) ** 2).sum(axis=2))`` in numpy's order
    (the channel sum left to right), so the result is bit-identical, without its four full-size temporaries.
    """
    h, w, c = sx.shape
    out = np.empty((h, w), np.float32)
    eight = np.float32(8.0)
    for y in range(h):
        for x in range(w):
            acc = np.float32(0.0)
            for k in range(c):
                gx = sx[y, x, k] / eight
                gy = sy[y, x, k] / eight
                v = gx * gx + gy * gy
                acc = v if k == 0 else acc + v
            out[y, x] = np.sqrt(acc)
    return out


@njit(cache=True, nogil=True)
def _sweep_geodesic(cost, dist, sweeps):
    """In place: raster-scan chamfer geodesic (8 neighbours), forward and backward up to `sweeps` times.

    Stops early once a forward-backward pair changes nothing (the distances have converged, so further
    sweeps could not change them either).
    """
    h, w = cost.shape
    for _ in range(sweeps):
        changed = False
        for y in range(h):
            for x in range(w):
                c, d = cost[y, x], dist[y, x]
                if x > 0:
                    d = min(d, dist[y, x - 1] + _HALF * (c + cost[y, x - 1]))
                if y > 0:
                    d = min(d, dist[y - 1, x] + _HALF * (c + cost[y - 1, x]))
                    if x > 0:
                        d = min(d, dist[y - 1, x - 1] + _HALF_SQRT2 * (c + cost[y - 1, x - 1]))
                    if x < w - 1:
                        d = min(d, dist[y - 1, x + 1] + _HALF_SQRT2 * (c + cost[y - 1, x + 1]))
                if d < dist[y, x]:
                    dist[y, x] = d
                    changed = True
        for y in range(h - 1, -1, -1):
            for x in range(w - 1, -1, -1):
                c, d = cost[y, x], dist[y, x]
                if x < w - 1:
                    d = min(d, dist[y, x + 1] + _HALF * (c + cost[y, x + 1]))
                if y < h - 1:
                    d = min(d, dist[y + 1, x] + _HALF * (c + cost[y + 1, x]))
                    if x < w - 1:
                        d = min(d, dist[y + 1, x + 1] + _HALF_SQRT2 * (c + cost[y + 1, x + 1]))
                    if x > 0:
                        d = min(d, dist[y + 1, x - 1] + _HALF_SQRT2 * (c + cost[y + 1, x - 1]))
                if d < dist[y, x]:
                    dist[y, x] = d
                    changed = True
        if not changed:
            return


def geodesic_from_top(cost: np.ndarray, sweeps: int = 3) -> np.ndarray:
    """Geodesic distance of every pixel from the top row over a per-pixel cost.

    A step between neighbours costs the mean of their costs times the step length
    (1 or √2); `sweeps` forward–backward raster passes (paths that turn back up
    more than `sweeps` times are over-estimated).

    Args:
        cost: (H, W) float ≥ 0 cost per pixel of path.
        sweeps: number of forward–backward pass pairs.
    Returns:
        (H, W) float32, 0 on the top row.
    """
    if cost.ndim != 2 or cost.shape[0] < 1 or cost.shape[1] < 1:
        raise ValueError(f"expected a non-empty (H, W) cost, got shape {cost.shape}")
    c = np.ascontiguousarray(cost, dtype=np.float32)
    dist = np.full(c.shape, np.float32(np.inf), np.float32)
    dist[0] = 0.0
    _sweep_geodesic(c, dist, sweeps)
    return dist


def layering_prior(rgb: np.ndarray, sigma: float = 3.0, suppression: float = 0.5,
                   height_cost: float = 100.0) -> np.ndarray:
    """Nearness in [0, 1] from the geodesic distance to the top of the frame.

    Args:
        rgb: (H, W, 3) uint8 RGB (at working size).
        sigma: edge scale in pixels (see :func:`boundary_strength`).
        suppression: texture suppression (see :func:`boundary_strength`).
        height_cost: cost of walking one frame height without crossing an edge, in CIELAB units
            (larger = closer to the plain vertical prior).
    Returns:
        (H, W) float32, 0 at the top row, 1 at or beyond the 98th percentile of the distance.
    """
    h = rgb.shape[0]
    cost = boundary_strength(rgb, sigma, suppression) + np.float32(height_cost / max(h - 1, 1))
    dist = geodesic_from_top(cost)
    scale = max(float(np.percentile(dist, 98.0)), 1e-6)
    return np.clip(dist / scale, 0.0, 1.0).astype(np.float32)
