"""Benchmark the chunked project render: single process vs a local Ray pool, per-chunk overheads.

    python bench/bench_farm.py [--max-width 320] [--chunk-frames 12] [--workers 2] [--json bench/results/farm.json]

On the bundled demo clip (640x360, 72 frames; weights-free depth, DVG on, FFV1 master) at --max-width:
- `convert --project` unchunked, one process (the reference speed);
- `render` chunked in one process (one job for every chunk): overhead per chunk vs convert;
- each chunk as its own job in this process (what a farm task costs beyond its frames, minus the
  interpreter start), and one real `spatialdreamer render --chunk 1` subprocess (the interpreter start
  and imports every farm task pays);
- `render --ray local --workers N`: Ray start-up (ray.init), actor start, total, fps after start-up and
  the seconds per chunk the actors report (each holds its job: media open, depth stage built once).
The depth cache is warmed first (one analysis) so every run renders from the same cached δ. The load
average is recorded with the figures (the machine is shared: other jobs skew everything).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_ops import write_json_atomic  # noqa: E402
from engine import api  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "farm.json"
DEMO = ROOT / "resources" / "demo" / "demo.mp4"


def drain(job):
    try:
        while True:
            next(job)
    except StopIteration as stop:
        return stop.value


def timed(job) -> tuple[object, float]:
    t0 = time.perf_counter()
    value = drain(job)
    return value, time.perf_counter() - t0


def ray_run(request, workers: int) -> dict:
    """One `render_on_ray` (Ray started and stopped by it); the figures it reports."""
    t0 = time.perf_counter()
    startup, first_dispatch, per_chunk, pids = None, None, [], set()
    job = api.render_on_ray(request, "local", workers=workers)
    try:
        while True:
            p = next(job)
            if p.stage == "note" and p.message and p.message.startswith("Ray started"):
                startup = float(re.search(r"in ([\d.]+) s", p.message).group(1))
            elif p.stage == "render" and p.message and " -> pid " in p.message and first_dispatch is None:
                first_dispatch = time.perf_counter() - t0
            elif p.stage == "render" and p.message and " by pid " in p.message:
                m = re.search(r"by pid (\d+) in ([\d.]+) s", p.message)
                pids.add(int(m.group(1)))
                per_chunk.append(float(m.group(2)))
    except StopIteration:
        pass
    total = time.perf_counter() - t0
    return {"init_s": startup, "first_chunk_dispatched_s": round(first_dispatch or 0, 2), "total_s": round(total, 2),
            "worker_pids": len(pids), "chunk_s_median": round(statistics.median(per_chunk), 3),
            "chunk_s_first": per_chunk[:2], "after_dispatch_s": round(total - (first_dispatch or 0), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-width", type=int, default=320)
    ap.add_argument("--chunk-frames", type=int, default=12)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = ap.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        project = drain(api.new_project(DEMO))
        project_file = folder / "demo.sdproj"
        api.save_project(project, project_file)
        frames = project.clip().frame_count
        encode = api.EncodeSettings(codec="ffv1")

        def request(out: str) -> api.ConvertRequest:
            return api.ConvertRequest(input=None, project=project, output=folder / out, encode=encode,
                                      max_width=args.max_width)

        drain(api.convert(request("warm.mkv")))  # analysis into the depth cache
        _, t_convert = timed(api.convert(request("convert.mkv")))
        report, t_chunked = timed(api.render(api.RenderRequest(request("chunked.mkv"), chunk_frames=args.chunk_frames)))
        chunks = report.chunks
        # every chunk as its own job (a fresh reader and depth stage each), then the master
        tasks = api.RenderRequest(request("tasks.mkv"), chunk_frames=args.chunk_frames)
        t_tasks = []
        for cid in chunks:
            t_tasks.append(timed(api.render(replace(tasks, chunk=cid)))[1])
        _, t_assemble = timed(api.render(replace(tasks, assemble_only=True)))
        # the same, holding one job (what a Ray actor does)
        held_req = api.RenderRequest(request("held.mkv"), chunk_frames=args.chunk_frames)
        held = api.HeldJob()
        t_held = []
        try:
            for cid in chunks:
                t_held.append(timed(api.render(replace(held_req, chunk=cid), held=held))[1])
        finally:
            held.close()
        # one real farm task: a new interpreter, imports, plan, one chunk
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())",
                        "render", str(project_file), "-o",
                        str(folder / "sub.mkv"), "--codec", "ffv1", "--max-width", str(args.max_width),
                        "--chunk-frames", str(args.chunk_frames), "--chunk", "1", "--progress", "none", "-q"],
                       check=True, cwd=ROOT)
        t_subprocess = time.perf_counter() - t0
        result = {"bench": "farm", "source": f"{DEMO.name} at max width {args.max_width}", "frames": frames,
                  "chunks": len(chunks), "chunk_frames": args.chunk_frames, "load_at_start": load,
                  "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                  "convert_s": round(t_convert, 2), "convert_fps": round(frames / t_convert, 2),
                  "chunked_s": round(t_chunked, 2), "chunked_fps": round(frames / t_chunked, 2),
                  "overhead_per_chunk_s": round((t_chunked - t_convert) / len(chunks), 3),
                  "task_per_chunk_s_median": round(statistics.median(t_tasks), 3),
                  "held_per_chunk_s_median": round(statistics.median(t_held), 3),
                  "held_first_chunk_s": round(t_held[0], 3), "assemble_s": round(t_assemble, 2),
                  "subprocess_task_s": round(t_subprocess, 2)}
        try:
            import ray  # noqa: F401
        except ImportError:
            result["ray"] = "not installed"
        else:
            ray_fig = ray_run(api.RenderRequest(request("ray.mkv"), chunk_frames=args.chunk_frames), args.workers)
            result["ray"] = {"workers": args.workers, **ray_fig,
                             "fps_including_startup": round(frames / ray_fig["total_s"], 2),
                             "fps_after_dispatch": round(frames / ray_fig["after_dispatch_s"], 2)}
        result["load_at_end"] = os.getloadavg()
    write_json_atomic(args.json, result)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
