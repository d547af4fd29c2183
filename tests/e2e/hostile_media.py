"""The hostile-media corpus: broken and edge-case media generated at test time (no committed binaries).

    python -m tests.e2e.hostile_media DIR      # build the corpus in DIR, run every case, one JSON line each

Each case is a file (or path) built by a small function; :func:`run_case` sends it through
``probe``, ``frame`` and ``convert`` in-process (the real CLI ``main``) and records the exit code,
stderr, whether the output is there and playable, what was left beside it and whether the input
changed. The test (``test_hostile_media.py``) runs this module in a child process, so a crash
(a segfault inside a codec) fails one case by name instead of killing pytest.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import struct
import sys
import zlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from tests.support.clips import coded_image, damage_first_keyframe, write_clip

W, H = 64, 48
Builder = Callable[[Path], Path]


def noise(height: int = H, width: int = W) -> Callable[[int], np.ndarray]:
    return lambda i: np.random.default_rng(i).integers(0, 255, (height, width, 3), dtype=np.uint8)


def good_mp4(folder: Path, name: str = "good.mp4", frames: int = 6) -> Path:
    return write_clip(folder / name, frames=frames)


def truncated(fraction: float) -> Builder:
    def build(folder: Path) -> Path:
        data = good_mp4(folder, f"src_{fraction}.mp4", frames=8).read_bytes()
        out = folder / f"truncated_{int(fraction * 100):02d}.mp4"
        out.write_bytes(data[: max(1, int(len(data) * fraction))])
        (folder / f"src_{fraction}.mp4").unlink()
        return out
    return build


def flipped(where: str) -> Builder:
    def build(folder: Path) -> Path:
        src = good_mp4(folder, f"src_flip_{where}.mp4", frames=8)
        data = bytearray(src.read_bytes())
        src.unlink()
        rng = np.random.default_rng(7)
        if where == "header":
            for k in range(24, 96, 7):
                data[k] ^= 0xFF
        elif where == "middle":
            mid = len(data) // 2
            data[mid:mid + 16] = bytes(16)
        else:
            for k in rng.integers(0, len(data), 60):
                data[int(k)] ^= 1 << int(rng.integers(0, 8))
        out = folder / f"flipped_{where}.mp4"
        out.write_bytes(bytes(data))
        return out
    return build


def png_claiming(width: int, height: int, name: str) -> Builder:
    def build(folder: Path) -> Path:
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        out = folder / name
        out.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                        + chunk(b"IEND", b""))
        return out
    return build


def bmp_claiming(folder: Path) -> Path:
    header = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 90000, 90000, 1, 24,
                                                                        0, 0, 0, 0, 0, 0)
    out = folder / "bomb.bmp"
    out.write_bytes(header + bytes(64))
    return out


def still(name: str, image: np.ndarray, params: tuple = ()) -> Builder:
    def build(folder: Path) -> Path:
        ok, data = cv2.imencode(Path(name).suffix, image, list(params))
        assert ok
        out = folder / name
        out.write_bytes(data.tobytes())
        return out
    return build


def cut_still(folder: Path) -> Path:
    ok, data = cv2.imencode(".jpg", noise()(0))
    out = folder / "cut.jpg"
    out.write_bytes(data.tobytes()[: len(data) // 3])
    return out


def text_as(name: str) -> Builder:
    def build(folder: Path) -> Path:
        out = folder / name
        out.write_text("this is not media\n" * 40)
        return out
    return build


def empty(folder: Path) -> Path:
    out = folder / "empty.mp4"
    out.write_bytes(b"")
    return out


def renamed(source: Builder, name: str) -> Builder:
    def build(folder: Path) -> Path:
        out = folder / name
        source(folder).rename(out)
        return out
    return build


def clip(name: str, **kwargs) -> Builder:
    return lambda folder: write_clip(folder / name, **kwargs)


def dangling_link(folder: Path) -> Path:
    out = folder / "dangling.mp4"
    out.symlink_to(folder / "nowhere.mp4")
    return out


def a_folder(folder: Path) -> Path:
    out = folder / "a_folder.mp4"
    out.mkdir()
    return out


def vfr(folder: Path) -> Path:
    return write_clip(folder / "vfr.mkv", frames=6, pts=[0, 40, 80, 200, 240, 400], time_base=Fraction(1, 1000))


CASES: dict[str, Builder] = {
    "good_h264": lambda f: good_mp4(f),
    **{f"truncated_{int(x * 100):02d}pct": truncated(x) for x in (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)},
    "bitflip_header": flipped("header"),
    "zeroed_middle": flipped("middle"),
    "bitflip_random": flipped("random"),
    "first_keyframe_damaged": lambda f: damage_first_keyframe(good_mp4(f, "keydamaged.mp4")),
    "empty_file": empty,
    "one_frame": clip("one.mp4", frames=1),
    "two_frames": clip("two.mp4", frames=2),
    "no_video_audio_only": clip("voice.m4a", with_video=False, audio=[("aac", 48000, 1)]),
    "vfr": vfr,
    "rotated_90": clip("rot90.mp4", frames=3, rotation=90),
    "rotated_270": clip("rot270.mp4", frames=3, rotation=-90),
    "odd_size_63x45": clip("odd.mkv", frames=3, codec="ffv1", pix_fmt="yuv444p", image_fn=noise(45, 63)),
    "tiny_2x2": clip("tiny2.mkv", frames=3, codec="ffv1", pix_fmt="yuv444p", image_fn=noise(2, 2)),
    "tiny_1x1": clip("tiny1.mkv", frames=3, codec="ffv1", pix_fmt="yuv444p", image_fn=noise(1, 1)),
    "strip_2048x16": clip("strip.mkv", frames=2, codec="ffv1", pix_fmt="yuv444p", image_fn=noise(16, 2048)),
    "tall_16x1024": clip("tall.mkv", frames=2, codec="ffv1", pix_fmt="yuv444p", image_fn=noise(1024, 16)),
    "yuv422p_h264": clip("y422.mp4", frames=3, pix_fmt="yuv422p"),
    "yuv444p_h264": clip("y444.mp4", frames=3, pix_fmt="yuv444p"),
    "hevc_10bit": clip("h10.mp4", frames=3, codec="libx265", pix_fmt="yuv420p10le",
                       options={"x265-params": "log-level=error"}),
    "hevc_12bit": clip("h12.mkv", frames=3, codec="libx265", pix_fmt="yuv420p12le",
                       options={"x265-params": "log-level=error"}),
    "hdr_pq_bt2020": clip("hdr.mkv", frames=3, codec="libx265", pix_fmt="yuv420p10le", colour=(9, 16, 9, 1),
                          options={"x265-params": "log-level=error"}),
    "interlaced_tff": clip("interlaced.mp4", frames=4, options={"x264-params": "interlaced=1:tff=1"}),
    "prores_4444": clip("p4444.mov", frames=2, codec="prores_ks", pix_fmt="yuva444p10le",
                        options={"profile": "4"}),
    "mjpeg_avi": clip("mjpeg.avi", frames=3, codec="mjpeg", pix_fmt="yuvj420p"),
    "mpeg2": clip("mpeg2.mpg", frames=3, codec="mpeg2video", pix_fmt="yuv420p", fps=Fraction(25)),
    "many_audio_tracks": clip("multi.mkv", frames=3, audio=[("aac", 48000, 1)] * 8),
    "drop_frame_timecode": clip("df.mov", frames=3, fps=Fraction(30000, 1001), timecode="01:00:00;02"),
    "mkv_named_mp4": renamed(clip("real.mkv", frames=3, codec="ffv1"), "wrong.mp4"),
    "mp4_named_png": renamed(clip("real2.mp4", frames=3), "video.png"),
    "png_named_mp4": renamed(still("real.png", coded_image(0)), "image.mp4"),
    "text_named_mp4": text_as("notes.mp4"),
    "text_named_png": text_as("notes.png"),
    "png_bomb_100000": png_claiming(100_000, 100_000, "bomb.png"),
    "png_zero_size": png_claiming(0, 10, "zero.png"),
    "bmp_bomb": bmp_claiming,
    "png_16bit": still("deep.png", (np.arange(W * H * 3).reshape(H, W, 3) * 17 % 65535).astype(np.uint16)),
    "png_grey": still("grey.png", np.full((H, W), 90, np.uint8)),
    "png_rgba": still("rgba.png", np.full((H, W, 4), 120, np.uint8)),
    "jpeg_truncated": cut_still,
    "tiff_float": still("float.tif", np.random.default_rng(0).random((H, W, 3)).astype(np.float32)),
    "dangling_symlink": dangling_link,
    "folder_as_input": a_folder,
}


def digest(path: Path) -> str | None:
    return hashlib.blake2b(path.read_bytes()).hexdigest() if path.is_file() else None


def output_for(command: str, source: Path, out_dir: Path) -> Path:
    """Where a command writes: a still for a still source (or `frame`), an .mkv master otherwise."""
    still_ext = source.suffix.lower() in {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
    return out_dir / (f"{command}.png" if command == "frame" or still_ext else f"{command}.mkv")


def call_cli(args: list[str]) -> tuple[int, str]:
    """The real CLI in-process: (exit code, stderr)."""
    from engine.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(args)
        except SystemExit as stop:
            code = int(stop.code or 0)
    return code, err.getvalue()


def playable(path: Path) -> bool:
    from engine.media import probe

    try:
        return probe(path).video.frame_count >= 1
    except Exception:
        return False


def run_case(name: str, source: Path, work: Path) -> dict:
    """probe, frame and convert on `source`; everything the test needs to judge the case."""
    before = digest(source)
    record: dict = {"case": name, "source": str(source), "runs": {}}
    for command in ("probe", "frame", "convert"):
        out_dir = work / f"{name}_{command}"
        out_dir.mkdir()
        out = output_for(command, source, out_dir)
        extra = {"probe": ["--json"], "frame": ["--at", "0f", "-o", str(out)],
                 "convert": ["-o", str(out), "--codec", "ffv1"] if out.suffix == ".mkv" else ["-o", str(out)]}
        code, err = call_cli([command, str(source), *extra[command], "--progress", "none", "--device", "cpu"])
        record["runs"][command] = {
            "code": code, "stderr": err[-2000:],
            "output_ok": command == "probe" or (out.exists() and (out.suffix == ".png" or playable(out))),
            "left_behind": sorted(p.name for p in out_dir.iterdir() if p != out)
                           + sorted(p.name for p in source.parent.glob(".*partial*")),
        }
    record["input_unchanged"] = digest(source) == before
    return record


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    media, work = folder / "media", folder / "work"
    media.mkdir(parents=True, exist_ok=True)
    work.mkdir(exist_ok=True)
    for name, build in CASES.items():
        print(json.dumps({"started": name}), flush=True)
        case_dir = media / name
        case_dir.mkdir()
        source = build(case_dir)
        print(json.dumps(run_case(name, source, work)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
