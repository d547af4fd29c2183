"""180° fisheye sources for VR180: finding the image circle(s), and each eye's fisheye -> equirect 180.

A VR180 camera's raw picture (Canon dual fisheye, most 180° rigs) is one equidistant fisheye image
circle per eye, side by side, with black outside the circles; a single-lens 180° camera gives one
circle. Neither is what YouTube or a headset player shows as VR180 (that is 180° equirect), so
`--vr180` reprojects each eye.

Model (equidistant, the usual 180° lens): a ray at angle θ from the optical axis lands at distance
r = R · θ / (FOV / 2) from the circle's centre, in the direction ψ it has around the axis; R is the
circle's radius in pixels and FOV its field of view (180°). Directions, with the eye looking down +z,
x right, y up: longitude λ and latitude φ of the equirect eye give

    x = cos φ · sin λ,   y = sin φ,   z = cos φ · cos λ,   θ = arccos z,   ψ = atan2(y, x)

and the fisheye pixel u = cx + r cos ψ, v = cy − r sin ψ. Pixel coordinates are continuous with pixel
i covering [i, i + 1) (its centre at i + ½), as grid_sample's align_corners=False reads them. The
equirect eye is S × S, longitude −90°…+90° left to right and latitude +90°…−90° top to bottom, pixel
centres at (k + ½)/S (engine.ops.vr180's layout).

Finding a circle (:func:`find_circle`): on the brightest value each pixel takes over a few frames
(a dark shot cannot hide the circle), the lit pixels' extent must be round (width ≈ height), the
pixels beyond its rim dark, and the ring just inside the rim lit: a picture that fills its frame, a
letterboxed one or a vignette that is not a clean circle is not a fisheye.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

DARK = 0.06
"""Brightness (fraction of full scale) at or below which a pixel counts as the black outside a circle."""


@dataclass(frozen=True)
class FisheyeCircle:
    """An equidistant fisheye image circle in a picture of `size` (width, height): centre (cx, cy) and
    radius in continuous pixel coordinates, field of view in degrees."""

    cx: float
    cy: float
    radius: float
    size: tuple[int, int]
    fov_degrees: float = 180.0

    def scaled(self, size: tuple[int, int]) -> FisheyeCircle:
        """The same circle in the picture resized to `size` (width, height); a round circle stays round
        only when the aspect is kept (the radius follows the width)."""
        sx, sy = size[0] / self.size[0], size[1] / self.size[1]
        return FisheyeCircle(self.cx * sx, self.cy * sy, self.radius * sx, size, self.fov_degrees)

    def describe(self) -> str:
        return f"centre ({self.cx:.0f}, {self.cy:.0f}), radius {self.radius:.0f} px, {self.fov_degrees:g}°"


def inscribed_circle(size: tuple[int, int], fov_degrees: float = 180.0) -> FisheyeCircle:
    """The circle that just fits a picture of `size`: what a fisheye's metadata means when the picture
    does not show its rim."""
    w, h = size
    return FisheyeCircle(w / 2, h / 2, min(w, h) / 2, size, fov_degrees)


def equirect_size_for(circle: FisheyeCircle, cap: int) -> int:
    """Per-eye equirect size S (even) that keeps the circle's pixel density over 180°: S = 2R · 180 / FOV,
    at most `cap`."""
    wanted = 2 * circle.radius * 180.0 / circle.fov_degrees
    return max(16, 2 * round(min(wanted, cap) / 2))


def fisheye_grid(size: int, circle: FisheyeCircle, device: torch.device | str = "cpu") -> Tensor:
    """Where each pixel of an S × S equirect 180° eye looks in the fisheye picture (see the module notes).

    Returns:
        (1, S, S, 2) float32 in grid_sample's normalised coordinates (align_corners=False) over the
        picture `circle.size`; directions beyond the lens's field of view are outside [−1, 1].
    """
    k = (torch.arange(size, dtype=torch.float64, device=device) + 0.5) / size
    lon = (k - 0.5) * math.pi
    lat = (0.5 - k) * math.pi
    lat_grid, lon_grid = torch.meshgrid(lat, lon, indexing="ij")
    x = torch.cos(lat_grid) * torch.sin(lon_grid)
    y = torch.sin(lat_grid)
    z = torch.cos(lat_grid) * torch.cos(lon_grid)
    theta = torch.arccos(z.clamp(-1.0, 1.0))
    psi = torch.atan2(y, x)
    r = circle.radius * theta / math.radians(circle.fov_degrees / 2)
    u = circle.cx + r * torch.cos(psi)
    v = circle.cy - r * torch.sin(psi)
    w, h = circle.size
    inside = theta <= math.radians(circle.fov_degrees / 2) + 1e-9
    gx = torch.where(inside, 2.0 * u / w - 1.0, torch.full_like(u, 2.0))
    gy = torch.where(inside, 2.0 * v / h - 1.0, torch.full_like(v, 2.0))
    return torch.stack([gx, gy], dim=-1).to(torch.float32)[None]


def fisheye_to_equirect(image: Tensor, grid: Tensor) -> Tensor:
    """One eye's fisheye picture (B, C, H, W) -> its equirect 180° view (B, C, S, S) through `grid`
    (:func:`fisheye_grid`); bilinear, black where the lens saw nothing."""
    if image.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2:
        raise ValueError(f"expected (B, C, H, W) and (1, S, S, 2), got {tuple(image.shape)} and {tuple(grid.shape)}")
    batch_grid = grid.to(image.device, image.dtype).expand(image.shape[0], -1, -1, -1)
    return F.grid_sample(image, batch_grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class FisheyePacker:
    """Both eyes' fisheye pictures -> one VR180 side-by-side frame (B, C, S, 2S); the grids are built once."""

    def __init__(self, size: int, left: FisheyeCircle, right: FisheyeCircle | None = None,
                 device: torch.device | str = "cpu") -> None:
        self.size = size
        self.circles = (left, right or left)
        self.grids = tuple(fisheye_grid(size, c, device) for c in self.circles)

    def __call__(self, left: Tensor, right: Tensor, swap_eyes: bool = False) -> Tensor:
        """left, right: (B, C, H, W) -> (B, C, S, 2S), left eye on the left (`swap_eyes` shows the right
        picture to the left eye; each picture is still reprojected through its own circle)."""
        eyes = [fisheye_to_equirect(left, self.grids[0]), fisheye_to_equirect(right, self.grids[1])]
        if swap_eyes:
            eyes.reverse()
        return torch.cat(eyes, dim=3)


