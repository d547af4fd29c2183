"""engine.ops.vr180: each eye's equirect view of the virtual screen, from that eye's own position."""

from __future__ import annotations

import math

import pytest
import torch

from engine.ops.vr180 import (
    IPD_M,
    SCREEN_DISTANCE_M,
    SCREEN_WIDTH_M,
    Vr180Packer,
    equirect_eye,
    max_far_parallax,
    screen_fov_degrees,
    vr180_flat_width,
    vr180_grid,
    vr180_size_for_eye,
)

S, W, H = 1080, 1200, 800  # 1/6° per equirect pixel, 2.5 mm screen pixels; a 3:2 screen


def column_image(x_m: float, width: int = W, height: int = H) -> torch.Tensor:
    """(1, 3, H, W) black with one white column at screen position x_m (metres from the centre)."""
    image = torch.zeros(1, 3, height, width)
    col = round((x_m / SCREEN_WIDTH_M + 0.5) * width - 0.5)
    image[..., col] = 1.0
    return image


def longitude_of_peak(eye: torch.Tensor) -> float:
    """Degrees of the brightest column on the equator row of an equirect eye (1, 3, S, S)."""
    row = eye[0, 0, S // 2]
    weights = row / row.sum()
    centre = float((weights * torch.arange(S, dtype=torch.float32)).sum())
    return (centre + 0.5) / S * 180.0 - 90.0


def test_preset_numbers():
    assert screen_fov_degrees() == pytest.approx(61.93, abs=0.01)
    assert max_far_parallax() == pytest.approx(0.065 / 3.0)
    assert vr180_size_for_eye(1920, "h264") == 2048 and vr180_size_for_eye(1920, "hevc") == 2880
    assert vr180_size_for_eye(640, "hevc") == 2 * round(640 * 180 / screen_fov_degrees() / 2)
    assert vr180_size_for_eye(1920, "hevc", max_width=1000) == 1000
    flat = vr180_flat_width(3840, "h264")  # a 4K eye is rendered at the screen's share of 2048 px
    assert flat == round(2048 * screen_fov_degrees() / 180) and vr180_size_for_eye(flat, "h264") == 2048
    assert vr180_flat_width(32, "h264") == 32  # never upscaled


def test_screen_point_is_seen_from_each_eye_at_its_own_angle():
    image = column_image(0.0)
    left = equirect_eye(image, vr180_grid(S, W, H, -IPD_M / 2))
    right = equirect_eye(image, vr180_grid(S, W, H, IPD_M / 2))
    expected = math.degrees(math.atan(IPD_M / 2 / SCREEN_DISTANCE_M))  # 0.745°: the eyes converge on the screen
    assert longitude_of_peak(left) == pytest.approx(expected, abs=0.1)
    assert longitude_of_peak(right) == pytest.approx(-expected, abs=0.1)


def test_parallax_of_one_ipd_is_at_infinity():
    left = equirect_eye(column_image(-IPD_M / 2), vr180_grid(S, W, H, -IPD_M / 2))
    right = equirect_eye(column_image(IPD_M / 2), vr180_grid(S, W, H, IPD_M / 2))
    assert longitude_of_peak(left) == pytest.approx(0.0, abs=0.1)
    assert longitude_of_peak(right) == pytest.approx(0.0, abs=0.1)  # parallel rays


def test_off_screen_is_black_and_the_screen_keeps_its_size():
    white = torch.ones(1, 3, H, W)
    eye = equirect_eye(white, vr180_grid(S, W, H, 0.0))[0, 0]
    lit = (eye[S // 2] > 0.5).nonzero().flatten()
    span = (int(lit[-1]) - int(lit[0]) + 1) * 180.0 / S
    assert span == pytest.approx(screen_fov_degrees(), abs=1.0)
    half_h = SCREEN_WIDTH_M / 2 * H / W
    rows = (eye[:, S // 2] > 0.5).nonzero().flatten()
    assert (int(rows[-1]) - int(rows[0]) + 1) * 180.0 / S == pytest.approx(
        2 * math.degrees(math.atan(half_h / SCREEN_DISTANCE_M)), abs=1.0)
    assert float(eye[0, 0]) == 0.0 and float(eye[-1, -1]) == 0.0 and float(eye[S // 2, 0]) == 0.0


def test_packer_is_side_by_side_and_swaps_images_not_positions():
    a, b = column_image(-0.5), column_image(0.5)
    packer = Vr180Packer(S, W, H)
    frame = packer(a, b)
    assert frame.shape == (1, 3, S, 2 * S)
    assert torch.equal(frame[..., :S], equirect_eye(a, packer.grids[0]))
    swapped = packer(a, b, swap_eyes=True)
    assert torch.equal(swapped[..., :S], equirect_eye(b, packer.grids[0]))
    with pytest.raises(ValueError):
        packer(a, b[..., :10])
