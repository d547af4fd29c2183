"""Stills in and out: PNG/JPEG/TIFF, 16-bit, grey and RGBA, EXIF orientation, atomic writes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import MediaError, OutputError
from engine.media import STILL_EXTENSIONS, read_still, write_still


def _rgb(dtype: type = np.uint8) -> np.ndarray:
    scale = 257 if dtype == np.uint16 else 1
    image = np.zeros((20, 30, 3), dtype)
    image[..., 0] = 200 * scale
    image[..., 1] = np.arange(30, dtype=dtype)[None, :] * 3 * scale
    image[..., 2] = 10 * scale
    return image


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff", ".bmp"])
def test_lossless_formats_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"a{suffix}"
    write_still(path, _rgb())
    np.testing.assert_array_equal(read_still(path), _rgb())


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_round_trips(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    write_still(path, _rgb(np.uint16))
    back = read_still(path)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, _rgb(np.uint16))


def test_jpeg_is_close_and_channel_order_is_rgb(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    write_still(path, _rgb())
    back = read_still(path)
    assert back.dtype == np.uint8 and np.abs(back.astype(int) - _rgb()).mean() < 4
    assert back[..., 0].mean() > 150 and back[..., 2].mean() < 50  # red stays red


def test_sixteen_bit_into_jpeg_is_rounded_to_eight(tmp_path: Path) -> None:
    write_still(tmp_path / "a.jpg", _rgb(np.uint16))
    assert read_still(tmp_path / "a.jpg").dtype == np.uint8


def test_grey_and_rgba_become_rgb(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "grey16.png"), np.full((8, 9), 40000, np.uint16))
    grey = read_still(tmp_path / "grey16.png")
    assert grey.shape == (8, 9, 3) and grey.dtype == np.uint16 and (grey == 40000).all()
    rgba = np.zeros((8, 9, 4), np.uint8)
    rgba[..., :3] = (30, 20, 10)  # BGR on disk
    rgba[..., 3] = 128
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    back = read_still(tmp_path / "rgba.png")
    assert back.shape == (8, 9, 3) and tuple(back[0, 0]) == (10, 20, 30)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10] = 255  # bright left strip, landscape
    exif = pil.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    pil.fromarray(image).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    back = read_still(tmp_path / "phone.jpg")
    assert back.shape == (40, 20, 3)
    assert back[:10].mean() > 200 and back[-10:].mean() < 50  # left strip is now on top


def test_float_tiff_is_taken_as_unit_range(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "f.tif"), np.full((4, 5, 3), 0.5, np.float32))
    back = read_still(tmp_path / "f.tif")
    assert back.dtype == np.uint16 and abs(int(back[0, 0, 0]) - 32768) <= 1


def test_bad_still_inputs(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not found"):
        read_still(tmp_path / "missing.png")
    (tmp_path / "fake.png").write_text("not an image")
    with pytest.raises(MediaError, match="not a readable image") as caught:
        read_still(tmp_path / "fake.png")
    assert str(tmp_path / "fake.png") in str(caught.value) and "\n" not in str(caught.value)


def test_write_refusals(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="extension"):
        write_still(tmp_path / "a.gif", _rgb())
    with pytest.raises(OutputError, match="expected"):
        write_still(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    write_still(tmp_path / "a.png", _rgb())
    with pytest.raises(OutputError, match="--overwrite"):
        write_still(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    np.testing.assert_array_equal(read_still(tmp_path / "a.png"), _rgb())
    write_still(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8), overwrite=True)
    assert read_still(tmp_path / "a.png").shape == (4, 4, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # no temp files left


def test_still_extensions_are_lower_case_suffixes() -> None:
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff"} <= STILL_EXTENSIONS
    assert all(ext.startswith(".") and ext == ext.lower() for ext in STILL_EXTENSIONS)


@pytest.mark.parametrize("bits", [16, 32])
def test_one_exr_file_is_a_linear_still_kept_unclipped(tmp_path: Path, bits: int) -> None:
    from engine.media import probe
    from engine.media.exr import read_exr, write_exr
    from engine.media.sequence import srgb_encode_extended
    from engine.media.stills import read_exr_still

    dtype = np.float32 if bits == 32 else np.float16
    linear = np.stack([np.linspace(-0.05, 12.0, 30, dtype=np.float32)[None, :].repeat(20, 0)] * 3, -1).astype(dtype)
    write_exr(tmp_path / "plate.exr", {c: linear[..., k] for k, c in enumerate("RGB")})
    display, scene, stored = read_exr_still(tmp_path / "plate.exr")
    assert stored == bits and display.dtype == np.uint16 and display.max() == 65535  # the picture is clipped
    np.testing.assert_array_equal(scene, linear.astype(np.float32))  # the stored values are not
    np.testing.assert_array_equal(read_still(tmp_path / "plate.exr"), display)
    info = probe(tmp_path / "plate.exr")
    assert info.is_still and info.video.codec == "exr" and info.video.bit_depth == bits
    assert info.video.color_trc == "linear" and "above 1.0 and below 0 kept" in info.notes[0]
    write_still(tmp_path / "back.exr", srgb_encode_extended(scene), exr_bits=bits)  # a render's float32 image
    back = read_exr(tmp_path / "back.exr")
    assert back["R"].dtype == dtype and back["R"].max() > 11.9 and back["R"].min() < 0.0
    np.testing.assert_allclose(back["R"].astype(np.float32), linear[..., 0].astype(np.float32), rtol=2e-6)
    write_still(tmp_path / "display.exr", _rgb(np.uint16))  # a display picture: linear, half
    assert read_exr(tmp_path / "display.exr")["G"].dtype == np.float16
    np.testing.assert_allclose(read_still(tmp_path / "display.exr").astype(int), _rgb(np.uint16).astype(int),
                               atol=40)  # through half floats


def test_an_exr_still_without_rgb_is_one_clear_line(tmp_path: Path) -> None:
    from engine.media.exr import write_exr

    write_exr(tmp_path / "depth.exr", {"Z": np.ones((4, 5), np.float32)})
    with pytest.raises(MediaError) as caught:
        read_still(tmp_path / "depth.exr")
    assert "depth.exr" in str(caught.value) and "\n" not in str(caught.value)
