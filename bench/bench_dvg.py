"""Benchmark DVG (engine.dvg.TemporalStereo) at 1080p: flow + mask propagation + temporal fill.

    python bench/bench_dvg.py [--width 1920 --height 1080 --frames 24] [--neighbours 2]
                              [--preset fast --working-width 480] [--synthesize both]
                              [--json bench/results/dvg.json]

The clip is synthetic but has real parallax: bench_ops' textured frame with depth (far backdrop,
slanted ground, near objects) pans by 3 px/frame while a near textured block crosses it at
-5 px/frame, so disocclusions open, move and are revealed by other frames. Disparity is graded
with D = 3 %, c = 1/3. Frames are generated outside the timed region.

Reported per configuration:
* ``end_to_end``: TemporalStereo.push for every frame (+ flush), both eyes: the render's own
  splat, flow, propagation, temporal and spatial fill — what replaces render_views in a render;
* ``dvg``: the same minus the full-resolution splat of the eyes (the part every renderer pays):
  flow + propagation + temporal fill, the figure the issue's 10 fps goal is about;
* ``render_views``: the per-frame renderer (splat + spatial fill, both eyes) on the same frames;
* ``stages``: a profile, ms per frame, from wrapping the functions TemporalStereo calls
  (their sum is below end_to_end by the Python glue between them).
Each configuration runs ``--passes`` timed passes of ``--frames`` frames after a warm-up; the
best pass is the figure (other work on a shared machine only adds time), the median pass is
recorded beside it.
The load average at start is recorded: other work on the machine skews the figures, most of
all numba's parallel kernels (OpenMP threads spin while a core is taken).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import engine.dvg.fields as dvg_fields  # noqa: E402  (imports after the repo root is on sys.path)
import engine.dvg.inpaint as dvg_inpaint  # noqa: E402
import engine.dvg.temporal as dvg_temporal  # noqa: E402
from bench.bench_ops import synthetic_frame, write_json_atomic  # noqa: E402
from engine.dvg import DvgConfig, TemporalStereo  # noqa: E402
from engine.flow import FlowConfig  # noqa: E402
from engine.ops import disparity_from_grade, render_views  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "dvg.json"
PAN_PX, BLOCK_PX = 3, -5
ENV_KNOBS = ("OMP_WAIT_POLICY", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER")

# (module, function name, stage label): what TemporalStereo calls, looked up at call time
PROFILED = (
    (dvg_temporal, "splat_with_disparity", "render splat (both eyes)"),
    (dvg_temporal, "background_disparity", "background disparity"),
    (dvg_temporal, "_gray_small", "grey at working size"),
    (dvg_temporal, "_disparity_small", "disparity at working size"),
    (dvg_temporal, "hole_integral", "hole integral images"),
    (dvg_temporal, "pair_flow", "pair flows (DIS x2 + consistency)"),
    (dvg_fields, "fb_confidence", "  of which fb_confidence"),
    (dvg_temporal, "compose", "flow chaining"),
    (dvg_temporal, "source_motion", "source motion"),
    (dvg_temporal, "carry_to_target", "carry into target view"),
    (dvg_temporal, "propagate_guided", "mask propagation"),
    (dvg_temporal, "temporal_fill", "temporal fill"),
    (dvg_inpaint, "fill_holes", "  of which spatial fallback"),
)


class Clip:
    """Frames of the parallax clip, generated on demand (1, 3, H, W) and graded disparity (1, 1, H, W)."""

    def __init__(self, width: int, height: int, frames: int) -> None:
        margin = PAN_PX * frames + 8
        self.width, self.height, self.margin = width, height, margin
        self.image, self.delta = synthetic_frame(width + 2 * margin, height, seed=0)
        block, _ = synthetic_frame(width // 6, height // 3, seed=1)
        self.block = block.flip(1)  # other colours than the backdrop
        self.block_x0 = width // 2

    def frame(self, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        x0 = self.margin + PAN_PX * t
        image = self.image[..., x0 : x0 + self.width].clone()
        delta = self.delta[..., x0 : x0 + self.width].clone()
        bh, bw = self.block.shape[-2:]
        bx, by = self.block_x0 + BLOCK_PX * t, self.height // 2
        image[..., by : by + bh, bx : bx + bw] = self.block
        delta[..., by : by + bh, bx : bx + bw] = 0.05
        return image.contiguous(), disparity_from_grade(delta, 3.0, 1 / 3, self.width).contiguous()


@contextlib.contextmanager
def profiled(totals: dict[str, float]) -> Iterator[None]:
    """Wrap the PROFILED functions to add their wall time (s) to `totals`; restore them after."""
    saved = []
    for module, name, label in PROFILED:
        original = getattr(module, name)

        def timed(*args, _f=original, _label=label, **kwargs):
            start = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                totals[_label] += time.perf_counter() - start

        saved.append((module, name, original))
        setattr(module, name, timed)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def timed_pass(
    clip: Clip, frames: int, config: DvgConfig, synthesize: str
) -> tuple[float, dict[str, float], list[str]]:
    """One pass over the clip with a fresh renderer: ms per frame, stage ms per frame, notes."""
    ts = TemporalStereo(config, synthesize)
    totals: dict[str, float] = defaultdict(float)
    elapsed, emitted = 0.0, 0
    with profiled(totals):
        for t in range(frames):
            image, disp = clip.frame(t)
            start = time.perf_counter()
            emitted += len(ts.push(t, image, disp))
            elapsed += time.perf_counter() - start
        start = time.perf_counter()
        emitted += len(ts.flush())
        elapsed += time.perf_counter() - start
    stages = {label: round(totals[label] / emitted * 1e3, 2) for _, _, label in PROFILED}
    return elapsed / emitted * 1e3, stages, list(ts.notes)


def run_config(clip: Clip, frames: int, passes: int, config: DvgConfig, synthesize: str) -> dict[str, object]:
    """Warm up (numba compile / cache load), then `passes` timed passes; the best pass is the
    figure (other work on a shared machine only ever adds time), the median is reported too."""
    warm = TemporalStereo(config, synthesize)
    for t in range(2 * config.neighbours + 2):
        warm.push(t, *clip.frame(t))
    warm.flush()
    runs = sorted((timed_pass(clip, frames, config, synthesize) for _ in range(passes)), key=lambda r: r[0])
    best_ms, stages, notes = runs[0]
    median_ms = runs[len(runs) // 2][0]
    splat = stages["render splat (both eyes)"]

    def rate(ms: float) -> dict[str, float]:
        return {"ms_per_frame": round(ms, 1), "fps": round(1e3 / ms, 2)}

    return {
        "neighbours": config.neighbours, "preset": config.flow.preset,
        "working_width": config.flow.working_width, "synthesize": synthesize,
        "frames_per_pass": frames, "passes": passes,
        "end_to_end": rate(best_ms), "dvg": rate(best_ms - splat),
        "end_to_end_median_pass": rate(median_ms),
        "stages_ms_per_frame_best_pass": stages,
        "notes": notes,
    }


def time_render_views(clip: Clip, frames: int, synthesize: str) -> dict[str, float]:
    render_views(*clip.frame(0), synthesize)
    elapsed = 0.0
    for t in range(frames):
        image, disp = clip.frame(t)
        start = time.perf_counter()
        render_views(image, disp, synthesize)
        elapsed += time.perf_counter() - start
    ms = elapsed / frames * 1e3
    return {"ms_per_frame": round(ms, 1), "fps": round(1e3 / ms, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--frames", type=int, default=16, help="frames per timed pass")
    parser.add_argument("--passes", type=int, default=3, help="timed passes (best reported)")
    parser.add_argument("--neighbours", type=int, default=2)
    parser.add_argument("--preset", choices=("ultrafast", "fast", "medium"), default="medium")
    parser.add_argument("--working-width", type=int, default=480)
    parser.add_argument("--synthesize", choices=("both", "right", "left"), default="both")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    clip = Clip(args.width, args.height, args.frames + 8)
    configs = [DvgConfig(neighbours=args.neighbours, flow=FlowConfig(args.preset, args.working_width)),
               DvgConfig(neighbours=2, flow=FlowConfig("fast", args.working_width)),
               DvgConfig(neighbours=1, flow=FlowConfig("ultrafast", args.working_width))]
    results = [run_config(clip, args.frames, args.passes, c, args.synthesize) for c in configs]
    baseline = time_render_views(clip, args.frames, args.synthesize)
    payload = {
        "schema": "BenchDvg.1", "width": args.width, "height": args.height,
        "clip": f"pan {PAN_PX} px/frame, near block {BLOCK_PX} px/frame, D = 3 %, c = 1/3",
        "goal": "dvg >= 10 fps at 1080p on 2 cores",
        "render_views": baseline, "configs": results,
        "machine": {
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", "0")) or os.cpu_count(),
            "processor": platform.processor() or platform.machine(), "loadavg_1min_at_start": round(load, 2),
            "loadavg_1min_at_end": round(os.getloadavg()[0], 2),
            "env": {k: os.environ[k] for k in ENV_KNOBS if k in os.environ},
            "torch": torch.__version__, "python": platform.python_version(),
        },
    }
    print(f"{args.width}x{args.height} {args.synthesize}, load {load:.2f}; "
          f"render_views {baseline['ms_per_frame']} ms ({baseline['fps']} fps)")
    for r in results:
        e2e, dvg = r["end_to_end"], r["dvg"]
        print(f"K={r['neighbours']} {r['preset']} @{r['working_width']}: end-to-end {e2e['ms_per_frame']} ms "
              f"({e2e['fps']} fps), dvg {dvg['ms_per_frame']} ms ({dvg['fps']} fps)")
        for label, ms in r["stages_ms_per_frame_best_pass"].items():
            print(f"    {label:<36} {ms:7.2f} ms")
    write_json_atomic(args.json, payload)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
