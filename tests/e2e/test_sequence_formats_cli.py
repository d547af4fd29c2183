"""Image sequences from the command line: each format round-trips (frame count, bit depth, numbers); bad input is
one line naming the file, exit 3, nothing written."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.exr import write_exr
from engine.media.sequence import read_frame
from engine.media.sequence_writer import encode_frame
from tests.e2e.test_sequence_cli import plate, write_png_sequence


def test_an_exr_sequence_without_rgb_is_one_line(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(1, 4):
        write_exr(folder / f"z.{n:04d}.exr", {"Z": np.full((12, 16), float(n), np.float32)})
    result = cli("convert", folder / "z.%04d.exr", "--fps", "24", "-o", tmp_path / "o.mp4", "--progress", "none")
    assert result.code == 3 and "no RGB channels (found: Z)" in result.err and "z.0001.exr" in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "o.mp4").exists()


def test_a_frame_of_another_size_is_one_line_and_nothing_lands(cli, tmp_path):
    import cv2

    write_png_sequence(tmp_path / "in", 1, 4)
    assert cv2.imwrite(str(tmp_path / "in/plate.0003.png"), plate(h=20, w=32)[..., ::-1])
    result = cli("convert", tmp_path / "in/plate.%04d.png", "--fps", "24", "-o", tmp_path / "o.%04d.png",
                 "--no-cache", "--progress", "none")
    assert result.code == 3 and "plate.0003.png: frame is 32x20, but the sequence is 32x24" in result.err, result.err
    assert "Traceback" not in result.err
    assert not list(tmp_path.glob("o.*")) and not list(tmp_path.glob(".o*"))


FORMATS = [(".png", 8), (".png", 16), (".tif", 16), (".dpx", 10), (".dpx", 16), (".exr", 16), (".exr", 32)]


@pytest.mark.parametrize("suffix, bits", FORMATS)
def test_each_sequence_format_round_trips_count_depth_and_numbers(cli, tmp_path, suffix, bits):
    """plate.1001-1003 in each format -> an SBS sequence in the same format: three frames numbered 1001-1003,
    the same bit depth, and (with --synthesize right) the left eye is the plate."""
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(1001, 1004):
        image = plate(n=n) if bits > 8 else (plate(n=n) // 257).astype(np.uint8)
        (folder / f"p.{n}{suffix}").write_bytes(encode_frame(image, suffix, bits))
    out = tmp_path / "out"
    out.mkdir()
    result = cli("convert", folder / f"p.%d{suffix}", "--fps", "24", "-o", out / f"s.%04d{suffix}", "--synthesize",
                 "right", "--temporal", "off", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert sorted(p.name for p in out.iterdir()) == [f"s.{n}{suffix}" for n in (1001, 1002, 1003)]
    for n in (1001, 1002, 1003):
        source, source_bits = read_frame(folder / f"p.{n}{suffix}")
        image, got_bits = read_frame(out / f"s.{n}{suffix}")
        assert (got_bits, source_bits, image.dtype) == (bits, bits, source.dtype)
        assert image.shape == (source.shape[0], 2 * source.shape[1], 3)
        left = image[:, :source.shape[1]].astype(int)
        step = 0 if bits != 10 else 65535 // 1023 + 1
        assert np.abs(left - source.astype(int)).max() <= step
