"""Linear-light EXR plates keep their values: above 1.0 (highlights), below 0, half or float as stored.

Depth and shot detection see the plate sRGB-encoded and clipped to [0, 1]; an EXR output renders from the
plate's own values and writes them back linear, so the kept eye of `--synthesize right` is the plate
itself, bit for bit, and the synthesised eye carries the same highlights.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.exr import read_exr, write_exr
from engine.media.sequence import srgb_decode_extended, srgb_encode, srgb_encode_extended

H, W = 24, 40


def hdr_plate(n: int) -> np.ndarray:
    """(H, W, 3) float32 linear light: a textured ramp from 0.01 to 12 (a sun-lit highlight), and a
    slightly negative (out-of-gamut) blue column."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    base = 0.01 + 12.0 * (x / (W - 1)) ** 3
    texture = 1.0 + 0.2 * np.sin(x * 1.7 + y * 0.9 + n)
    rgb = np.stack([base * texture, base * 0.8 * texture, base * 0.5 + 0.02 * y], -1)
    rgb[:, 3, 2] = -0.05
    return rgb.astype(np.float32)


def write_plate(folder, dtype, first: int = 1001, count: int = 3) -> list[np.ndarray]:
    folder.mkdir()
    frames = []
    for n in range(first, first + count):
        rgb = hdr_plate(n).astype(dtype)
        write_exr(folder / f"sh.{n:04d}.exr", {c: rgb[..., k] for k, c in enumerate("RGB")})
        frames.append(rgb)
    return frames


def eye(path) -> np.ndarray:
    channels = read_exr(path)
    return np.stack([channels[c] for c in "RGB"], -1)


def test_extended_srgb_is_srgb_on_0_1_and_exactly_invertible_outside():
    x = np.array([-4.0, -0.05, 0.0, 0.002, 0.18, 0.5, 1.0, 2.0, 12.0, 65504.0], np.float32)
    enc = srgb_encode_extended(x)
    assert np.allclose(enc[2:7], srgb_encode(x[2:7]), atol=1e-7)
    assert enc[-1] > enc[-2] > 1.0 > enc[5] and enc[0] < enc[1] < 0.0  # monotonic, sign kept
    back = srgb_decode_extended(enc)
    assert np.array_equal(back.astype(np.float16), x.astype(np.float16))
    assert np.allclose(back, x, rtol=2e-6, atol=1e-9)
    assert srgb_encode_extended(np.array([np.nan, np.inf], np.float32))[0] == 0.0


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_exr_plate_round_trips_with_values_above_one(cli, tmp_path, dtype):
    source = write_plate(tmp_path / "in", dtype)
    out = tmp_path / "out"
    out.mkdir()
    result = cli("convert", tmp_path / "in/sh.%04d.exr", "--fps", "24", "-o", out / "st.%04d.exr", "--layout",
                 "pair", "--synthesize", "right", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert "above 1.0 and below 0 kept" in result.err
    for k, n in enumerate((1001, 1002, 1003)):
        left, right = eye(out / f"st_L.{n:04d}.exr"), eye(out / f"st_R.{n:04d}.exr")
        assert left.dtype == dtype and right.dtype == dtype  # half stays half, float stays float
        if dtype == np.float16:
            assert np.array_equal(left, source[k])  # the kept eye is the plate, bit for bit
        else:
            np.testing.assert_allclose(left, source[k], rtol=3e-6, atol=1e-9)
        assert right.max() > 10.0 and left.max() > 10.0  # the highlight is not clipped at 1.0
        assert right.min() < 0.0  # nor the out-of-gamut negative
        bright = source[k].max() * 0.9
        assert (right > bright).any() and right.max() <= source[k].max() * 1.0001  # moved, not amplified


def test_exr_plate_to_a_display_output_is_clipped_and_said(cli, tmp_path):
    write_plate(tmp_path / "in", np.float16)
    result = cli("convert", tmp_path / "in/sh.%04d.exr", "--fps", "24", "-o", tmp_path / "o.%04d.png",
                 "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert "a video or PNG/TIFF/DPX output is display-referred sRGB, clipped to [0, 1]" in result.err


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_a_single_exr_still_keeps_values_above_one(cli, tmp_path, dtype):
    """One EXR file (not a sequence) is a still: an EXR output renders from its stored values, as a sequence does."""
    plate = hdr_plate(7).astype(dtype)
    write_exr(tmp_path / "still.exr", {c: plate[..., k] for k, c in enumerate("RGB")})
    result = cli("convert", tmp_path / "still.exr", "-o", tmp_path / "st.exr", "--layout", "pair", "--synthesize",
                 "right", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert "above 1.0 and below 0 kept" in result.err
    left, right = eye(tmp_path / "st_L.exr"), eye(tmp_path / "st_R.exr")
    assert left.dtype == dtype and right.dtype == dtype
    if dtype == np.float16:
        assert np.array_equal(left, plate)  # the kept eye is the still, bit for bit
    else:
        np.testing.assert_allclose(left, plate, rtol=3e-6, atol=1e-9)
    assert right.max() > 10.0 and right.min() < 0.0  # neither the highlight nor the negative is clipped
    sbs = cli("convert", tmp_path / "still.exr", "-o", tmp_path / "sbs.exr", "--no-cache", "--progress", "none")
    assert sbs.code == 0, sbs.err
    packed = eye(tmp_path / "sbs.exr")
    assert packed.shape == (H, 2 * W, 3) and packed.max() > 10.0
    png = cli("convert", tmp_path / "still.exr", "-o", tmp_path / "st.png", "--no-cache", "--progress", "none")
    assert png.code == 0 and "display-referred sRGB, clipped to [0, 1]" in png.err
