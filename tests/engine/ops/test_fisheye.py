"""engine.ops.fisheye: equidistant 180° fisheye -> 180° equirect per eye, and finding the image circles.

The expected positions are computed here from first principles (the direction's angle from the lens axis
and its bearing around it), not with the module's own grid.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.ops.fisheye import (
    FisheyeCircle,
    FisheyePacker,
    equirect_size_for,
    find_circle,
    find_fisheye_layout,
    fisheye_grid,
    fisheye_to_equirect,
)


def direction(lon_deg: float, lat_deg: float) -> np.ndarray:
    """Unit vector (x right, y up, z forward) of longitude / latitude in degrees."""
    lon, lat = math.radians(lon_deg), math.radians(lat_deg)
    return np.array([math.cos(lat) * math.sin(lon), math.sin(lat), math.cos(lat) * math.cos(lon)])


def fisheye_pixel(d: np.ndarray, cx: float, cy: float, radius: float) -> tuple[float, float]:
    """Where an equidistant 180° lens images direction `d`: radius ∝ the angle from the axis (90° at the rim),
    bearing kept (y up in the world is up in the picture)."""
    theta = math.acos(d[2])
    bearing = np.array([d[0], d[1]]) / max(1e-12, math.hypot(d[0], d[1]))
    r = radius * theta / (math.pi / 2)
    return cx + r * bearing[0], cy - r * bearing[1]


def blob_picture(size: tuple[int, int], points: list[tuple[float, float]], sigma: float = 1.2) -> np.ndarray:
    """(H, W) float32: a Gaussian spot at each continuous (u, v) (pixel i covers [i, i + 1))."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    out = np.zeros((h, w), np.float32)
    for u, v in points:
        out += np.exp(-((xx - u) ** 2 + (yy - v) ** 2) / (2 * sigma**2)).astype(np.float32)
    return out


def centroid(patch: np.ndarray, x0: int, y0: int) -> tuple[float, float]:
    yy, xx = np.mgrid[0:patch.shape[0], 0:patch.shape[1]] + 0.5
    total = patch.sum()
    return x0 + float((xx * patch).sum() / total), y0 + float((yy * patch).sum() / total)


@pytest.mark.parametrize("lon, lat", [(0.0, 0.0), (30.0, 20.0), (-55.0, -15.0), (10.0, 60.0), (-70.0, 35.0)])
def test_a_direction_lands_at_its_equirect_pixel(lon, lat):
    circle = FisheyeCircle(cx=101.0, cy=98.5, radius=92.0, size=(200, 196))  # off-centre, not inscribed
    u, v = fisheye_pixel(direction(lon, lat), circle.cx, circle.cy, circle.radius)
    picture = torch.from_numpy(blob_picture(circle.size, [(u, v)]))[None, None]
    size = 360
    out = fisheye_to_equirect(picture, fisheye_grid(size, circle))[0, 0].numpy()
    ex, ey = (lon / 180 + 0.5) * size, (0.5 - lat / 180) * size  # equirect: longitude across, latitude down
    x0, y0 = int(ex) - 12, int(ey) - 12
    gx, gy = centroid(out[y0:y0 + 24, x0:x0 + 24], x0, y0)
    assert abs(gx - ex) < 0.5 and abs(gy - ey) < 0.5, (gx, gy, ex, ey)


