"""Benchmark the per-frame stereo ops: splat (both eyes), fill, pack (sbs-half), and the whole path.

    python bench/bench_ops.py [--width 1920 --height 1080 --frames 30] [--backend auto|numba|torch]
                              [--json bench/results/ops.json]

The frame is synthetic but realistic in structure: a textured image over a depth map with a
far backdrop, a slanted ground plane and a few foreground objects, graded with the default
D = 3 %, c = 1/3. "total" times the render path itself: render_views(synthesize="both") + pack
("sbs-half"). Per stage we report the median and the best wall time of --frames runs (after
warm-up, which includes numba compilation or cache load), fps from the median, and the median
process CPU time. The load average at start is recorded because other work on the machine skews
the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.ops import (  # noqa: E402  (import after the repo root is on sys.path)
    disparity_from_grade,
    fill_holes,
    pack,
    render_views,
    splat_with_disparity,
)

DEFAULT_JSON = ROOT / "bench" / "results" / "ops.json"


def synthetic_frame(width: int, height: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A textured (1, 3, H, W) image in [0, 1] and its (1, 1, H, W) normalised depth delta."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(
        torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij"
    )
    noise = torch.rand((3, height // 8 + 1, width // 8 + 1), generator=gen)
    blocks = noise.repeat_interleave(8, 1).repeat_interleave(8, 2)[:, :height, :width]
    waves = torch.stack([torch.sin(xx / 9 + yy / 23), torch.cos(xx / 31 - yy / 7), torch.sin((xx + yy) / 17)])
    image = (0.55 * blocks + 0.45 * (0.5 + 0.5 * waves)).clamp(0, 1)
    horizon = 0.55 * height
    delta = torch.full_like(xx, 0.95)  # far backdrop
    ground = yy > horizon
    delta[ground] = (0.9 * (1 - (yy[ground] - horizon) / (height - horizon))).clamp(0, 1)  # slanted plane
    near_box = ((xx - 0.3 * width).abs() < 0.08 * width) & (yy > 0.25 * height) & (yy < 0.9 * height)
    delta[near_box] = 0.1
    disc = (xx - 0.68 * width) ** 2 + (yy - 0.4 * height) ** 2 < (0.12 * height) ** 2
    delta[disc] = 0.45
    pole = ((xx - 0.85 * width).abs() < 0.01 * width) & (yy > 0.1 * height)
    delta[pole] = 0.25
    return image.unsqueeze(0).contiguous(), delta.view(1, 1, height, width)


def time_stage(fn: Callable[[], object], frames: int, warmup: int) -> dict[str, float]:
    """Median / best wall milliseconds of `fn` over `frames` runs after `warmup` runs, plus the
    median process CPU milliseconds (all threads), which other load on the machine skews less."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(frames):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    median = statistics.median(wall)
    return {
        "median_ms": round(median, 2), "best_ms": round(min(wall), 2), "fps": round(1e3 / median, 1),
        "cpu_ms": round(statistics.median(cpu), 2),
    }


def run(width: int, height: int, frames: int, backend: str) -> dict[str, object]:
    """Time every stage on the synthetic frame; returns the JSON-ready result."""
    load = os.getloadavg()[0]
    image, delta = synthetic_frame(width, height)
    disparity = disparity_from_grade(delta, 3.0, 1 / 3, width).contiguous()
    left = splat_with_disparity(image, disparity, -0.5, backend=backend)
    right = splat_with_disparity(image, disparity, 0.5, backend=backend)
    views = render_views(image, disparity, backend=backend)
    def both_splats():
        splat_with_disparity(image, disparity, -0.5, backend=backend)
        splat_with_disparity(image, disparity, 0.5, backend=backend)

    def both_fills():  # in place, as render_views does (refilling a filled view costs the same)
        fill_holes(*left, -0.5, backend=backend, inplace=True)
        fill_holes(*right, 0.5, backend=backend, inplace=True)

    def render_and_pack():
        rendered = render_views(image, disparity, backend=backend)
        pack(rendered.left, rendered.right, "sbs-half")

    stages = {
        "splat": time_stage(both_splats, frames, warmup=2),
        "fill": time_stage(both_fills, frames, warmup=2),
        "pack": time_stage(lambda: pack(views.left, views.right, "sbs-half"), frames, warmup=2),
        "total": time_stage(render_and_pack, frames, warmup=2),
    }
    hole_pct = 100 * float(right[1].float().mean())
    return {
        "schema": "BenchOps.1",
        "width": width, "height": height, "frames": frames, "backend": backend,
        "path": "render_views(synthesize='both', fill=True) + pack('sbs-half')",
        "stages": stages,
        "holes_per_eye_pct": round(hole_pct, 2),
        "disparity_range_px": [round(float(disparity.min()), 2), round(float(disparity.max()), 2)],
        "machine": {
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "processor": platform.processor() or platform.machine(), "loadavg_1min_at_start": round(load, 2),
            "torch": torch.__version__, "python": platform.python_version(),
        },
    }


def write_json_atomic(path: Path, payload: dict[str, object]) -> None:
    """Write JSON beside the target then os.replace (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--frames", type=int, default=30, help="timed runs per stage")
    parser.add_argument("--backend", choices=("auto", "numba", "torch"), default="auto")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    args = parser.parse_args(argv)
    result = run(args.width, args.height, args.frames, args.backend)
    print(f"{args.width}x{args.height}, backend={args.backend}, {args.frames} frames, "
          f"load {result['machine']['loadavg_1min_at_start']}")
    for name, s in result["stages"].items():
        print(f"  {name:<6} median {s['median_ms']:8.2f} ms  best {s['best_ms']:8.2f} ms"
              f"  {s['fps']:7.1f} fps  (cpu {s['cpu_ms']:.1f} ms)")
    write_json_atomic(args.json, result)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
