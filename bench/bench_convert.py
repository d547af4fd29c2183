"""Full weights-free convert: fps at 1080p, and peak RSS for a short vs a long clip.

    python bench/bench_convert.py [--json bench/results/convert.json]

Peak RSS is measured in a fresh child process per run (ru_maxrss of the
child), so the 10 s and 60 s clips are compared on equal terms: with frames
streaming through bounded queues they must match.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def make_clip(path: Path, width: int, height: int, seconds: float, fps: int = 24) -> None:
    """A textured scene panning over layered depth, h264 — cheap to make, realistic to convert."""
    rng = np.random.default_rng(0)
    far = rng.integers(0, 255, (height, width * 2, 3), dtype=np.uint8)
    near = rng.integers(0, 255, (height // 2, width // 3, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "20", "preset": "ultrafast"}
        for i in range(int(seconds * fps)):
            frame = far[:, i * 2 % width: i * 2 % width + width].copy()
            x = (i * 6) % (width - near.shape[1])
            frame[height // 3: height // 3 + near.shape[0], x: x + near.shape[1]] = near
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


_WRAPPER = ("import resource, sys\n"
            "from engine.cli import main\n"
            "rc = main(sys.argv[1:])\n"
            "print('MAXRSS_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(rc)\n")


def run_convert(src: Path, dst: Path, extra: list[str]) -> dict:
    """Run the CLI in a fresh child process; wall time, fps and that child's own peak RSS (MiB)."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-c", _WRAPPER, "convert", str(src), "-o", str(dst), "--overwrite",
           "--progress", "none", "-q", *extra]
    done = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_kib = int(done.stderr.rsplit("MAXRSS_KIB", 1)[1].split()[0])
    with av.open(str(src)) as c:
        frames = c.streams.video[0].frames
    return {"wall_s": round(wall, 2), "frames": frames, "fps": round(frames / wall, 2),
            "peak_rss_mib": round(peak_kib / 1024, 1), "args": extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "convert.json")
    parser.add_argument("--fps-seconds", type=float, default=4.0, help="length of the 1080p clip timed for fps")
    parser.add_argument("--rss-size", default="320x180", help="frame size of the RSS clips")
    parser.add_argument("--only", choices=("fps", "rss"), help="run one half of the benchmark")
    args = parser.parse_args()
    w, h = (int(v) for v in args.rss_size.split("x"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.only != "rss":
            clip = tmp / "hd.mp4"
            make_clip(clip, 1920, 1080, args.fps_seconds)
            for name, extra in (("1080p_sbs_half_dvg", ["--layout", "sbs-half"]),
                                ("1080p_sbs_half_per_frame", ["--layout", "sbs-half", "--temporal", "off"])):
                results[name] = run_convert(clip, tmp / "o1.mp4", [*extra, "--no-cache"])
        for seconds in ((10, 60) if args.only != "fps" else ()):
            clip = tmp / f"c{seconds}.mp4"
            make_clip(clip, w, h, seconds)
            results[f"rss_{seconds}s_{w}x{h}"] = run_convert(clip, tmp / f"o{seconds}.mp4", ["--no-cache"])
    for name, r in results.items():
        print(f"{name:<24} {r['frames']:>5} frames  {r['fps']:6.2f} fps  peak RSS {r['peak_rss_mib']:7.1f} MiB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.json.read_text()) if args.json.exists() else {}
    args.json.write_text(json.dumps({**previous, **results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
