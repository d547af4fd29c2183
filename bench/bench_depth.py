"""Weights-free depth speed at 1080p on this machine; writes bench/results/depth.json.

Run: ``python bench/bench_depth.py [--frames N] [--working-width W]``. Input: the
DAVIS rollercoaster clip from ../shared/data upscaled to 1920x1080 (real motion
and texture); decoding and upscaling are outside the timed loop.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.depth import DepthConfig  # noqa: E402
from engine.depth.weights_free import WeightsFreeDepth  # noqa: E402
from engine.media import open_media  # noqa: E402

CLIP = ROOT / ".." / "shared" / "data" / "mono_videos" / "davis_rollercoaster.mp4"


def frames_1080p(count: int) -> list[np.ndarray]:
    with open_media(CLIP) as reader:
        return [cv2.resize(f.image, (1920, 1080), interpolation=cv2.INTER_CUBIC)
                for f in reader.frames(0, count)]


def run(frames: list[np.ndarray], working_width: int) -> list[float]:
    """Seconds per frame (wall clock between consecutive yields)."""
    provider = WeightsFreeDepth(DepthConfig(model="weights-free", working_width=working_width))
    times, last = [], time.perf_counter()
    for depth in provider.estimate(frames):
        assert depth.shape == (1080, 1920)
        now = time.perf_counter()
        times.append(now - last)
        last = now
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--working-width", type=int, default=DepthConfig().working_width)
    args = parser.parse_args()
    if not CLIP.exists():
        sys.exit(f"{CLIP}: shared data not found (see ../shared/data/README.md)")
    frames = frames_1080p(args.frames)
    run(frames[:3], args.working_width)  # warm-up (OpenCV thread pools, allocations)
    times = run(frames, args.working_width)
    steady = times[2:]  # frame 0 also waits for frame 1
    result = {
        "schema": "BenchDepth.1",
        "provider": "weights-free",
        "input": "1920x1080 RGB uint8 (DAVIS rollercoaster, upscaled)",
        "working_width": args.working_width,
        "frames": len(times),
        "fps": len(steady) / sum(steady),
        "ms_per_frame_median": 1000 * float(np.median(steady)),
        "ms_per_frame_p90": 1000 * float(np.percentile(steady, 90)),
        "cpu_count": os.cpu_count(),
        "opencv_threads": cv2.getNumThreads(),
        "machine": platform.platform(),
    }
    out = ROOT / "bench" / "results" / "depth.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
