"""Bad input through the CLI: one clear line naming the file, the right exit code, nothing partial left,
inputs untouched, an existing master never replaced by a partial one."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.support.clips import write_clip
from tests.support.data import ROOT


def digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "partial" in p.name)


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "in.mp4", frames=8)


def assert_one_line_error(result, code: int, *needles: str) -> None:
    assert result.code == code, (result.code, result.err)
    lines = [line for line in result.err.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in result.err


def test_missing_file(cli, tmp_path):
    missing = tmp_path / "nope.mp4"
    result = cli("convert", missing, "-o", tmp_path / "o.mp4")
    assert_one_line_error(result, 3, str(missing))
    assert not (tmp_path / "o.mp4").exists()


def test_not_a_video(cli, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    before = digest(fake)
    result = cli("convert", fake, "-o", tmp_path / "o.mp4")
    assert_one_line_error(result, 3, str(fake))
    assert digest(fake) == before and not (tmp_path / "o.mp4").exists()


def test_truncated_file(cli, tmp_path, clip):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    result = cli("convert", cut, "-o", tmp_path / "o.mp4")
    assert_one_line_error(result, 3, str(cut))
    assert not (tmp_path / "o.mp4").exists() and leftovers(tmp_path) == []


def test_zero_video_frames(cli, tmp_path):
    audio_only = write_clip(tmp_path / "voice.m4a", with_video=False, audio=[("aac", 48000, 1)])
    result = cli("convert", audio_only, "-o", tmp_path / "o.mp4")
    assert_one_line_error(result, 3, str(audio_only))


def test_output_exists_without_overwrite(cli, tmp_path, clip):
    out = tmp_path / "master.mp4"
    out.write_bytes(b"a good master")
    result = cli("convert", clip, "-o", out)
    assert_one_line_error(result, 4, str(out), "--overwrite")
    assert out.read_bytes() == b"a good master"


def test_output_folder_missing(cli, tmp_path, clip):
    result = cli("convert", clip, "-o", tmp_path / "no" / "such" / "o.mp4")
    assert_one_line_error(result, 4, "does not exist")


@contextlib.contextmanager
def tmpfs(path: Path, options: str):
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_output_folder_not_writable(cli, tmp_path, clip):
    with tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        result = cli("convert", clip, "-o", ro / "o.mp4")
        assert_one_line_error(result, 4, "not writable")


def test_disk_full_mid_write_keeps_the_old_master(cli, tmp_path):
    big = write_clip(tmp_path / "big.mp4", frames=20,
                     image_fn=lambda i: np.random.default_rng(i).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    with tmpfs(tmp_path / "small", "size=256k") as small:
        out = small / "master.mkv"
        out.write_bytes(b"previous good master")
        result = cli("convert", big, "-o", out, "--overwrite", "--codec", "ffv1", "--layout", "sbs-full")
        assert_one_line_error(result, 4, "disk full")
        assert out.read_bytes() == b"previous good master"
        assert leftovers(small) == []


def test_depth_file_with_wrong_frame_count(cli, tmp_path, clip):
    depth = tmp_path / "depth.npy"
    np.save(depth, np.ones((3, 48, 64), np.float32))
    result = cli("convert", clip, "-o", tmp_path / "o.mp4", "--depth", depth, "--depth-kind", "inverse")
    assert_one_line_error(result, 3, str(depth))
    assert not (tmp_path / "o.mp4").exists()


def test_depth_file_with_wrong_size(cli, tmp_path, clip):
    depth = tmp_path / "depth.npy"
    np.save(depth, np.ones((8, 40, 40), np.float32))
    result = cli("convert", clip, "-o", tmp_path / "o.mp4", "--depth", depth)
    assert_one_line_error(result, 3, str(depth))


def test_4k_full_sbs_h264_is_refused_with_a_way_out(cli, tmp_path):
    uhd = write_clip(tmp_path / "uhd.mp4", frames=1, image_fn=lambda i: np.zeros((2160, 3840, 3), np.uint8),
                     options={"preset": "ultrafast"})
    result = cli("convert", uhd, "-o", tmp_path / "o.mp4", "--layout", "sbs-full")
    assert_one_line_error(result, 4, "H.264", "--max-width")


@pytest.mark.parametrize("args, needle", [
    (["--start", "tomorrow"], "cannot read time"),
    (["--start", "20f", "--end", "10f"], "holds no frame"),
    (["--convergence", "1.5"], "convergence"),
])
def test_usage_errors_exit_2(cli, tmp_path, clip, args, needle):
    result = cli("convert", clip, "-o", tmp_path / "o.mp4", *args)
    assert_one_line_error(result, 2, needle)


def test_odd_size_is_padded_and_said(cli, tmp_path):
    odd = write_clip(tmp_path / "odd.mkv", frames=3, codec="ffv1", pix_fmt="yuv444p",
                     image_fn=lambda i: np.full((45, 63, 3), 90 + i, np.uint8))
    out = tmp_path / "o.mp4"
    result = cli("convert", odd, "-o", out, "--layout", "sbs-full")
    assert result.code == 0, result.err
    assert "padded" in result.err
    from engine.media import probe

    assert (probe(out).video.width, probe(out).video.height) == (126, 46)


def test_rotated_phone_video_comes_out_upright(cli, tmp_path):
    phone = write_clip(tmp_path / "phone.mp4", frames=4, rotation=90)  # display matrix: 90° counter-clockwise
    out = tmp_path / "o.mp4"
    result = cli("convert", phone, "-o", out, "--layout", "sbs-half", "--progress", "none")
    assert result.code == 0, result.err
    from engine.media import probe

    info = probe(out)
    assert (info.video.width, info.video.height, info.video.rotation) == (48, 64, 0)


def test_variable_frame_rate_keeps_timestamps(cli, tmp_path):
    pts = [0, 40, 80, 160, 200, 320, 360, 400]
    vfr = write_clip(tmp_path / "vfr.mkv", frames=len(pts), pts=pts, time_base=Fraction(1, 1000))
    out = tmp_path / "o.mkv"
    result = cli("convert", vfr, "-o", out, "--codec", "ffv1")
    assert result.code == 0, result.err
    assert "variable frame rate" in result.err
    from engine.media import open_media

    with open_media(out) as reader:
        times = [float(f.time) for f in reader.frames()]
    assert times == pytest.approx([p / 1000 for p in pts], abs=0.002)


def test_ten_bit_source_kept_or_warned(cli, tmp_path):
    deep = write_clip(tmp_path / "hdr.mkv", frames=3, codec="libx265", pix_fmt="yuv420p10le",
                      colour=(9, 16, 9, 1), options={"preset": "ultrafast", "x265-params": "log-level=error"})
    kept = cli("convert", deep, "-o", tmp_path / "k.mkv", "--codec", "hevc", "--bit-depth", "10",
               "--progress", "none")
    assert kept.code == 0, kept.err
    from engine.media import probe

    info = probe(tmp_path / "k.mkv").video
    assert info.bit_depth == 10 and info.color_trc == "smpte2084" and info.color_primaries == "bt2020"
    dropped = cli("convert", deep, "-o", tmp_path / "d.mp4", "--progress", "none")
    assert dropped.code == 0 and "drops it" in dropped.err


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose IHDR claims `width` x `height` (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("command", ["probe", "frame", "convert"])
def test_png_bomb_header_is_refused_before_decoding(cli, tmp_path, command):
    bomb = png_claiming(tmp_path / "bomb.png", 100_000, 100_000)
    args = {"probe": [], "frame": ["--at", "0f", "-o", tmp_path / "o.png"], "convert": ["-o", tmp_path / "o.png"]}
    result = cli(command, bomb, *args[command])
    assert_one_line_error(result, 3, str(bomb), "100000x100000", "Mpixel")


def test_pickled_npy_depth_is_refused_in_our_words(cli, tmp_path, clip):
    depth = tmp_path / "depth.npy"
    np.save(depth, np.array([{"not": "depth"}] * 8, dtype=object), allow_pickle=True)
    result = cli("convert", clip, "-o", tmp_path / "o.mp4", "--depth", depth)
    assert_one_line_error(result, 3, str(depth), "pickled")


@pytest.mark.parametrize("value, kind", [(np.nan, "inverse"), (np.inf, "disparity-px"), (0.0, "disparity-px")])
def test_a_depth_with_no_usable_value_is_refused(cli, tmp_path, clip, value, kind):
    depth = tmp_path / "depth.npy"
    np.save(depth, np.full((8, 48, 64), value, np.float32))
    result = cli("convert", clip, "-o", tmp_path / "o.mp4", "--depth", depth, "--depth-kind", kind)
    assert_one_line_error(result, 3, str(depth), "no usable value")
    assert not (tmp_path / "o.mp4").exists()


def test_an_empty_range_names_the_source(cli, tmp_path, clip):
    result = cli("convert", clip, "-o", tmp_path / "o.mp4", "--start", "10")
    assert_one_line_error(result, 2, str(clip), "holds no frame")


def test_a_wildcard_depth_pattern_is_explained(cli, tmp_path, clip):
    result = cli("convert", clip, "-o", tmp_path / "o.mp4", "--depth", tmp_path / "depth_*.png")
    assert_one_line_error(result, 3, "wildcard", "%06d")


def test_opencv_warnings_never_reach_the_terminal(tmp_path):
    broken = tmp_path / "cut.png"
    import cv2

    ok, data = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    broken.write_bytes(data.tobytes()[:200])
    done = subprocess.run([sys.executable, "-m", "engine", "probe", str(broken)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 3 and "WARN" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
