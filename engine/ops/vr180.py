"""VR180: a flat stereo pair placed on a virtual screen inside each eye's 180° equirectangular view.

Geometry (CONVENTIONS.md `headset` preset): the eyes sit IPD = 65 mm apart, the screen is 3 m wide
at 2.5 m in front of the point between them, its height by the picture's aspect. Each eye's
equirectangular image is computed from that eye's own position: the ray through output pixel
(longitude λ, latitude φ) leaves the eye at x = ∓IPD/2 and meets the screen plane z = D at

    X = x_eye + D · tan λ,    Y = D · tan φ / cos λ

so a point with zero disparity is seen at the screen's distance by both eyes, a disparity d moves it
nearer or farther exactly as on a real screen of that size, and the far limit — on-screen parallax
equal to the IPD — is infinity (:func:`max_far_parallax`). Outside the screen the view is black.

Equirectangular layout (Google spherical video V2, 180° bounds): the output eye is S × S pixels,
longitude −90°…+90° left to right and latitude +90°…−90° top to bottom, pixel centres at (k + ½)/S.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

IPD_M = 0.065
SCREEN_WIDTH_M = 3.0
SCREEN_DISTANCE_M = 2.5
EYE_SIZE_LIMITS = {"h264": 2048, "hevc": 2880, "prores": 4096, "ffv1": 4096}
"""Largest per-eye size by codec: H.264 level 5.2 takes 4096×2048 SBS (32,768 macroblocks of 36,864);
HEVC 5760×2880 (the usual VR180 master, level 6.1); the intermediate codecs 8192×4096."""


def screen_fov_degrees(screen_width_m: float = SCREEN_WIDTH_M, distance_m: float = SCREEN_DISTANCE_M) -> float:
    """Horizontal angle the virtual screen spans from between the eyes (61.9° for the preset)."""
    return math.degrees(2.0 * math.atan(screen_width_m / 2.0 / distance_m))


def max_far_parallax(screen_width_m: float = SCREEN_WIDTH_M, ipd_m: float = IPD_M) -> float:
    """The largest behind-the-screen parallax (fraction of the picture width) that stays at or before
    infinity on the virtual screen: IPD / screen width (2.17 % for the preset)."""
    return ipd_m / screen_width_m


def vr180_size_for_eye(flat_width: int, codec: str, max_width: int | None = None) -> int:
    """Per-eye equirect size S (even) for a flat eye `flat_width` px wide: its pixel density across the
    screen's angle kept, capped by the codec's limit (:data:`EYE_SIZE_LIMITS`) and `max_width`."""
    wanted = flat_width * 180.0 / screen_fov_degrees()
    cap = min(EYE_SIZE_LIMITS.get(codec, 2048), max_width or 1 << 30)
    return max(16, 2 * round(min(wanted, cap) / 2))


def vr180_flat_width(source_width: int, codec: str, max_width: int | None = None) -> int:
    """The flat eye width to render at for a source `source_width` px wide: the screen's share of the
    capped equirect eye, never wider than the source (so the projection samples about 1:1)."""
    size = vr180_size_for_eye(source_width, codec, max_width)
    return min(source_width, max(16, round(size * screen_fov_degrees() / 180.0)))


def vr180_grid(size: int, eye_width: int, eye_height: int, eye_x_m: float, *,
               screen_width_m: float = SCREEN_WIDTH_M, distance_m: float = SCREEN_DISTANCE_M,
               device: torch.device | str = "cpu") -> Tensor:
    """Sampling grid of one eye: where each equirect pixel looks on the flat eye image.

    Args:
        size: S, the equirect eye's width and height.
        eye_width, eye_height: the flat eye image's size (its aspect sets the screen height).
        eye_x_m: the eye's horizontal position (−IPD/2 left, +IPD/2 right), metres.
    Returns:
        (1, S, S, 2) float32 in grid_sample's normalised coordinates (align_corners=False); points
        off the screen or behind the eye are outside [−1, 1].
    """
    k = (torch.arange(size, dtype=torch.float64, device=device) + 0.5) / size
    lon = (k - 0.5) * math.pi  # −90°…+90°
    lat = (0.5 - k) * math.pi  # +90° top … −90° bottom
    lat_grid, lon_grid = torch.meshgrid(lat, lon, indexing="ij")
    cos_lon = torch.cos(lon_grid)
    ahead = cos_lon > 1e-6
    safe = torch.where(ahead, cos_lon, torch.ones_like(cos_lon))
    x = eye_x_m + distance_m * torch.tan(lon_grid)
    y = distance_m * torch.tan(lat_grid) / safe
    half_w = screen_width_m / 2.0
    half_h = half_w * eye_height / eye_width
    gx = torch.where(ahead, x / half_w, torch.full_like(x, 2.0))
    gy = torch.where(ahead, -y / half_h, torch.full_like(y, 2.0))
    return torch.stack([gx, gy], dim=-1).to(torch.float32)[None]


def equirect_eye(image: Tensor, grid: Tensor) -> Tensor:
    """One eye's equirect view: `image` (B, 3, H, W) in [0, 1] sampled through `grid` (1, S, S, 2);
    bilinear, black outside the screen. Returns (B, 3, S, S)."""
    if image.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2:
        raise ValueError(f"expected (B, C, H, W) and (1, S, S, 2), got {tuple(image.shape)} and {tuple(grid.shape)}")
    batch_grid = grid.to(image.device, image.dtype).expand(image.shape[0], -1, -1, -1)
    return F.grid_sample(image, batch_grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class Vr180Packer:
    """Both eyes to one VR180 side-by-side frame (B, 3, S, 2S); the two grids are built once."""

    def __init__(self, size: int, eye_width: int, eye_height: int, device: torch.device | str = "cpu") -> None:
        self.size, self.eye = size, (eye_width, eye_height)
        self.grids = tuple(vr180_grid(size, eye_width, eye_height, x, device=device) for x in (-IPD_M / 2, IPD_M / 2))

    def __call__(self, left: Tensor, right: Tensor, swap_eyes: bool = False) -> Tensor:
        """left, right: (B, 3, H, W) flat eyes in [0, 1] -> (B, 3, S, 2S), left eye on the left
        (`swap_eyes` shows the right image to the left eye: each half is still seen from its own eye)."""
        if left.shape != right.shape:
            raise ValueError(f"eyes differ in shape: {tuple(left.shape)} vs {tuple(right.shape)}")
        first, second = (right, left) if swap_eyes else (left, right)
        return torch.cat([equirect_eye(first, self.grids[0]), equirect_eye(second, self.grids[1])], dim=3)


__all__ = ["EYE_SIZE_LIMITS", "IPD_M", "SCREEN_DISTANCE_M", "SCREEN_WIDTH_M", "Vr180Packer", "equirect_eye",
           "max_far_parallax", "screen_fov_degrees", "vr180_flat_width", "vr180_grid",
           "vr180_size_for_eye"]
