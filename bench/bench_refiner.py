"""Benchmark the refiner on the CPU: training step and inference step of the tiny and small configs, and the
small config's refiner fps at 960×540.

    python bench/bench_refiner.py [--configs tiny,small] [--repeats 3] [--json bench/results/refiner.json]
    python bench/bench_refiner.py --memory [--json bench/results/refiner_memory.json]

Random weights (step times do not depend on what the weights are) and synthetic clips with a hole band,
so nothing is read from disk. Per config:

* ``train_step_s``: one optimiser step at the config's training size (batch × frames × H × W): the frozen
  autoencoder's encode, RefinerNet + denoiser forward, loss, backward, AdamW, EMA — what ``train-refiner``
  does per CSV row, without data loading and validation; the median of ``--repeats`` after a warm-up step.
* ``inference``: one temporal window (the config's window length) at a size, run with 1 and with 2 denoising
  steps; their difference is the time per step, the rest the window's fixed cost (encodes, RefinerNet once
  per tile, decode). At the config's training size, and for ``small`` at 960×540 with its default tiles;
  ``fps`` = new frames per window (window − overlap) / (fixed + steps × per-step) at the default steps.
  Each is the best of ``--repeats`` runs (one run at 960×540). Wall and process CPU seconds are both kept
  (``*_cpu_s``, ``fps_cpu``: CPU time of all torch threads; on a busy machine wall time is the CPU time
  stretched by the other work, and CPU time / threads bounds what an idle machine would take).

``--memory`` calibrates the estimate ``convert --refiner`` checks against the free memory
(:func:`engine.jobs.refine.memory_need`): for tiny and small at two sizes each, a fresh process builds the
pipeline and refines one window (the config's window and tiles, 2 steps: the peak does not grow with steps);
its growth in peak RSS from just before the pipeline is built (``ru_maxrss`` − RSS then) is set beside the
estimate.

The load average is recorded: on a shared machine other work only adds time. The svd-xt figures are an
on-paper estimate (no GPU here; see the issue notes), not measured by this script.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import engine  # noqa: E402,F401,I001  (first: sets OMP_WAIT_POLICY before torch starts its thread pool)
import torch  # noqa: E402
from bench.bench_ops import write_json_atomic  # noqa: E402
from engine.refiner.configs import CONFIGS, RefinerConfig  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "refiner.json"


def clip(frames: int, height: int, width: int, batch: int | None = None, seed: int = 0) -> dict:
    """Synthetic views of a clip ((B, F, …) with `batch`, else (F, …)): smooth images, a 12 %-wide hole band."""
    g = torch.Generator().manual_seed(seed)
    shape = (frames, 3, height, width) if batch is None else (batch, frames, 3, height, width)
    base = torch.nn.functional.interpolate(torch.rand(math.prod(shape[:-3]), 3, 8, 8, generator=g),
                                           size=(height, width), mode="bilinear", align_corners=False)
    images = [base.reshape(shape).clamp(0, 1), (base.reshape(shape) * 0.9 + 0.05).clamp(0, 1)]
    mask = torch.zeros((*shape[:-3], 1, height, width))
    mask[..., width // 2:width // 2 + max(1, width // 8)] = 1.0
    disparity = torch.where(mask > 0, torch.nan, torch.linspace(4.0, 1.0, width).expand_as(mask))
    scale = torch.full(shape[:1] if batch is not None else (), -1.0)
    return {"reference": images[0], "geometric": images[1], "truth": images[0].flip(-1), "mask": mask,
            "disparity": disparity, "scale": scale}


def train_step_time(config: RefinerConfig, repeats: int) -> dict:
    from diffusers.training_utils import EMAModel

    from engine.refiner.models import build_components
    from engine.refiner.train import RefinerTraining, batch_loss, encode_batch, make_pipeline

    t = config.train
    torch.manual_seed(0)
    pipe = make_pipeline(config, build_components(config))
    pipe.vae.requires_grad_(False).eval()
    module = RefinerTraining(pipe).train()
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=t.learning_rate, weight_decay=t.weight_decay)
    ema = EMAModel(params, decay=t.ema_decay, use_ema_warmup=True, power=t.ema_power)
    batch = clip(t.num_frames, t.height, t.width, batch=t.batch_size)
    times, cpu = [], []
    for k in range(repeats + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        gen = torch.Generator().manual_seed(k)
        loss = batch_loss(module, encode_batch(pipe, batch, gen, config, k), config).total
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, t.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(params)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"batch": t.batch_size, "frames": t.num_frames, "height": t.height, "width": t.width,
            "trainable_params": sum(p.numel() for p in params), "train_step_s": statistics.median(times[1:]),
            "train_step_cpu_s": statistics.median(cpu[1:]), "train_step_runs_s": times[1:]}


def window_time(pipe, frames: int, height: int, width: int, steps: int, tile: int,
                tile_overlap: int) -> tuple[float, float]:
    """(wall, process CPU) seconds of one window of `steps` denoising steps."""
    from engine.refiner.pipeline import drain

    views = clip(frames, height, width, seed=1)
    gen = torch.Generator().manual_seed(0)
    start, start_cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        drain(pipe.denoise_window(views["reference"], views["geometric"], views["mask"] > 0.5, steps=steps,
                                  guidance=1.0, generator=gen, tile=tile, tile_overlap=tile_overlap))
    return time.perf_counter() - start, time.process_time() - start_cpu


def inference_time(pipe, config: RefinerConfig, height: int, width: int, tile: int, repeats: int) -> dict:
    i = config.inference
    window_time(pipe, i.window, min(height, 64), min(width, 64), 1, 0, 0)  # warm-up
    one = min(window_time(pipe, i.window, height, width, 1, tile, i.tile_overlap) for _ in range(repeats))
    two = min(window_time(pipe, i.window, height, width, 2, tile, i.tile_overlap) for _ in range(repeats))
    row = {"height": height, "width": width, "window": i.window, "overlap": i.window_overlap, "tile": tile,
           "steps": i.steps, "window_1_step_s": one[0], "window_2_steps_s": two[0],
           "window_1_step_cpu_s": one[1], "window_2_steps_cpu_s": two[1]}
    for key, k in (("", 0), ("_cpu", 1)):
        per_step = max(0.0, two[k] - one[k])
        fixed = max(0.0, one[k] - per_step)
        seconds = fixed + i.steps * per_step
        row |= {f"step{key}_s": per_step, f"window_fixed{key}_s": fixed, f"window{key}_s": seconds,
                f"fps{key}": (i.window - i.window_overlap) / seconds if seconds > 0 else None}
    return row


def bench_config(name: str, repeats: int) -> dict:
    from tests.support.refiner import tiny_pipeline

    config = CONFIGS[name]
    print(f"{name}: training step ...", flush=True)
    result = {"config": name, "train": train_step_time(config, repeats)}
    print(f"  {result['train']['train_step_s']:.2f} s per optimiser step", flush=True)
    pipe = tiny_pipeline(config=config)
    t = config.train
    sizes = [(t.height, t.width, 0)]
    if name == "small":
        sizes.append((540, 960, config.inference.tile))
    result["inference"] = []
    for height, width, tile in sizes:
        print(f"{name}: inference at {width}x{height} (tile {tile}) ...", flush=True)
        row = inference_time(pipe, config, height, width, tile, 1 if width >= 512 else repeats)
        result["inference"].append(row)
        print(f"  {row['step_s']:.2f} s per step, {row['window_fixed_s']:.2f} s fixed per window, "
              f"{row['fps']:.4f} fps at {row['steps']} steps", flush=True)
    return result


MEMORY_CASES = (("tiny", 180, 320), ("tiny", 360, 640), ("small", 270, 480), ("small", 540, 960))


def current_rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(name: str, height: int, width: int) -> dict:
    """In this (fresh) process: one window of `name` at width x height; peak RSS growth vs the estimate."""
    import json
    import resource

    from engine.jobs.refine import memory_need
    from engine.refiner.pipeline import drain
    from tests.support.refiner import tiny_pipeline

    config = CONFIGS[name]
    views = clip(config.inference.window, height, width, seed=1)
    before = current_rss()
    pipe = tiny_pipeline(config=config)
    loaded = current_rss()
    settings = pipe.settings()
    estimate = memory_need(pipe, (width, height), settings, torch.float32)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        drain(pipe.denoise_window(views["reference"], views["geometric"], views["mask"] > 0.5, steps=2,
                                  guidance=1.0, generator=gen, tile=settings.tile, tile_overlap=settings.tile_overlap))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    row = {"config": name, "width": width, "height": height, "window": settings.window, "tile": settings.tile,
           "weights_mb": (loaded - before) / 2**20, "measured_mb": (peak - before) / 2**20,
           "estimate_mb": estimate / 2**20}
    row["estimate_over_measured"] = row["estimate_mb"] / row["measured_mb"]
    print(json.dumps(row), flush=True)
    return row


def bench_memory(path: Path) -> None:
    import json
    import subprocess

    load, rows = os.getloadavg(), []
    for name, height, width in MEMORY_CASES:
        out = subprocess.run([sys.executable, __file__, "--memory-child", f"{name},{height},{width}"],
                             capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    write_json_atomic(path, {"bench": "refiner_memory", "load_average_start": load,
                             "load_average_end": os.getloadavg(), "cases": rows})
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="tiny,small")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--memory", action="store_true", help="calibrate the refiner memory estimate")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        name, height, width = args.memory_child.split(",")
        memory_child(name, int(height), int(width))
        return 0
    if args.memory:
        bench_memory(args.json or ROOT / "bench" / "results" / "refiner_memory.json")
        return 0
    args.json = args.json or DEFAULT_JSON
    load = os.getloadavg()
    results = [bench_config(name, args.repeats) for name in args.configs.split(",")]
    write_json_atomic(args.json, {
        "bench": "refiner", "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                                        "torch_threads": torch.get_num_threads()},
        "load_average_start": load, "load_average_end": os.getloadavg(), "results": results})
    print(f"wrote {args.json} (load average {load[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