def brightness(images: Sequence[np.ndarray]) -> np.ndarray:
    """(H, W) float32 in [0, 1]: the brightest channel value each pixel reaches over `images`
    ((H, W, 3) uint8/uint16 of one size)."""
    out = None
    for image in images:
        scale = 65535.0 if image.dtype == np.uint16 else 255.0
        level = image.max(axis=2).astype(np.float32) / scale
        out = level if out is None else np.maximum(out, level)
    if out is None:
        raise ValueError("no images")
    return out


def find_circle(level: np.ndarray, dark: float = DARK) -> FisheyeCircle | None:
    """The fisheye image circle of one eye's picture, or None when it does not show one.

    Args:
        level: (H, W) brightness in [0, 1] (:func:`brightness`).
    Returns:
        the circle from the lit pixels' extent (rows and columns with 3 or more lit pixels), when that extent is round
        (width and height within 4 %; or, for a circle cut by the top and bottom of the frame, the width up to
        1.3 × the height), at least 60 % of the picture's shorter side across, its outside (beyond
        1.03 R, at least 4 % of the picture) at most 1 % lit, and the ring 0.85 R … 0.97 R at least 80 % lit.
    """
    h, w = level.shape
    lit = level > dark
    if lit.mean() < 0.2:
        return None
    cols, rows = np.nonzero(lit.sum(axis=0) >= 3)[0], np.nonzero(lit.sum(axis=1) >= 3)[0]  # specks do not count
    if cols.size == 0 or rows.size == 0:
        return None
    x0, x1, y0, y1 = cols[0], cols[-1], rows[0], rows[-1]
    width, height = x1 - x0 + 1, y1 - y0 + 1
    cropped = y0 == 0 and y1 == h - 1 and height < width <= 1.3 * height  # a circle taller than the frame
    if (abs(width - height) > 0.04 * max(width, height) and not cropped) or max(width, height) < 0.6 * min(w, h):
        return None
    cx, cy = (x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2
    radius = width / 2 if cropped else (width + height) / 4
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(xx + 0.5 - cx, yy + 0.5 - cy) / radius
    outside, ring = r > 1.03, (r > 0.85) & (r < 0.97)
    if outside.mean() < 0.04 or lit[outside].mean() > 0.01 or lit[ring].mean() < 0.8:
        return None
    return FisheyeCircle(float(cx), float(cy), float(radius), (w, h))


def find_fisheye_layout(images: Sequence[np.ndarray]) -> tuple[str, tuple[FisheyeCircle, ...]] | None:
    """How a picture holds 180° fisheye circles: ('sbs', (left, right)) for two side by side (each in its
    half's coordinates, radii within 3 % and centres level), ('mono', (circle,)) for one, else None."""
    level = brightness(images)
    w = level.shape[1]
    halves = (find_circle(level[:, : w // 2]), find_circle(level[:, w // 2: 2 * (w // 2)]))
    left, right = halves
    if left is not None and right is not None and abs(left.radius - right.radius) <= 0.03 * left.radius and \
            abs(left.cy - right.cy) <= 0.03 * left.radius:
        return "sbs", (left, right)
    whole = find_circle(level)
    return ("mono", (whole,)) if whole is not None else None


__all__ = ["DARK", "FisheyeCircle", "FisheyePacker", "brightness", "equirect_size_for", "find_circle",
           "find_fisheye_layout", "fisheye_grid", "fisheye_to_equirect", "inscribed_circle"]
