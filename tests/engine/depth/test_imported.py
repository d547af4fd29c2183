"""engine.depth.imported: every input form, kinds, scale, unknown pixels, mismatch errors."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from engine.depth.imported import ImportedDepth, read_exr
from engine.errors import DepthInputError, UsageError

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
MIDDLEBURY = DATA / "stereo_pairs" / "middlebury_2001_2003"


def ramp(h: int = 12, w: int = 16, start: float = 1.0) -> np.ndarray:
    return (start + np.arange(h * w, dtype=np.float32).reshape(h, w) / 8.0).astype(np.float32)


def write_png16(path: Path, values: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), values.astype(np.uint16))
    return path


def write_exr_av(path: Path, values: np.ndarray, compression: str = "none") -> Path:
    """A one-channel (Y) float EXR written by FFmpeg."""
    h, w = values.shape
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("exr", rate=1, options={"compression": compression})
        stream.width, stream.height, stream.pix_fmt = w, h, "grayf32le"
        frame = av.VideoFrame.from_ndarray(values.astype(np.float32), format="grayf32le")
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_pfm(path: Path, values: np.ndarray) -> Path:
    """Standard PFM: rows stored bottom to top, negative scale = little-endian."""
    h, w = values.shape
    path.write_bytes(f"Pf\n{w} {h}\n-1.0\n".encode() + values[::-1].astype("<f4").tobytes())
    return path


def test_single_png16_with_scale(tmp_path):
    disp = np.array([[0, 16, 32], [48, 64, 80]], np.uint16)
    depth = ImportedDepth(write_png16(tmp_path / "d.png", disp), "disparity-px", scale=16)
    assert depth.frame_count == 1 and depth.size == (3, 2)
    depth.validate(tmp_path / "still.png", 1, 3, 2)
    out = depth.read(0, 3, 2)
    assert out.dtype == np.float32
    assert np.isnan(out[0, 0])  # 0 = unknown disparity
    np.testing.assert_allclose(out[0, 1:], [1.0, 2.0])
    np.testing.assert_allclose(out[1], [3.0, 4.0, 5.0])


def test_kinds_keep_zero_except_disparity(tmp_path):
    values = np.array([[0, 100], [200, 300]], np.uint16)
    path = write_png16(tmp_path / "d.png", values)
    for kind in ("relative", "inverse", "metric"):
        out = ImportedDepth(path, kind).read(0, 2, 2)
        np.testing.assert_array_equal(out, values.astype(np.float32))  # 0 stays (metric 0 -> NaN later)
    with pytest.raises(UsageError):
        ImportedDepth(path, "depth")
    with pytest.raises(UsageError):
        ImportedDepth(path, "inverse", scale=0)


def test_float_data_ignores_scale_and_marks_nonfinite(tmp_path):
    values = ramp(4, 5)
    values[0, 0], values[0, 1] = np.nan, np.inf
    path = tmp_path / "d.npy"
    np.save(path, values)
    depth = ImportedDepth(path, "metric", scale=4)
    out = depth.read(0, 5, 4)
    assert np.isnan(out[0, :2]).all()
    np.testing.assert_array_equal(out[1:], values[1:])
    assert any("ignored" in note for note in depth.notes)


def test_npy_stack_and_npz_keys(tmp_path):
    stack = np.stack([ramp(start=i) for i in range(3)])
    np.save(tmp_path / "s.npy", stack)
    depth = ImportedDepth(tmp_path / "s.npy", "inverse")
    assert depth.frame_count == 3 and depth.size == (16, 12)
    np.testing.assert_array_equal(depth.read(2, 16, 12), stack[2])
    np.savez(tmp_path / "a.npz", other=np.zeros((2, 2)), disparity=stack)
    npz = ImportedDepth(tmp_path / "a.npz", "disparity-px")
    assert npz.frame_count == 3
    np.testing.assert_array_equal(npz.read(1, 16, 12), stack[1])
    np.savez(tmp_path / "b.npz", stack[0])
    assert ImportedDepth(tmp_path / "b.npz", "inverse").frame_count == 1
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 4, 5)))
    with pytest.raises(DepthInputError, match="bad.npy"):
        ImportedDepth(tmp_path / "bad.npy", "inverse")


def test_sequences_folder_and_patterns(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    for i in (0, 1, 2, 10):  # natural order: 10 after 2
        write_png16(folder / f"depth.{i}.png", np.full((4, 6), 100 + i, np.uint16))
    (folder / "notes.txt").write_text("ignored")
    depth = ImportedDepth(folder, "inverse")
    assert depth.frame_count == 4 and depth.size == (6, 4)
    assert [depth.read(i, 6, 4)[0, 0] for i in range(4)] == [100, 101, 102, 110]

    padded = tmp_path / "pad"
    padded.mkdir()
    for i in (7, 8, 9):
        write_png16(padded / f"d.{i:06d}.png", np.full((4, 6), i, np.uint16))
    for pattern in ("d.%06d.png", "d.######.png"):
        seq = ImportedDepth(padded / pattern, "relative")
        assert seq.frame_count == 3 and seq.read(2, 6, 4)[0, 0] == 9
    with pytest.raises(DepthInputError, match="no depth images"):
        ImportedDepth(padded / "x.%04d.png", "inverse")

    write_png16(folder / "depth.11.png", np.full((5, 6), 1, np.uint16))
    odd = ImportedDepth(folder, "inverse")
    with pytest.raises(DepthInputError, match="depth.11.png"):
        odd.read(4, 6, 4)


@pytest.mark.parametrize("compression", ["none", "zip1", "zip16", "rle"])
def test_exr(tmp_path, compression):
    values = ramp(40, 30)
    path = write_exr_av(tmp_path / "d.exr", values, compression)
    depth = ImportedDepth(path, "metric")
    assert depth.size == (30, 40)
    np.testing.assert_allclose(depth.read(0, 30, 40), values, rtol=1e-6)


def test_exr_z_channel_read_natively(tmp_path):
    values = ramp(20, 24)
    data = write_exr_av(tmp_path / "y.exr", values, "zip16").read_bytes()
    z = tmp_path / "z.exr"
    z.write_bytes(data.replace(b"chlist\x00\x13\x00\x00\x00Y\x00", b"chlist\x00\x13\x00\x00\x00Z\x00", 1))
    np.testing.assert_allclose(read_exr(z), values, rtol=1e-6)
    np.testing.assert_allclose(ImportedDepth(z, "inverse").read(0, 24, 20), values, rtol=1e-6)


def test_pfm_orientation(tmp_path):
    values = ramp(6, 9)
    depth = ImportedDepth(write_pfm(tmp_path / "d.pfm", values), "disparity-px")
    np.testing.assert_allclose(depth.read(0, 9, 6), values)


def test_tiff_float_and_rgb_png_first_channel(tmp_path):
    values = ramp(5, 7)
    assert cv2.imwrite(str(tmp_path / "d.tif"), values)
    np.testing.assert_array_equal(ImportedDepth(tmp_path / "d.tif", "inverse").read(0, 7, 5), values)
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[..., 0] = 50  # R
    assert cv2.imwrite(str(tmp_path / "c.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    np.testing.assert_array_equal(ImportedDepth(tmp_path / "c.png", "inverse").read(0, 7, 5), 50)


def test_video(tmp_path):
    path = tmp_path / "depth.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "gray"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((24, 32), 40 * i + 20, np.uint8), format="gray")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with ImportedDepth(path, "inverse") as depth:
        assert depth.frame_count == 5 and depth.size == (32, 24)
        depth.validate(tmp_path / "clip.mp4", 5, 32, 24)
        levels = [float(np.median(depth.read(i, 32, 24))) for i in range(5)]
    assert levels == sorted(levels) and levels[-1] - levels[0] > 100
    np.testing.assert_allclose(levels, [40 * i + 20 for i in range(5)], atol=3)


def test_frame_count_mismatch_names_the_file(tmp_path):
    np.save(tmp_path / "d.npy", np.zeros((12, 4, 6), np.float32))
    depth = ImportedDepth(tmp_path / "d.npy", "inverse")
    with pytest.raises(DepthInputError) as info:
        depth.validate(tmp_path / "clip.mp4", 48, 6, 4)
    text = str(info.value)
    assert "d.npy" in text and "depth has 12 frames, media has 48" in text
    assert "one depth map per frame" in text
    assert info.value.exit_code == 3
    single = ImportedDepth(write_png16(tmp_path / "one.png", np.ones((4, 6))), "inverse")
    with pytest.raises(DepthInputError, match="one.png.*depth has 1 frame, media has 48"):
        single.validate(tmp_path / "clip.mp4", 48, 6, 4)
    with pytest.raises(DepthInputError, match="out of range"):
        depth.read(12, 6, 4)


def test_size_mismatch_resizes_same_aspect_and_rejects_others(tmp_path):
    disp = np.zeros((20, 40), np.float32)
    disp[:, 20:] = 8.0
    disp[0, 0] = np.nan
    np.save(tmp_path / "d.npy", disp)
    depth = ImportedDepth(tmp_path / "d.npy", "disparity-px")
    depth.validate("clip.mp4", 1, 80, 40)
    assert depth.notes and "scaled by 2" in depth.notes[0]
    out = depth.read(0, 80, 40)
    assert out.shape == (40, 80)
    assert set(np.unique(out[np.isfinite(out)])) == {16.0}  # nearest: crisp, and scaled by the width ratio
    assert np.isnan(out[:, :40]).all()  # 0 and NaN stay unknown, never blended in

    relative = ImportedDepth(tmp_path / "d.npy", "relative")
    relative.validate("clip.mp4", 1, 161, 80)  # 0.6 % off 2:1: resized
    with pytest.raises(DepthInputError) as info:
        relative.validate("clip.mp4", 1, 64, 48)
    assert "d.npy" in str(info.value) and "40x20" in str(info.value) and "64x48" in str(info.value)

    smooth = ramp(20, 40)
    np.save(tmp_path / "s.npy", smooth)
    big = ImportedDepth(tmp_path / "s.npy", "inverse").read(0, 80, 40)
    assert np.isfinite(big).all() and big.min() >= smooth.min() - 1e-4 and big.max() <= smooth.max() + 1e-4


def test_missing_and_unreadable(tmp_path):
    with pytest.raises(DepthInputError, match="not found"):
        ImportedDepth(tmp_path / "nope.png", "inverse")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DepthInputError, match="bad.png"):
        ImportedDepth(tmp_path / "bad.png", "inverse")
    (tmp_path / "bad.mov").write_bytes(b"not a video")
    with pytest.raises(DepthInputError, match="bad.mov"):
        ImportedDepth(tmp_path / "bad.mov", "inverse")


def test_middlebury_ground_truth():
    folder = MIDDLEBURY / "teddy"
    if not folder.is_dir():
        pytest.skip(f"shared test data not found at {folder}")
    depth = ImportedDepth(folder / "disp2.png", "disparity-px", scale=4)
    assert depth.size == (450, 375)
    disp = depth.read(0, 450, 375)
    raw = cv2.imread(str(folder / "disp2.png"), cv2.IMREAD_UNCHANGED)
    assert np.isnan(disp[raw == 0]).all()
    np.testing.assert_allclose(disp[raw > 0], raw[raw > 0] / 4.0)
    assert np.nanmin(disp) > 0 and np.nanmax(disp) < 64
