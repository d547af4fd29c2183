"""The main job's goal figures (issue #16), on real footage, each convert a fresh process (start-up included).

    python bench/bench_convert.py [--only ratio,small,rss] [--json bench/results/convert.json]

* ``ratio``: 96 frames of 1080p, ``--layout sbs-half --preset veryfast``, cold cache (a fresh cache
  folder per run), DVG and the per-frame path: the whole ``convert`` process ÷ a PyAV decode → rgb24 →
  libx264 veryfast loop over the same clip, best of two runs each (bar ≤ 5.0, goal ≤ 2.5).
* ``small``: a 10 s 320x180 clip, default settings and cold cache: fps, DVG and per-frame (goal ≥ 60).
* ``rss``: peak RSS of the child (ru_maxrss) for 1080p at two lengths and 320x180 at 10 s and 60 s:
  flat in clip length, and under 2 GB at 1080p.

The machine is shared: every figure carries the load average before it ran, and the process CPU time
(user + sys) next to the wall time, which load inflates less.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from footage import real_clip  # noqa: E402  (bench/ is not a package)

_WRAPPER = ("import resource, sys\n"
            "from engine.cli import main\n"
            "rc = main(sys.argv[1:])\n"
            "u = resource.getrusage(resource.RUSAGE_SELF)\n"
            "print('USAGE', u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr)\n"
            "sys.exit(rc)\n")

_REFERENCE = ("import av, resource, sys\n"
              "with av.open(sys.argv[1]) as src, av.open(sys.argv[2], 'w') as dst:\n"
              "    s = dst.add_stream('libx264', rate=src.streams.video[0].average_rate)\n"
              "    v = src.streams.video[0]\n"
              "    s.width, s.height, s.pix_fmt = v.width, v.height, 'yuv420p'\n"
              "    s.options = {'preset': 'veryfast'}\n"
              "    for frame in src.decode(video=0):\n"
              "        image = frame.to_ndarray(format='rgb24')\n"
              "        dst.mux(s.encode(av.VideoFrame.from_ndarray(image, format='rgb24')))\n"
              "    dst.mux(s.encode())\n"
              "u = resource.getrusage(resource.RUSAGE_SELF)\n"
              "print('USAGE', u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr)\n")


def frame_count(path: Path) -> int:
    with av.open(str(path)) as c:
        return c.streams.video[0].frames


def _child(cmd: list[str], frames: int, args: list[str]) -> dict:
    load = os.getloadavg()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss_kib, cpu = done.stderr.rsplit("USAGE", 1)[1].split()[:2]
    return {"wall_s": round(wall, 2), "cpu_s": round(float(cpu), 2), "frames": frames,
            "fps": round(frames / wall, 2), "cpu_ms_per_frame": round(1000 * float(cpu) / frames, 1),
            "peak_rss_mib": round(int(rss_kib) / 1024, 1), "args": args,
            "load_before": [round(x, 2) for x in load], "load_after": [round(x, 2) for x in os.getloadavg()]}


def run_convert(src: Path, dst: Path, extra: list[str]) -> dict:
    """The CLI in a fresh child process: wall, CPU, fps and that child's own peak RSS (MiB)."""
    cmd = [sys.executable, "-c", _WRAPPER, "convert", str(src), "-o", str(dst), "--overwrite",
           "--progress", "none", "-q", *extra]
    return _child(cmd, frame_count(src), extra)


def run_reference(src: Path, dst: Path) -> dict:
    """The PyAV decode -> rgb24 -> libx264 veryfast loop, in a fresh child process."""
    return _child([sys.executable, "-c", _REFERENCE, str(src), str(dst)], frame_count(src), ["reference"])


def best(runs: list[dict]) -> dict:
    return {**min(runs, key=lambda r: r["wall_s"]), "walls_s": [r["wall_s"] for r in runs]}


def ratio(tmp: Path, frames: int) -> dict:
    clip = real_clip(tmp / "hd.mp4", 1920, 1080, frames)
    out: dict = {"1080p_reference": best([run_reference(clip, tmp / "ref.mp4") for _ in range(2)])}
    common = ["--layout", "sbs-half", "--preset", "veryfast"]
    for name, extra in (("dvg", []), ("per_frame", ["--temporal", "off"])):
        runs = [run_convert(clip, tmp / "o.mp4", [*common, *extra, "--cache-dir", str(tmp / f"cache-{name}-{k}")])
                for k in range(2)]
        out[f"1080p_{name}"] = r = best(runs)
        r["ratio_to_reference"] = round(r["wall_s"] / out["1080p_reference"]["wall_s"], 2)
        r["cpu_ratio_to_reference"] = round(r["cpu_s"] / out["1080p_reference"]["cpu_s"], 2)
    return out


def small(tmp: Path) -> dict:
    clip = real_clip(tmp / "small.mp4", 320, 180, 240)
    return {f"320x180_10s_{name}": run_convert(clip, tmp / "o.mp4", [*extra, "--cache-dir", str(tmp / f"c-{name}")])
            for name, extra in (("dvg", []), ("per_frame", ["--temporal", "off"]))}


def rss(tmp: Path, hd_lengths: tuple[int, int]) -> dict:
    out = {}
    for frames in hd_lengths:
        clip = real_clip(tmp / f"hd{frames}.mp4", 1920, 1080, frames)
        out[f"rss_1080p_{frames}f"] = run_convert(clip, tmp / "o.mp4", ["--layout", "sbs-half", "--preset",
                                                                         "veryfast", "--no-cache"])
    for seconds in (10, 60):
        clip = real_clip(tmp / f"s{seconds}.mp4", 320, 180, 24 * seconds)
        out[f"rss_{seconds}s_320x180"] = run_convert(clip, tmp / "o.mp4", ["--no-cache"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "convert.json")
    parser.add_argument("--only", default="ratio,small,rss", help="comma-separated: ratio, small, rss")
    parser.add_argument("--frames", type=int, default=96, help="1080p frames for the ratio")
    args = parser.parse_args()
    chosen = args.only.split(",")
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "ratio" in chosen:
            results.update(ratio(tmp, args.frames))
        if "small" in chosen:
            results.update(small(tmp))
        if "rss" in chosen:
            results.update(rss(tmp, (48, 192)))
    for name, r in results.items():
        extra = f"  ratio {r['ratio_to_reference']} (CPU {r['cpu_ratio_to_reference']})" \
            if "ratio_to_reference" in r else ""
        print(f"{name:<24} {r['frames']:>5} frames  {r['wall_s']:7.2f} s  {r['fps']:6.2f} fps  CPU {r['cpu_s']:7.2f} s"
              f" ({r['cpu_ms_per_frame']:.0f} ms/frame)  peak RSS {r['peak_rss_mib']:7.1f} MiB"
              f"  load {r['load_before'][0]} -> {r['load_after'][0]}{extra}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
