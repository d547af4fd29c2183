"""Soak test (not CI): 1080p through `convert` again and again for a wall-clock budget, in one process.

    python bench/soak.py [--minutes 30] [--seconds-per-clip 2] [--json bench/results/soak.json]

Every `--sample` seconds a thread records this process's resident memory (VmRSS), open file
descriptors (/proc/self/fd), OS threads (/proc/self/status) and Python threads, and the load average.
A leak shows as growth from run to run: the summary compares the samples taken between runs (each
after a finished convert) by a least-squares slope per hour, first vs last, and the peak.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_convert import make_clip  # noqa: E402
from engine import api  # noqa: E402


def proc_status(field: str) -> int:
    """An integer field of /proc/self/status (VmRSS in kB, Threads)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def sample(run: int, phase: str, t0: float) -> dict:
    """One measurement of this process."""
    return {"t_s": round(time.monotonic() - t0, 2), "run": run, "phase": phase,
            "rss_mib": round(proc_status("VmRSS") / 1024, 1), "open_fds": len(os.listdir("/proc/self/fd")),
            "os_threads": proc_status("Threads"), "py_threads": threading.active_count(),
            "load": round(os.getloadavg()[0], 2)}


def slope_per_hour(points: list[dict], key: str) -> float:
    """Least-squares slope of `key` against time, per hour (0 with fewer than two points)."""
    if len(points) < 2:
        return 0.0
    ts = [p["t_s"] for p in points]
    vs = [p[key] for p in points]
    mt, mv = sum(ts) / len(ts), sum(vs) / len(vs)
    var = sum((t - mt) ** 2 for t in ts)
    return 0.0 if var == 0 else 3600 * sum((t - mt) * (v - mv) for t, v in zip(ts, vs, strict=True)) / var


def summary(samples: list[dict], runs: int, frames: int, seconds: float) -> dict:
    """First/last/peak and drift of each figure over the between-run samples."""
    between = [s for s in samples if s["phase"] == "between"]
    out: dict = {"runs": runs, "frames": frames, "wall_s": round(seconds, 1),
                 "fps": round(frames / seconds, 3) if seconds else 0.0}
    for key in ("rss_mib", "open_fds", "os_threads", "py_threads"):
        out[key] = {"first_between": between[0][key] if between else None,
                    "last_between": between[-1][key] if between else None,
                    "peak": max(s[key] for s in samples), "slope_per_hour": round(slope_per_hour(between[1:], key), 3)}
    return out


def convert_once(clip: Path, out: Path) -> int:
    request = api.ConvertRequest(input=clip, output=out, layout="sbs-half", overwrite=True)
    frames = 0
    for p in api.convert(request):
        if p.stage == "render":
            frames = p.done
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seconds-per-clip", type=float, default=2.0)
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "soak.json")
    args = parser.parse_args(argv)
    t0, samples, stop = time.monotonic(), [], threading.Event()
    state = {"run": 0}

    def sampler() -> None:
        while not stop.wait(args.sample):
            samples.append(sample(state["run"], "during", t0))

    with tempfile.TemporaryDirectory() as tmp:
        clip, out = Path(tmp) / "soak_1080p.mp4", Path(tmp) / "soak_sbs.mp4"
        make_clip(clip, 1920, 1080, args.seconds_per_clip)
        samples.append(sample(0, "between", t0))
        threading.Thread(target=sampler, name="soak-sampler", daemon=True).start()
        frames, deadline = 0, t0 + 60 * args.minutes
        while time.monotonic() < deadline:
            state["run"] += 1
            frames += convert_once(clip, out)
            samples.append(sample(state["run"], "between", t0))
            print(json.dumps(samples[-1]), flush=True)
        stop.set()
    result = {"bench": "soak", "clip": f"1920x1080, {args.seconds_per_clip} s at 24 fps, sbs-half, DVG, weights-free",
              "summary": summary(samples, state["run"], frames, time.monotonic() - t0), "samples": samples}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
