"""Where a whole `convert` spends its time: per stage, CPU and wall, on real footage.

    python bench/bench_convert_profile.py [--quick] [--json bench/results/convert_profile.json]
                                          [--doc docs/profile.md]

Runs `spatialdreamer convert` in a fresh child process per case (1080p and 320x180 real footage;
DVG and the per-frame path; cold and warm depth cache, plus the cold ``--no-cache`` spool) with
timers wrapped around the pipeline's stage functions. Each timer is exclusive: a stage's time
excludes the stages it calls (optical flow is reported under the stage that asked for it), so the
stages of one thread add up to that thread's busy time. Wall is per stage and thread; CPU is the
calling thread's CPU time (``time.thread_time``: it includes worker threads only where they are
the caller's, i.e. not numba/OpenMP/x264 pools, which show in the process CPU). The process line
gives wall, user+sys CPU of the whole child, CPU utilisation of the 2 cores and peak RSS.

The machine is shared: each case records the load average before it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

#: (module, object or None for a module function, attribute, stage name, is a generator function)
HOOKS = (
    ("engine.jobs.convert", None, "detect_cuts", "shot detection", True),
    ("engine.media.reader", "MediaReader", "frames", "decode", True),
    ("engine.jobs.convert", None, "eye_image", "resize to eye", False),
    ("engine.depth.weights_free", "WeightsFreeDepth", "_prepare", "depth (weights-free)", False),
    ("engine.depth.weights_free", "WeightsFreeDepth", "_frame", "depth (weights-free)", False),
    ("engine.depth.stabilise", "DepthStabiliser", "_align_fit", "stabilise", False),
    ("engine.depth.temporal_filter", "TemporalDepthFilter", "_pair", "depth temporal filter", False),
    ("engine.depth.temporal_filter", "TemporalDepthFilter", "_filtered", "depth temporal filter", False),
    ("engine.depth.normalise", "ShotNormaliser", "update", "normalise", False),
    ("engine.depth.normalise", "ShotNormaliser", "apply", "normalise", False),
    ("engine.jobs.depth_spool", "DepthSpool", "put", "depth store write", False),
    ("engine.jobs.depth_spool", "DepthSpool", "put_prepared", "depth store write", False),
    ("engine.jobs.depth_spool", "DepthSpool", "get", "depth store read", False),
    ("engine.cache.store", "CacheNamespace", "put", "depth store write", False),
    ("engine.cache.store", "CacheNamespace", "put_prepared", "depth store write", False),
    ("engine.cache.store", "CacheNamespace", "get", "depth store read", False),
    ("engine.jobs.frame", "FrameAssembly", "prepare", "grade", False),
    ("engine.dvg.temporal", "TemporalStereo", "stage", "dvg stage", False),
    ("engine.dvg.temporal", "TemporalStereo", "_prepare", "dvg splat", False),
    ("engine.dvg.temporal", "TemporalStereo", "_add_pair", "dvg pair flow", False),
    ("engine.dvg.temporal", "TemporalStereo", "_complete", "dvg complete", False),
    ("engine.jobs.frame", "PerFrameStereo", "push", "splat + fill", False),
    ("engine.jobs.frame", "FrameAssembly", "render_one", "splat + fill", False),
    ("engine.jobs.frame", "FrameAssembly", "packed", "pack", False),
    ("engine.media.writer", "VideoWriter", "write", "encode", False),
    ("engine.media.writer", "VideoWriter", "finish", "encode", False),
    ("engine.flow.dis", "FlowEstimator", "flow_small", "flow", False),
)


class StageClock:
    """Exclusive wall and thread-CPU time per (stage, thread), from a per-thread stack of open stages."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        self.threads: dict[str, list[float]] = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    def _stack(self) -> list:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
            name = threading.current_thread().name
            with self._lock:
                self.threads.setdefault(name, [time.perf_counter(), time.thread_time()])
        return stack

    def run(self, name: str, fn, *args, **kwargs):
        stack = self._stack()
        if name == "flow" and stack:
            name = f"flow ({stack[-1][0]})"
        entry = [name, time.perf_counter(), time.thread_time(), 0.0, 0.0]  # name, t0, c0, child wall, child cpu
        stack.append(entry)
        try:
            return fn(*args, **kwargs)
        finally:
            stack.pop()
            wall, cpu = time.perf_counter() - entry[1], time.thread_time() - entry[2]
            if stack:
                stack[-1][3] += wall
                stack[-1][4] += cpu
            key = (name, threading.current_thread().name)
            with self._lock:
                tot = self.totals[key]
                tot[0] += 1
                tot[1] += wall - entry[3]
                tot[2] += cpu - entry[4]

    def wrap(self, name: str, fn, generator: bool):
        clock = self

        if generator:
            def timed_gen(*args, **kwargs):
                gen = fn(*args, **kwargs)
                while True:
                    try:
                        item = clock.run(name, next, gen)
                    except StopIteration as stop:
                        return stop.value
                    yield item
            return timed_gen

        def timed(*args, **kwargs):
            return clock.run(name, fn, *args, **kwargs)
        return timed

    def install(self) -> None:
        import importlib

        for module_name, owner, attr, name, generator in HOOKS:
            module = importlib.import_module(module_name)
            target = module if owner is None else getattr(module, owner)
            setattr(target, attr, self.wrap(name, getattr(target, attr), generator))

    def report(self) -> dict:
        now_wall = time.perf_counter()
        stages = [{"stage": s, "thread": t, "calls": int(v[0]), "wall_s": round(v[1], 3), "cpu_s": round(v[2], 3)}
                  for (s, t), v in sorted(self.totals.items(), key=lambda kv: -kv[1][1])]
        busy = defaultdict(float)
        for (_, t), v in self.totals.items():
            busy[t] += v[1]
        threads = {t: {"alive_s": round(now_wall - w0, 3), "staged_s": round(busy[t], 3)}
                   for t, (w0, _) in self.threads.items()}
        return {"stages": stages, "threads": threads}


