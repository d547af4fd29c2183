"""Benchmark the studio session: scrub latency (cached / uncached frame + cached depth) and shot analysis fps.

    python bench/bench_session.py [--source FILE] [--frames 72] [--json bench/results/session.json]

The source is a 1080p H.264 clip written here from the DAVIS rollercoaster footage (upscaled; GOP of
one second, as the issue's "uncached frame, GOP ≤ 1 s" target) when ../shared/data is present, else
the bundled demo clip upscaled. Figures (medians, 2-core CPU, weights-free depth, default settings):

- analysis: `Session.analyse(shot)` over the clip (decode, weights-free depth at working width 480,
  stabilisation, float16 into the disk cache): frames per second.
- scrub, cached: `frame(n)` + `depth(n)` for a frame seen just before (the reader's LRU, the δ LRU).
- scrub, uncached: a fresh session (empty memory caches) asked for random frames: a seek + decode of
  up to one GOP, plus δ read from the disk cache and normalised (the shot is analysed).
- render: `render(n)` per-frame path (eye size = source), the master's exact frame.

The load average at start is recorded: the machine is shared, other jobs skew the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_ops import write_json_atomic  # noqa: E402
from engine import api  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "session.json"
DAVIS = ROOT / ".." / "shared" / "data" / "mono_videos" / "davis_rollercoaster.mp4"
DEMO = ROOT / "resources" / "demo" / "demo.mp4"


def make_source(folder: Path, frames: int) -> tuple[Path, str]:
    """A 1080p 24 fps H.264 clip (GOP 24) of real footage upscaled; returns it and what it is."""
    import av
    import cv2

    origin = DAVIS if DAVIS.exists() else DEMO
    out = folder / "session_1080p.mp4"
    with av.open(str(origin)) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=24, options={"g": "24", "preset": "veryfast", "crf": "18"})
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        for _, frame in zip(range(frames), src.decode(video=0), strict=False):
            rgb = cv2.resize(frame.to_ndarray(format="rgb24"), (1920, 1080), interpolation=cv2.INTER_CUBIC)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out, f"{origin.name}, first {frames} frames upscaled to 1920x1080, H.264 GOP 24"


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def run(source: Path, cache: Path) -> dict[str, float]:
    request = api.ConvertRequest(input=None, shots="off", temporal=False, cache_dir=cache)
    rng = np.random.default_rng(0)
    with api.open_session(source, request=request) as s:
        shot = s.shot_at(0)
        t0 = time.perf_counter()
        for _ in s.analyse(shot):
            pass
        analyse_s = time.perf_counter() - t0
        picks = [int(i) for i in rng.integers(0, len(s), 12)]
        for n in picks:
            s.frame(n), s.depth(n)
        cached = [_timed(lambda n=n: (s.frame(n), s.depth(n))) for n in picks]
        render = [_timed(lambda n=n: s.render(n)) for n in picks[:4]]
    uncached = []
    for n in picks:
        with api.open_session(source, request=request) as fresh:  # empty memory caches, warm disk cache
            uncached.append(_timed(lambda n=n, f=fresh: (f.frame(n), f.depth(n))))
    return {"analysis_fps": len(shot) / analyse_s, "scrub_cached_ms": statistics.median(cached),
            "scrub_uncached_ms": statistics.median(uncached), "scrub_uncached_max_ms": max(uncached),
            "render_per_frame_ms": statistics.median(render)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a clip to use instead of the generated 1080p one")
    parser.add_argument("--frames", type=int, default=72)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source, what = (args.source, str(args.source)) if args.source else make_source(folder, args.frames)
        figures = run(source, folder / "cache")
    result = {"benchmark": "session", "source": what,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "processor": platform.processor() or platform.machine(),
                          "loadavg_1min_at_start": round(load, 2)},
              "figures": {k: round(v, 2) for k, v in figures.items()}}
    write_json_atomic(args.json, result)
    for key, value in result["figures"].items():
        print(f"{key:>24}: {value}")
    print(f"(load {result['machine']['loadavg_1min_at_start']}; {what})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
