"""Temporal depth stabilisation on real footage: flicker off / align / ema, and overhead at 1080p.

Run: ``python bench/bench_stabilise.py [--frames N] [--timing-frames N]``; writes
bench/results/stabilise.json and prints the markdown table for docs/depth_eval.md.

Clips (../shared/data): DAVIS rollercoaster (70 frames) and the EuRoC V1_01 left video
(95 frames), both at 480 px wide (the depth provider's working width). Providers:

- ``weights-free``: ``create_provider(DepthConfig(model="weights-free"))`` as shipped;
- ``weights-free + jitter``: its output times a random per-frame affine (log-scale
  ~ U(−0.3, 0.3), shift ~ U(−0.2, 0.2) × the frame's 2–98 % range, seeded). This models
  the per-frame scale/shift inconsistency of learned relative-depth models (Marigold,
  Depth Anything) — their weights are not available here;
- ``weights-free, single-image cues`` (parallax off) with and without jitter: a
  provider that is steady by construction, as a second baseline.

Flicker: :func:`engine.metrics.depth_flicker.depth_flicker` (mean |δ_t − warp(δ_{t+1})| on
forward-backward-consistent pixels, δ normalised once per sequence), with
:func:`mean_frame_spread` beside it: δ is clipped to [0, 1], so a sequence whose range
is dominated by a few frames shows low flicker and a collapsed spread. ``flicker / spread``
is the flicker as a fraction of each frame's depth contrast.

Overhead: DAVIS frames and jittered depth upscaled to 1920×1080; wall time of
``DepthStabiliser.process`` per frame (the provider and decoding are outside the timing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.depth import DepthConfig  # noqa: E402
from engine.depth.registry import create_provider  # noqa: E402
from engine.depth.stabilise import DepthStabiliser, StabiliseConfig  # noqa: E402
from engine.depth.temporal_filter import TemporalFilterConfig  # noqa: E402
from engine.depth.weights_free import WeightsFreeDepth, WeightsFreeSettings  # noqa: E402
from engine.media import open_media  # noqa: E402
from engine.metrics.depth_flicker import METRIC_FLOW, depth_flicker_many, mean_frame_spread  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
CLIPS = {
    "DAVIS rollercoaster": DATA / "mono_videos" / "davis_rollercoaster.mp4",
    "EuRoC V1_01 left": DATA / "stereo_video" / "euroc_v1_01" / "euroc_V1_01_cam0_left_95f_20fps.mp4",
}

EVAL_WIDTH = 480


def read_frames(path: Path, count: int | None, width: int) -> list[np.ndarray]:
    with open_media(path) as reader:
        frames = [f.image for f in reader.frames(0, count)]
    h, w = frames[0].shape[:2]
    size = (width, round(h * width / w))
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]


def jitter(maps: list[np.ndarray], seed: int = 0, scale: float = 0.3, shift: float = 0.2) -> list[np.ndarray]:
    """Each map times a random affine: exp(U(−scale, scale)) · x + U(−shift, shift) · (its 2–98 % range)."""
    rng = np.random.default_rng(seed)
    out = []
    for m in maps:
        lo, hi = np.percentile(m, [2, 98])
        s, o = np.exp(rng.uniform(-scale, scale)), rng.uniform(-shift, shift) * (hi - lo)
        out.append((s * m + o).astype(np.float32))
    return out


_NO_FILTER = TemporalFilterConfig(radius=0)
VARIANTS = {
    "off": StabiliseConfig(mode="off"),
    "align": StabiliseConfig(mode="align", temporal=_NO_FILTER),
    "align + filter": StabiliseConfig(),  # what convert runs: align, then the flow-guided temporal filter
    "ema": StabiliseConfig(mode="ema", temporal=_NO_FILTER),
}
"""The stabilisers compared: each mode alone, and the default (align + engine.depth.temporal_filter)."""


def stabilised(frames: list[np.ndarray], maps: list[np.ndarray], mode: str) -> tuple[list[np.ndarray], int]:
    stab = DepthStabiliser("inverse", VARIANTS[mode])
    out = list(stab.process(zip(frames, maps, strict=True)))
    return out, stab.fallbacks


def evaluate_clip(frames: list[np.ndarray]) -> dict[str, dict[str, dict[str, float]]]:
    """provider -> mode -> {flicker, spread, flicker_per_spread, fallbacks}."""
    base = {
        "weights-free": list(create_provider(DepthConfig(model="weights-free")).estimate(frames)),
        "weights-free, single-image cues": list(WeightsFreeDepth(
            DepthConfig(model="weights-free"), WeightsFreeSettings(use_parallax=False)).estimate(frames)),
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, raw in base.items():
        for label, maps in ((name, raw), (f"{name} + jitter", jitter(raw))):
            variants, fallbacks = {}, {}
            for mode in VARIANTS:
                variants[mode], fallbacks[mode] = stabilised(frames, maps, mode)
            flicker = depth_flicker_many(frames, variants, "inverse")
            results[label] = {}
            for mode in VARIANTS:
                spread = mean_frame_spread(variants[mode], "inverse")
                results[label][mode] = {"flicker": flicker[mode], "spread": spread,
                                        "flicker_per_spread": flicker[mode] / spread,
                                        "fallbacks": fallbacks[mode]}
    return results


def overhead_1080p(count: int) -> dict[str, float]:
    """Median ms per frame of each mode on 1920x1080 RGB + depth."""
    frames = [cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_CUBIC)
              for f in read_frames(CLIPS["DAVIS rollercoaster"], count, 960)]
    raw = list(create_provider(DepthConfig(model="weights-free")).estimate(
        [cv2.resize(f, (480, 270), interpolation=cv2.INTER_AREA) for f in frames]))
    maps = [cv2.resize(m, (1920, 1080), interpolation=cv2.INTER_LINEAR) for m in jitter(raw)]
    result = {}
    for mode in ("align", "align + filter", "ema"):
        stab = DepthStabiliser("inverse", VARIANTS[mode])
        list(stab.process(zip(frames[:3], maps[:3], strict=True)))  # warm-up
        stab.reset()
        times, last = [], time.perf_counter()
        for _ in stab.process(zip(frames, maps, strict=True)):
            now = time.perf_counter()
            times.append(now - last)
            last = now
        if stab.lag:  # the first yield waits for the look-ahead: spread it over those frames
            times = [sum(times) / len(times)] * len(times)
        key = mode.replace(" + ", "_")
        result[f"{key}_ms_per_frame_median"] = 1000 * float(np.median(times[1:]))
        result[f"{key}_ms_per_frame_p90"] = 1000 * float(np.percentile(times[1:], 90))
    return result


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def markdown(results: dict[str, dict], counts: dict[str, int]) -> str:
    lines = ["| clip | provider | flicker off | align | align + filter (default) | ema | "
             "spread off / align / default / ema | flicker ÷ spread off → align → default | default vs off |",
             "|---|---|---:|---:|---:|---:|---|---|---:|"]
    for clip, by_provider in results.items():
        for provider, r in by_provider.items():
            off, align, default, ema = (r[m] for m in VARIANTS)
            change = 100.0 * (default["flicker"] / off["flicker"] - 1.0)
            lines.append(
                f"| {clip} ({counts[clip]} f) | {provider} | {off['flicker']:.4f} | {align['flicker']:.4f} | "
                f"{default['flicker']:.4f} | {ema['flicker']:.4f} | {off['spread']:.2f} / {align['spread']:.2f} / "
                f"{default['spread']:.2f} / {ema['spread']:.2f} | {off['flicker_per_spread']:.3f} → "
                f"{align['flicker_per_spread']:.3f} → {default['flicker_per_spread']:.3f} | {change:+.0f} % |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=None, help="frames per clip (default: all)")
    parser.add_argument("--timing-frames", type=int, default=30)
    args = parser.parse_args()
    for path in CLIPS.values():
        if not path.exists():
            sys.exit(f"{path}: shared data not found (see ../shared/data/README.md)")
    started = time.perf_counter()
    results, counts = {}, {}
    for clip, path in CLIPS.items():
        frames = read_frames(path, args.frames, EVAL_WIDTH)
        counts[clip] = len(frames)
        results[clip] = evaluate_clip(frames)
    timing = overhead_1080p(args.timing_frames)
    payload = {
        "schema": "BenchStabilise.1",
        "eval_width": EVAL_WIDTH,
        "frames": counts,
        "stabilise_config": asdict(StabiliseConfig()),
        "metric_flow": asdict(METRIC_FLOW),
        "jitter": "log-scale ~ U(-0.3, 0.3), shift ~ U(-0.2, 0.2) x frame 2-98 % range, seed 0",
        "results": results,
        "overhead_1080p": {"frames": args.timing_frames, **timing},
        "cpu_count": os.cpu_count(),
        "opencv_threads": cv2.getNumThreads(),
        "machine": platform.platform(),
        "seconds": time.perf_counter() - started,
    }
    write_atomic(ROOT / "bench" / "results" / "stabilise.json", json.dumps(payload, indent=2) + "\n")
    print(markdown(results, counts))
    print(json.dumps(payload["overhead_1080p"], indent=2))


if __name__ == "__main__":
    main()
