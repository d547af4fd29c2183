"""A brush stroke (polyline, radius, soft edge) rasterised to a weight map at any eye size.

Stroke coordinates are full-resolution *source* pixels (CONVENTIONS.md "Depth edits"); the weight
map is made at the size of the δ it edits (an eye, a preview). A pixel's weight depends on the
distance ``dist`` from its centre, mapped into source pixels, to the polyline:

    w = 1                                   dist <= radius
    w = 1 - smoothstep((dist - radius) / softness)   radius < dist < radius + softness
    w = 0                                   dist >= radius + softness   (the footprint's edge)

so nothing beyond the footprint (radius + softness) is ever touched. Pixel centres follow
OpenCV's resize convention: output pixel x covers source x_s = (x + 0.5) · W_s / W - 0.5.

Weights are kept sparse: a :class:`Weight` is the crop of the map over the footprint's bounding
box, because a stroke covers a small part of the frame and is carried across hundreds of frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Weight:
    """A sparse weight map: `crop` placed at rows [y0, y0 + h), columns [x0, x0 + w) of a `shape` frame.

    Attributes:
        shape: (H, W) of the full map.
        y0, x0: top-left corner of the crop in the full map.
        crop: (h, w) float32 in [0, 1]; everything outside the crop is exactly 0. (0, 0) when empty.
    """

    shape: tuple[int, int]
    y0: int
    x0: int
    crop: np.ndarray

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> Weight:
        return cls((int(shape[0]), int(shape[1])), 0, 0, np.zeros((0, 0), np.float32))

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> Weight:
        """The sparse form of an (H, W) map (its crop is the bounding box of the non-zero pixels)."""
        rows, cols = np.nonzero(np.any(dense > 0, axis=1))[0], np.nonzero(np.any(dense > 0, axis=0))[0]
        if rows.size == 0:
            return cls.empty(dense.shape)
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        return cls(dense.shape, int(y0), int(x0), np.ascontiguousarray(dense[y0:y1, x0:x1], np.float32))

    @property
    def is_empty(self) -> bool:
        return self.crop.size == 0 or not np.any(self.crop > 0)

    @property
    def slices(self) -> tuple[slice, slice]:
        """Row and column slices of the crop in the full map."""
        h, w = self.crop.shape
        return slice(self.y0, self.y0 + h), slice(self.x0, self.x0 + w)

    @property
    def mass(self) -> float:
        """Sum of the weights (pixels)."""
        return float(self.crop.sum(dtype=np.float64))

    def dense(self) -> np.ndarray:
        """(H, W) float32 full map."""
        out = np.zeros(self.shape, np.float32)
        if self.crop.size:
            out[self.slices] = self.crop
        return out

    def centroid(self) -> tuple[float, float] | None:
        """Weight-weighted (x, y) centre in this map's pixels, or None when empty."""
        mass = self.mass
        if mass <= 0:
            return None
        h, w = self.crop.shape
        ys, xs = np.arange(h) + self.y0, np.arange(w) + self.x0
        return (float((self.crop.sum(0) * xs).sum() / mass), float((self.crop.sum(1) * ys).sum() / mass))