def test_a_whole_hemisphere_round_trips():
    """A picture made from a known function of direction through the lens comes out as that function on the
    equirect grid."""
    def pattern(lon, lat):
        return 0.5 + 0.4 * np.sin(3 * lon) * np.cos(2 * lat)

    w = h = 240
    circle = FisheyeCircle(w / 2, h / 2, w / 2, (w, h))
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    dx, dy = (xx - circle.cx) / circle.radius, (circle.cy - yy) / circle.radius
    rho = np.hypot(dx, dy)
    theta = rho * math.pi / 2
    bearing = np.arctan2(dy, dx)
    x, y, z = np.sin(theta) * np.cos(bearing), np.sin(theta) * np.sin(bearing), np.cos(theta)
    lon, lat = np.arctan2(x, z), np.arcsin(np.clip(y, -1, 1))
    picture = np.where(rho <= 1.0, pattern(lon, lat), 0.0).astype(np.float32)
    size = 200
    out = fisheye_to_equirect(torch.from_numpy(picture)[None, None], fisheye_grid(size, circle))[0, 0].numpy()
    k = (np.arange(size) + 0.5) / size
    lat_g, lon_g = np.meshgrid((0.5 - k) * math.pi, (k - 0.5) * math.pi, indexing="ij")
    want = pattern(lon_g, lat_g)
    inner = slice(8, size - 8)
    assert np.abs(out[inner, inner] - want[inner, inner]).mean() < 0.01


def test_beyond_the_lens_is_black_and_the_packer_keeps_each_eye():
    narrow = FisheyeCircle(50.0, 50.0, 50.0, (100, 100), fov_degrees=120.0)
    grid = fisheye_grid(90, narrow)
    white = torch.ones(1, 3, 100, 100)
    out = fisheye_to_equirect(white, grid)
    assert out[0, :, 45, 0].max() == 0.0 and out[0, :, 45, 45].min() > 0.99  # 90° off-axis: outside 120°
    packer = FisheyePacker(64, FisheyeCircle(50.0, 50.0, 50.0, (100, 100)))
    left, right = torch.zeros(1, 3, 100, 100), torch.ones(1, 3, 100, 100)
    sbs = packer(left, right)
    assert sbs.shape == (1, 3, 64, 128) and sbs[..., :64].max() == 0.0 and sbs[..., 64:].mean() > 0.9
    assert packer(left, right, swap_eyes=True)[..., :64].mean() > 0.9
    assert equirect_size_for(FisheyeCircle(0, 0, 500.0, (1000, 1000)), cap=2048) == 1000
    assert equirect_size_for(FisheyeCircle(0, 0, 2000.0, (4000, 4000)), cap=2048) == 2048


