"""Geometric priors: vertical position and ground contact ("lower in frame = nearer").

For typical footage the camera looks roughly horizontally over a ground plane:
the inverse depth of the ground grows linearly with the row below the horizon,
and an upright object is about as near as the point where it touches the ground.
"""

from __future__ import annotations

import numpy as np

from engine.opencv import cv2


def vertical_prior(height: int, width: int) -> np.ndarray:
    """Nearness rising linearly downwards: (H, W) float32, 0 at the top row, 1 at the bottom."""
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    return np.repeat(ramp, width, axis=1)


def horizontal_edges(gray: np.ndarray, ref_pct: float = 90.0, floor: float = 4.0) -> np.ndarray:
    """Strength in [0, 1] of the edge between each row and the row below it.

    Args:
        gray: (H, W) uint8.
        ref_pct: percentile of the vertical gradient that counts as a full edge.
        floor: minimum reference gradient in grey levels (flat images have no edges).
    Returns:
        (H, W) float32; the last row is 1 (the frame's bottom edge).
    """
    g = cv2.GaussianBlur(gray, (0, 0), 1.0).astype(np.float32)
    dy = np.abs(np.diff(g, axis=0))
    dy = cv2.blur(dy, (5, 1))
    ref = max(float(np.percentile(dy, ref_pct)), floor)
    edge = np.clip(dy / ref, 0.0, 1.0) ** 2
    return np.vstack([edge, np.ones((1, g.shape[1]), np.float32)])


def ground_contact(gray: np.ndarray, leak: float = 0.02) -> np.ndarray:
    """Nearness from ground contact: each region takes the vertical prior of its lowest point.

    Scans every column upwards, n(y) = e(y) v(y) + (1 - e(y)) n(y + 1) with e the
    edge strength below row y and v the vertical prior: a run of rows without a
    horizontal edge keeps the nearness where it touches the ground, a strong edge
    restarts it at the prior of that row. `leak` blends a little of the prior in
    everywhere, so long runs drift towards it.

    Args:
        gray: (H, W) uint8 image.
        leak: minimum per-row weight of the prior, in [0, 1].
    Returns:
        (H, W) float32 nearness in [0, 1] (1 nearest).
    """
    h, w = gray.shape
    prior = vertical_prior(h, w)
    e = np.maximum(horizontal_edges(gray), leak)
    out = np.empty((h, w), np.float32)
    out[-1] = prior[-1]
    for y in range(h - 2, -1, -1):
        out[y] = e[y] * prior[y] + (1.0 - e[y]) * out[y + 1]
    return out


def sky_likelihood(rgb: np.ndarray, min_area: float = 0.03) -> np.ndarray:
    """Where the frame shows open sky (the farthest thing in outdoor footage).

    Sky is smooth (little local gradient) and either blue (hue 190°–250°,
    saturated, bright) or a bright, nearly grey overcast or cloud that reaches the
    top of the frame or borders blue sky (white walls and lamps lower down are
    not sky); found areas below `min_area` of the frame are ignored.

    Args:
        rgb: (h, w, 3) uint8 RGB at working size.
        min_area: smallest sky fraction that counts.
    Returns:
        (h, w) float32 in [0, 1].
    """
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    gray = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (0, 0), 1.0).astype(np.float32)
    grad = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    grad = cv2.blur(grad, (7, 7))
    smooth = grad < 24.0
    blue = (hue >= 95) & (hue <= 125) & (sat > 40) & (val > 90) & smooth
    grey = ((sat < 30) & (val > 190) & smooth).astype(np.uint8)
    seeds = cv2.dilate(blue.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    seeds[0] = True
    sky = (blue | touching(grey, seeds)).astype(np.uint8)
    sky = cv2.morphologyEx(sky, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    if sky.mean() < min_area:
        return np.zeros(sky.shape, np.float32)
    return cv2.GaussianBlur(sky.astype(np.float32), (0, 0), 1.5)


def touching(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """(H, W) uint8 0/1 mask -> bool mask of its 8-connected components that overlap `seeds` (bool)."""
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    if count <= 1:
        return np.zeros(mask.shape, bool)
    hit = np.unique(labels[seeds & (mask > 0)])
    return np.isin(labels, hit[hit > 0])
