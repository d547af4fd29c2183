"""engine.media.exr: our files read bit-exactly by the reference OpenEXR library and theirs by us."""

from __future__ import annotations

import os
import struct

import av
import numpy as np
import pytest

from engine.errors import OutputError
from engine.media.exr import (
    ExrFormatError,
    depth_channel,
    encode_exr,
    read_exr,
    write_exr,
    zip_decode,
    zip_encode,
)

SIZES = [(23, 37), (1, 1), (40, 5)]  # (H, W): a partial last ZIP block, a single pixel, tall and thin


@pytest.fixture
def openexr():
    """The official OpenEXR bindings (a test-only dependency), as the independent reader/writer."""
    return pytest.importorskip("OpenEXR")


def smooth(h: int, w: int, dtype) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return (0.25 * x + 0.5 * y - 3.0).astype(dtype)


def noisy(h: int, w: int, dtype, seed: int = 0) -> np.ndarray:
    """Incompressible bits (every chunk is stored raw) with NaN, ±inf and -0 in it."""
    values = np.random.default_rng(seed).standard_normal((h, w)).astype(dtype) * dtype(1e3)
    values.flat[:4] = [np.nan, np.inf, -np.inf, -0.0][: values.size]
    return values


@pytest.mark.parametrize("compression", ["none", "zip", "zips"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("shape", SIZES)
def test_openexr_reads_ours_bit_exactly(tmp_path, openexr, compression, dtype, shape):
    h, w = shape
    channels = {"Z": smooth(h, w, dtype), "B": noisy(h, w, dtype), "A": np.full((h, w), 7, np.uint32)}
    path = tmp_path / "ours.exr"
    write_exr(path, channels, compression)
    f = openexr.File(str(path), separate_channels=True)
    header = f.header()
    read = {name: channel.pixels for name, channel in f.channels().items()}
    assert header["compression"] == {"none": openexr.NO_COMPRESSION, "zip": openexr.ZIP_COMPRESSION,
                                     "zips": openexr.ZIPS_COMPRESSION}[compression]
    assert header["type"] == openexr.scanlineimage and header["lineOrder"] == openexr.INCREASING_Y
    assert [c.name for c in header["channels"]] == ["A", "B", "Z"]
    assert tuple(header["dataWindow"][1]) == (w - 1, h - 1) == tuple(header["displayWindow"][1])
    assert header["pixelAspectRatio"] == 1.0 and header["screenWindowWidth"] == 1.0
    for name, values in channels.items():
        assert read[name].dtype == values.dtype and read[name].shape == (h, w)
        assert read[name].tobytes() == values.tobytes(), name  # bit-exact, NaN payloads and -0 included
    ours = read_exr(path)
    assert list(ours) == ["A", "B", "Z"]
    assert all(ours[n].tobytes() == channels[n].tobytes() and ours[n].dtype == channels[n].dtype for n in ours)


@pytest.mark.parametrize("compression", ["NO_COMPRESSION", "ZIPS_COMPRESSION", "ZIP_COMPRESSION"])
@pytest.mark.parametrize("line_order", ["INCREASING_Y", "DECREASING_Y"])
def test_we_read_openexr_files(tmp_path, openexr, compression, line_order):
    h, w = 23, 37
    channels = {"Z": smooth(h, w, np.float32), "half": noisy(h, w, np.float16, 1),
                "id": np.arange(h * w, dtype=np.uint32).reshape(h, w)}
    header = {"compression": getattr(openexr, compression), "type": openexr.scanlineimage,
              "lineOrder": getattr(openexr, line_order),
              "dataWindow": (np.array([5, -3], np.int32), np.array([5 + w - 1, -3 + h - 1], np.int32)),
              "displayWindow": (np.array([0, 0], np.int32), np.array([99, 99], np.int32))}
    path = tmp_path / "theirs.exr"
    openexr.File(header, dict(channels)).write(str(path))  # (the bindings replace the dict's values)
    read = read_exr(path)
    for name, values in channels.items():
        assert read[name].dtype == values.dtype
        assert read[name].tobytes() == values.tobytes(), name
    np.testing.assert_array_equal(depth_channel(read), channels["Z"])


def test_file_layout(tmp_path):
    """Magic, version 2, the eight required attributes in order, one offset per 16-line ZIP chunk."""
    h, w = 40, 9
    data = encode_exr({"Z": smooth(h, w, np.float32)}, "zip")
    assert data[:4] == b"\x76\x2f\x31\x01" and struct.unpack_from("<I", data, 0)[0] == 20000630
    assert struct.unpack_from("<I", data, 4)[0] == 2
    names, pos = [], 8
    while data[pos] != 0:
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        names.append(data[pos:name_end].decode())
        pos = type_end + 5 + struct.unpack_from("<i", data, type_end + 1)[0]
    assert names == ["channels", "compression", "dataWindow", "displayWindow", "lineOrder",
                     "pixelAspectRatio", "screenWindowCenter", "screenWindowWidth"]
    offsets = struct.unpack_from("<3Q", data, pos + 1)
    assert offsets[0] == pos + 1 + 3 * 8
    ys = [struct.unpack_from("<i", data, o)[0] for o in offsets]
    sizes = [struct.unpack_from("<i", data, o + 4)[0] for o in offsets]
    assert ys == [0, 16, 32]
    assert sizes[0] < 16 * w * 4  # smooth data compresses: the chunk is really ZIP, not stored raw
    assert offsets[2] + 8 + sizes[2] == len(data)


def test_zip_codec_round_trip():
    rng = np.random.default_rng(3)
    for size in (1, 2, 7, 1000):
        raw = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        assert zip_decode(zip_encode(raw), size) == raw
    with pytest.raises(ExrFormatError, match="inflates"):
        zip_decode(zip_encode(b"abcd"), 5)


def test_atomic_and_overwrite(tmp_path):
    path = tmp_path / "z.exr"
    write_exr(path, {"Z": np.zeros((2, 3), np.float32)})
    with pytest.raises(OutputError) as info:
        write_exr(path, {"Z": np.ones((2, 3), np.float32)})
    assert info.value.exit_code == 4 and "z.exr" in str(info.value)
    assert (read_exr(path)["Z"] == 0).all()
    write_exr(path, {"Z": np.ones((2, 3), np.float32)}, overwrite=True)
    assert (read_exr(path)["Z"] == 1).all()
    assert sorted(os.listdir(tmp_path)) == ["z.exr"]  # no temp file left beside it
    with pytest.raises(OutputError, match="does not exist"):
        write_exr(tmp_path / "missing" / "z.exr", {"Z": np.zeros((2, 3), np.float32)})


@pytest.mark.parametrize("channels, compression, match", [
    ({}, "zip", "at least one"),
    ({"Z": np.zeros((2, 2), np.float64)}, "zip", "float32, float16 or uint32"),
    ({"Z": np.zeros((2, 2, 1), np.float32)}, "zip", r"\(H, W\)"),
    ({"Z": np.zeros((0, 2), np.float32)}, "zip", "non-empty"),
    ({"Z": np.zeros((2, 2), np.float32), "Y": np.zeros((2, 3), np.float32)}, "zip", "the others"),
    ({"": np.zeros((2, 2), np.float32)}, "zip", "name"),
    ({"Z": np.zeros((2, 2), np.float32)}, "piz", "compression"),
])
def test_bad_arguments(channels, compression, match):
    with pytest.raises(ValueError, match=match):
        encode_exr(channels, compression)


def test_big_endian_input_is_written_little_endian(openexr, tmp_path):
    values = smooth(3, 4, np.float32).astype(">f4")
    write_exr(tmp_path / "be.exr", {"Z": values})
    f = openexr.File(str(tmp_path / "be.exr"), separate_channels=True)
    np.testing.assert_array_equal(f.channels()["Z"].pixels, values)


def test_unreadable_files_raise_format_errors(tmp_path, openexr):
    (tmp_path / "text.exr").write_bytes(b"not an exr at all")
    with pytest.raises(ExrFormatError, match="not an OpenEXR"):
        read_exr(tmp_path / "text.exr")
    good = encode_exr({"Z": smooth(20, 6, np.float32)}, "zip")
    (tmp_path / "cut.exr").write_bytes(good[: len(good) - 40])
    with pytest.raises(ExrFormatError):
        read_exr(tmp_path / "cut.exr")
    tiles = openexr.TileDescription()
    tiles.xSize, tiles.ySize, tiles.mode = 4, 4, openexr.ONE_LEVEL
    tiled = {"type": openexr.tiledimage, "tiles": tiles, "compression": openexr.ZIP_COMPRESSION}
    rle = {"type": openexr.scanlineimage, "compression": openexr.RLE_COMPRESSION}
    for name, header, match in (("tiled.exr", tiled, "tiled"), ("rle.exr", rle, "compression 1")):
        openexr.File(header, {"Z": smooth(8, 8, np.float32)}).write(str(tmp_path / name))
        with pytest.raises(ExrFormatError, match=match):
            read_exr(tmp_path / name)
    assert issubclass(ExrFormatError, ValueError)


def test_ffmpeg_decodes_an_rgb_file_of_ours(tmp_path):
    h, w = 6, 10
    rgb = {c: smooth(h, w, np.float32) * 0.01 + i for i, c in enumerate("RGB")}
    path = tmp_path / "rgb.exr"
    write_exr(path, rgb, "zip")
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    planes = frame.to_ndarray()
    assert planes.shape[:2] == (h, w) and planes.dtype == np.float32
    np.testing.assert_allclose(planes[..., :3], np.stack([rgb["R"], rgb["G"], rgb["B"]], -1), rtol=1e-6)