def child(out: Path, argv: list[str]) -> int:
    """Run the CLI in this process with the stage clock installed; write the report to `out`."""
    t0 = time.perf_counter()
    from engine.cli import main as cli_main

    import_s = time.perf_counter() - t0
    import engine.jobs.convert  # noqa: F401  (the hooks patch its module functions)

    clock = StageClock()
    clock.install()
    rc = cli_main(argv)
    report = clock.report()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report.update(rc=rc, cli_import_s=round(import_s, 3), job_s=round(time.perf_counter() - t0, 3),
                  user_s=usage.ru_utime, sys_s=usage.ru_stime, peak_rss_mib=round(usage.ru_maxrss / 1024, 1))
    out.write_text(json.dumps(report))
    return rc


def run_case(src: Path, dst: Path, extra: list[str], frames: int) -> dict:
    """One convert in a fresh child; its stage report plus the parent-side wall clock."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        report_path = Path(f.name)
    load = os.getloadavg()
    t0 = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", str(report_path), "--", "convert", str(src), "-o", str(dst),
           "--overwrite", "--progress", "none", "-q", *extra]
    subprocess.run(cmd, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    report = json.loads(report_path.read_text())
    report_path.unlink()
    cpu = report["user_s"] + report["sys_s"]
    report.update(args=extra, frames=frames, wall_s=round(wall, 2), fps=round(frames / wall, 2),
                  cpu_s=round(cpu, 2), cpu_util=round(cpu / wall / (os.cpu_count() or 1), 3),
                  load_before=[round(x, 2) for x in load])
    return report


def cases(quick: bool) -> list[tuple[str, tuple[int, int], int]]:
    """(label, (width, height), frames) of the clips profiled."""
    hd_frames = 24 if quick else 96
    small_frames = 48 if quick else 240
    return [("1080p", (1920, 1080), hd_frames), ("320x180", (320, 180), small_frames)]


def profile(quick: bool) -> dict:
    from footage import real_clip

    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, (w, h), frames in cases(quick):
            clip = real_clip(tmp / f"{label}.mp4", w, h, frames)
            common = ["--layout", "sbs-half", "--preset", "veryfast"]
            for path_name, path_args in (("dvg", []), ("per-frame", ["--temporal", "off"])):
                cache = tmp / f"cache-{label}-{path_name}"
                for cache_name, cache_args in (("no-cache", ["--no-cache"]), ("cold", ["--cache-dir", str(cache)]),
                                               ("warm", ["--cache-dir", str(cache)])):
                    name = f"{label} {path_name} {cache_name}"
                    print(f"== {name}", flush=True)
                    results[name] = run_case(clip, tmp / "out.mp4", [*common, *path_args, *cache_args], frames)
                    r = results[name]
                    print(f"   {r['wall_s']} s  {r['fps']} fps  CPU {r['cpu_util']:.0%}  RSS {r['peak_rss_mib']} MiB",
                          flush=True)
    return results


def markdown(results: dict) -> str:
    lines = ["# Where a convert spends its time", "",
             "Written by `bench/bench_convert_profile.py` (`make bench`); real footage (the DAVIS clip of",
             "`../shared/data`, resized, ping-pong looped), `--layout sbs-half --preset veryfast`, weights-free",
             "depth. Stage times are *exclusive* (a stage's time excludes the stages it calls; flow is shown",
             "under the stage that asked for it). CPU is the calling thread's own CPU time; thread pools",
             "(numba/OpenMP, x264) show only in the process total. The machine is shared by several",
             "sessions: each case notes the 1/5/15-minute load average before it ran (2 cores). Threads:",
             "`decode-*` decode, `depth` the depth provider, `depth-store` cache/spool writes, `stage-render`",
             "depth read + grade + DVG splats and pair flow (or the whole per-frame render), `MainThread` the",
             "stabiliser with the temporal depth filter, and DVG completion + packing, `encode` x264.", ""]
    lines += ["| case | frames | wall s | fps | process CPU s | CPU use of 2 cores | peak RSS MiB | CLI import s"
              " | load |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['frames']} | {r['wall_s']} | {r['fps']} | {r['cpu_s']} | {r['cpu_util']:.0%} | "
                     f"{r['peak_rss_mib']} | {r['cli_import_s']} | {' '.join(map(str, r['load_before']))} |")
    for name, r in results.items():
        lines += ["", f"## {name}", "", "| stage | thread | calls | wall s | ms/frame | CPU s |",
                  "|---|---|---|---|---|---|"]
        for s in r["stages"]:
            if s["wall_s"] < 0.005:
                continue
            lines.append(f"| {s['stage']} | {s['thread']} | {s['calls']} | {s['wall_s']} | "
                         f"{1000 * s['wall_s'] / r['frames']:.1f} | {s['cpu_s']} |")
        for t, v in r["threads"].items():
            lines.append(f"| *(unstaged)* | {t} | | {round(v['alive_s'] - v['staged_s'], 2)} | | |")
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child(Path(sys.argv[2]), sys.argv[4:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short clips (a smoke run, not the figures)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "convert_profile.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "profile.md")
    args = parser.parse_args()
    results = profile(args.quick)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    args.doc.write_text(markdown(results))
    print(f"wrote {args.json} and {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