def footprint_box(points: np.ndarray, reach: float, source_size: tuple[int, int],
                  shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Bounding box (y0, y1, x0, x1) in output pixels of everything within `reach` source px of `points`.

    Args:
        points: (N, 2) float (x, y) in source pixels.
        reach: radius + softness in source pixels.
        source_size: (W_s, H_s) full-resolution source size.
        shape: (H, W) of the output map.
    Returns:
        The box clipped to the map, or None when it misses the map.
    """
    (ws, hs), (h, w) = source_size, shape
    sx, sy = w / ws, h / hs
    lo, hi = points.min(axis=0) - reach, points.max(axis=0) + reach
    x0, x1 = int(np.floor((lo[0] + 0.5) * sx - 0.5)), int(np.ceil((hi[0] + 0.5) * sx - 0.5)) + 1
    y0, y1 = int(np.floor((lo[1] + 0.5) * sy - 0.5)), int(np.ceil((hi[1] + 0.5) * sy - 0.5)) + 1
    x0, x1, y0, y1 = max(x0, 0), min(x1, w), max(y0, 0), min(y1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    return y0, y1, x0, x1


def polyline_distance(xs: np.ndarray, ys: np.ndarray, points: np.ndarray, reach: float = np.inf) -> np.ndarray:
    """Euclidean distance from each (x, y) of a grid to a polyline (all in source pixels).

    Args:
        xs: (w,) float64 x of the grid's columns, increasing. ys: (h,) float64 y of its rows, increasing.
        points: (N, 2) float64 polyline vertices (N = 1: a dab).
        reach: distances beyond this may be left at inf (each segment is measured only within its own
            box grown by `reach`, which keeps long strokes fast).
    Returns:
        (h, w) float64 distances (exact up to `reach`).
    """
    best = np.full((ys.size, xs.size), np.inf)
    starts, ends = points[:-1] if len(points) > 1 else points, points[1:] if len(points) > 1 else points
    for (ax, ay), (bx, by) in zip(starts, ends, strict=True):
        c0, c1 = np.searchsorted(xs, min(ax, bx) - reach), np.searchsorted(xs, max(ax, bx) + reach, "right")
        r0, r1 = np.searchsorted(ys, min(ay, by) - reach), np.searchsorted(ys, max(ay, by) + reach, "right")
        if c0 >= c1 or r0 >= r1:
            continue
        gx, gy = xs[None, c0:c1], ys[r0:r1, None]
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = np.clip(((gx - ax) * dx + (gy - ay) * dy) / length2, 0.0, 1.0) if length2 > 0 else 0.0
        view = best[r0:r1, c0:c1]
        np.minimum(view, np.hypot(gx - (ax + t * dx), gy - (ay + t * dy)), out=view)
    return best


def falloff(dist: np.ndarray, radius: float, softness: float) -> np.ndarray:
    """Brush weight from the distance to the polyline: 1 inside `radius`, smoothstep to 0 over `softness`.

    Args:
        dist: distances in source pixels (any shape).
    Returns:
        float32 weights in [0, 1], exactly 0 at dist >= radius + softness.
    """
    if softness <= 0:
        return (dist <= radius).astype(np.float32)
    s = np.clip((dist - radius) / softness, 0.0, 1.0)
    return (1.0 - s * s * (3.0 - 2.0 * s)).astype(np.float32)


def stroke_weight(points: Sequence[tuple[float, float]], radius: float, softness: float,
                  source_size: tuple[int, int], shape: tuple[int, int]) -> Weight:
    """Rasterise one stroke to a weight map of `shape`.

    Args:
        points: polyline (x, y) in full-resolution source pixels (one point: a dab).
        radius: full-weight radius in source pixels; <= 0 rasterises to nothing (the caller notes it).
        softness: width of the soft edge beyond `radius`, source pixels (>= 0).
        source_size: (W_s, H_s) of the full-resolution source.
        shape: (H, W) of the map (the eye or preview size of the δ it edits).
    Returns:
        :class:`Weight` of `shape`; empty when the radius is 0 or the footprint misses the frame.
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if pts.shape[0] == 0 or not np.all(np.isfinite(pts)):
        raise ValueError(f"a stroke needs finite (x, y) points, got {len(pts)} points")
    if softness < 0:
        raise ValueError(f"stroke softness must be >= 0, got {softness}")
    shape = (int(shape[0]), int(shape[1]))
    if radius <= 0:
        return Weight.empty(shape)
    box = footprint_box(pts, radius + softness, source_size, shape)
    if box is None:
        return Weight.empty(shape)
    y0, y1, x0, x1 = box
    (ws, hs), (h, w) = source_size, shape
    xs = (np.arange(x0, x1) + 0.5) * (ws / w) - 0.5
    ys = (np.arange(y0, y1) + 0.5) * (hs / h) - 0.5
    crop = falloff(polyline_distance(xs, ys, pts, radius + softness), radius, softness)
    weight = Weight(shape, y0, x0, crop)
    return weight if not weight.is_empty else Weight.empty(shape)
