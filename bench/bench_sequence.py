"""Benchmark image-sequence input: indexing a 100,000-frame sequence, streaming 2,000 frames with flat memory.

    python bench/bench_sequence.py [--frames 100000] [--stream 2000] [--dir /scratch] [--json FILE]

The sequence is 100,000 copies of one tiny 16-bit PNG (the folder listing, not the pixels, is what
indexing costs); "index" is `scan_sequence` (one os.scandir, name parsing, gap check) and opening the
reader (one decode). "stream" reads `--stream` frames of a second sequence of distinct 256x144 16-bit PNGs
through MediaReader.frames() and records the peak traced Python memory at the start and end of the run:
flat memory means the peak does not grow with the frames read. Wall and process CPU time (user + sys) are
recorded for each step, with the load average at start and the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_ops import write_json_atomic  # noqa: E402
from engine.media import open_media  # noqa: E402
from engine.media.sequence import scan_sequence  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "sequence.json"


def make_links(folder: Path, count: int) -> None:
    """`count` files plate.<n>.png (from 1001), each the same 8x8 16-bit PNG (a few hundred bytes)."""
    data = cv2.imencode(".png", np.full((8, 8, 3), 30000, np.uint16))[1].tobytes()
    for n in range(1001, 1001 + count):
        (folder / f"plate.{n:07d}.png").write_bytes(data)


def make_frames(folder: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 65535, (144, 256, 3), dtype=np.uint16)
    for n in range(count):
        cv2.imwrite(str(folder / f"s.{n:05d}.png"), np.roll(base, n, axis=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--stream", type=int, default=2_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        big, small = Path(tmp) / "big", Path(tmp) / "small"
        big.mkdir()
        small.mkdir()
        make_links(big, args.frames)
        t0, c0 = time.perf_counter(), time.process_time()
        seq = scan_sequence(big / "plate.%07d.png")
        t_scan, c_scan = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        with open_media(big / "plate.%07d.png", fps=Fraction(24)) as reader:
            count = len(reader)
        t_open, c_open = time.perf_counter() - t0, time.process_time() - c0
        make_frames(small, args.stream)
        tracemalloc.start()
        peaks = []
        t0, c0 = time.perf_counter(), time.process_time()
        with open_media(small / "s.%05d.png", fps=Fraction(24), cache_size=0) as reader:
            for k, _ in enumerate(reader.frames()):
                if k in (99, args.stream - 1):
                    peaks.append(tracemalloc.get_traced_memory()[1])
        t_stream, c_stream = time.perf_counter() - t0, time.process_time() - c0
        tracemalloc.stop()
    result = {
        "schema": "BenchSequence.2", "host": platform.node(), "loadavg_at_start": load,
        "index_frames": count, "index_scan_s": round(t_scan, 3), "index_open_s": round(t_open, 3),
        "index_scan_cpu_s": round(c_scan, 3), "index_open_cpu_s": round(c_open, 3),
        "stream_cpu_s": round(c_stream, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "gaps": int(seq.held.size), "stream_frames": args.stream, "stream_fps": round(args.stream / t_stream, 1),
        "stream_peak_traced_mib_at_100": round(peaks[0] / 2**20, 2),
        "stream_peak_traced_mib_at_end": round(peaks[-1] / 2**20, 2),
    }
    write_json_atomic(args.json, result)
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