def circle_picture(w: int, h: int, cx: float, cy: float, radius: float, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8: a textured disc (never darker than ~20 %), black with faint noise outside."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    inside = np.hypot(xx - cx, yy - cy) <= radius
    texture = rng.integers(50, 255, (h, w, 3))
    noise = rng.integers(0, 6, (h, w, 3))
    return np.where(inside[..., None], texture, noise).astype(np.uint8)


def test_two_circles_side_by_side_are_found_with_their_geometry():
    left = circle_picture(160, 150, 80.0, 75.5, 72.0, seed=1)
    right = circle_picture(160, 150, 79.0, 75.0, 72.5, seed=2)
    found = find_fisheye_layout([np.concatenate([left, right], axis=1)])
    assert found is not None and found[0] == "sbs"
    for got, (cx, cy, r) in zip(found[1], ((80.0, 75.5, 72.0), (79.0, 75.0, 72.5)), strict=True):
        assert abs(got.cx - cx) < 1.0 and abs(got.cy - cy) < 1.0 and abs(got.radius - r) < 1.0
        assert got.size == (160, 150)


def test_one_circle_is_mono_and_other_pictures_are_not_fisheye():
    mono = find_fisheye_layout([circle_picture(200, 200, 100.0, 100.0, 98.0)])
    assert mono is not None and mono[0] == "mono" and abs(mono[1][0].radius - 98.0) < 1.0
    rng = np.random.default_rng(3)
    flat = rng.integers(30, 255, (120, 200, 3)).astype(np.uint8)
    assert find_fisheye_layout([flat]) is None
    letterboxed = flat.copy()
    letterboxed[:20] = letterboxed[-20:] = 0
    assert find_fisheye_layout([letterboxed]) is None
    yy, xx = np.mgrid[0:120, 0:200] + 0.5
    oval = np.where((((xx - 100) / 95) ** 2 + ((yy - 60) / 55) ** 2 <= 1)[..., None], flat, 0).astype(np.uint8)
    assert find_fisheye_layout([oval]) is None  # a vignette that is not a circle
    assert find_circle(np.zeros((50, 50), np.float32)) is None


def test_a_dark_frame_does_not_hide_the_circle():
    bright = circle_picture(200, 200, 100.0, 100.0, 98.0)
    dark = (bright // 17).astype(np.uint8)  # a night shot: all of it at the black level here
    assert find_fisheye_layout([dark]) is None
    found = find_fisheye_layout([dark, bright, dark])  # the brightest value over the sampled frames
    assert found is not None and found[0] == "mono"


def test_a_circle_cut_by_the_top_and_bottom_of_the_frame_is_found():
    """Dual-fisheye cameras often crop the circles' tops and bottoms: the rim is still found from the sides."""
    half = circle_picture(170, 144, 85.0, 72.0, 81.0, seed=4)
    found = find_fisheye_layout([np.concatenate([half, circle_picture(170, 144, 85.0, 72.0, 81.0, seed=5)], 1)])
    assert found is not None and found[0] == "sbs"
    assert all(abs(c.radius - 81.0) < 1.0 and abs(c.cy - 72.0) < 1.0 for c in found[1])
    rng = np.random.default_rng(6)
    pillarbox = np.zeros((144, 340, 3), np.uint8)
    pillarbox[:, 74:266] = rng.integers(30, 255, (144, 192, 3))  # a 4:3 picture: its corners are lit
    assert find_fisheye_layout([pillarbox]) is None



def test_real_footage_through_the_lens_and_back():
    """A DAVIS frame taken as a 180° equirect view, imaged through an equidistant lens into a dual-fisheye
    frame (dark and textured parts, not a smooth test card): the circles are found where they are, and each
    eye comes back to equirect at the PSNR two bilinear resamplings allow (27.4 dB measured; 25 asserted)."""
    import cv2
    import torch.nn.functional as F

    from engine.media import open_media
    from tests.support.data import shared_data

    with open_media(shared_data("mono_videos", "davis_rollercoaster.mp4")) as reader:
        frame = reader.frame(30).image
    size = 256
    view = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    w, radius = 260, 128.0
    yy, xx = np.mgrid[0:w, 0:w] + 0.5
    dx, dy = (xx - w / 2) / radius, (w / 2 - yy) / radius
    rho = np.hypot(dx, dy)
    theta, bearing = rho * math.pi / 2, np.arctan2(dy, dx)
    x, y, z = np.sin(theta) * np.cos(bearing), np.sin(theta) * np.sin(bearing), np.cos(theta)
    lon, lat = np.arctan2(x, z), np.arcsin(np.clip(y, -1, 1))
    lens = torch.from_numpy(np.stack([lon / (math.pi / 2), -lat / (math.pi / 2)], -1).astype(np.float32))[None]
    fish = F.grid_sample(torch.from_numpy(view).permute(2, 0, 1)[None], lens, align_corners=False)[0]
    fish = torch.where(torch.from_numpy(rho <= 1.0), fish, torch.zeros_like(fish))
    picture = (fish.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    found = find_fisheye_layout([np.concatenate([picture, picture], axis=1)])
    assert found is not None and found[0] == "sbs"
    circle = found[1][0]
    assert (circle.cx, circle.cy, circle.radius) == (130.0, 130.0, 128.0)
    back = fisheye_to_equirect(torch.from_numpy(picture).permute(2, 0, 1)[None].float() / 255,
                               fisheye_grid(size, circle))[0].permute(1, 2, 0).numpy()
    inner = slice(16, size - 16)
    psnr = 10 * math.log10(1 / float(((back[inner, inner] - view[inner, inner]) ** 2).mean()))
    assert psnr > 25.0, psnr
