"""XR loop frame time against a real OpenXR runtime (Monado, null compositor, simulated HMD, Debian 13 chroot).

    python bench/bench_xr.py [--frames 120] [--fps 24]   (root: builds the chroot the first time, ~3 min)

CPU milliseconds per frame of the XR thread (xrWaitFrame's blocking excluded: begin frame, copy into
the swapchain, two quad layers, end frame) at the runtime's own frame rate, for a still frame (the
playhead parked: nothing to upload) and for playback (a new image every headset frame: one texture
upload plus a blit per frame), at the demo clip's size and at 1080p per eye.

Then the studio's GPU path (a second client whose XR context shares a "viewer" GL context): the viewer
thread plays at --fps, each new frame handed over GPU-side (`gpu_share`: a blit into a shared slot and a
fence); measured are the XR thread's CPU per frame (no upload: a blit from the shared texture), the
viewer's hand-over cost, and how soon the headset follows: for each frame the viewer handed over, whether
the first headset frame begun after it carries it, and the time from hand-over to that frame's start.
Writes bench/results/xr.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_ops import write_json_atomic  # noqa: E402
from engine import api  # noqa: E402
from tests.xr.support import runtime as rt  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "xr.json"
WARMUP = 10


def _demo_sbs(divergence: float) -> np.ndarray:
    request = api.ConvertRequest(input=ROOT / "resources" / "demo" / "demo.mp4", layout="sbs-full",
                                 temporal=False, shots="off", params=api.StereoParams(divergence, 1 / 3))
    return api.preview_images(request, "24f")[0]


def _summary(frames: list[dict]) -> dict[str, float]:
    cpu = [f["cpu_ms"] for f in frames]
    period = [(b["t"] - a["t"]) / 1e6 for a, b in zip(frames, frames[1:], strict=False)]
    return {"frames": len(frames), "cpu_ms_median": round(statistics.median(cpu), 3),
            "cpu_ms_p95": round(sorted(cpu)[int(0.95 * (len(cpu) - 1))], 3),
            "wall_ms_median": round(statistics.median(f["wall_ms"] for f in frames), 3),
            "wait_frame_ms_median": round(statistics.median(f["wait_ms"] for f in frames), 2),
            "frame_period_ms_median": round(statistics.median(period), 2),
            "runtime_hz": round(1000.0 / statistics.median(period), 1)}


def _collect(client: rt.Proc, n: int, what: str, first: Callable[[int], bool]) -> list[dict]:
    """`n` consecutive frame reports after WARMUP, starting at the first whose content id passes `first`."""
    start = client.wait_event(lambda e: e["event"] == "frame" and e["id"] is not None and first(e["id"]), 60, what)
    frames = []
    while len(frames) < n + WARMUP:
        frames.append(client.wait_event(lambda e: e["event"] == "frame" and e["i"] > start["i"] + len(frames),
                                        60, what))
    return frames[WARMUP:]


def _follow(client: rt.Proc, frames: list[dict]) -> dict[str, float]:
    """How the headset followed the viewer over `frames`: next-frame hits and hand-over → frame-start times."""
    t0, t1 = frames[0]["t"], frames[-1]["t"]
    published = [e for e in client.seen if e["event"] == "published" and t0 <= e["t"] < t1]
    hits, delays = 0, []
    for p in published:
        nxt = next((f for f in frames if f["t"] > p["t"]), None)
        if nxt is None:
            continue
        hits += nxt["id"] is not None and nxt["id"] >= p["id"]
        delays.append((nxt["t"] - p["t"]) / 1e6)
    handover = [p["publish_ms"] for p in published]
    return {"viewer_frames": len(delays), "next_headset_frame_carries_it": round(hits / max(1, len(delays)), 3),
            "handover_to_frame_start_ms_median": round(statistics.median(delays), 2) if delays else None,
            "handover_to_frame_start_ms_max": round(max(delays), 2) if delays else None,
            "viewer_handover_ms_median": round(statistics.median(handover), 3) if handover else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120, help="timed headset frames per case")
    parser.add_argument("--fps", type=float, default=24.0, help="the viewer's playback rate on the GPU path")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    demo_a, demo_b = _demo_sbs(3.0), _demo_sbs(6.0)
    images = {"demo_a": demo_a, "demo_b": demo_b,
              "hd_a": np.repeat(np.repeat(demo_a, 3, 0), 3, 1), "hd_b": np.repeat(np.repeat(demo_b, 3, 0), 3, 1)}
    names = sorted(images)
    load = os.getloadavg()[0]
    provision_s = rt.provision()
    runtime = rt.MonadoRuntime()
    results: dict[str, dict] = {}
    try:
        runtime.start()
        np.savez(runtime.scratch / "content.npz", **images)
        client = runtime.client(runtime.scratch / "content.npz", runtime.scratch)
        client.wait_event(lambda e: e["event"] == "status" and e["state"] == "FOCUSED", 60, "FOCUSED")
        for size, a, b in (("640x360 per eye", "demo_a", "demo_b"), ("1920x1080 per eye", "hd_a", "hd_b")):
            client.send(f"show {a}")
            still_id = names.index(a) + 1
            results[f"still, {size}"] = _summary(_collect(client, args.frames, f"still {size}",
                                                          lambda i, k=still_id: i == k))
            client.send(f"play {a} {b}")
            playing = client.wait_event(lambda e: e["event"] == "playing", 10, "playback start")
            results[f"playback, {size}"] = _summary(_collect(client, args.frames, f"playback {size}",
                                                             lambda i, k=playing["first_id"]: i >= k))
        client.send("stop")
        client.wait_event(lambda e: e["event"] == "stopped", 30, "stop")
        client.popen.wait(30)
        shared = runtime.client(runtime.scratch / "content.npz", runtime.scratch, "--share")
        shared.send("gshow demo_a")
        shared.wait_event(lambda e: e["event"] == "status" and e["state"] == "FOCUSED", 60, "FOCUSED (shared)")
        for size, a, b in (("640x360 per eye", "demo_a", "demo_b"), ("1920x1080 per eye", "hd_a", "hd_b")):
            shared.send(f"gplay {args.fps:g} {a} {b}")
            first = shared.wait_event(lambda e: e["event"] == "playing", 30, "viewer playback start")["first_id"]
            frames = _collect(shared, args.frames, f"viewer playback {size}", lambda i, k=first: i >= k)
            gpu = [f for f in frames if f["source"] == "gpu"]
            results[f"viewer playback at {args.fps:g} fps over the GPU share, {size}"] = {
                **_summary(gpu), **_follow(shared, frames)}
        shared.send("stop")
        shared.wait_event(lambda e: e["event"] == "stopped", 30, "stop (shared)")
    finally:
        runtime.close()
    payload = {"schema": "Bench.1", "bench": "xr",
               "runtime": "Monado 25.0.0 (Debian 13 chroot), null compositor, simulated HMD, Mesa llvmpipe GL",
               "results": results, "provision_s": round(provision_s, 1),
               "machine": {"cpus": os.cpu_count(), "loadavg_1min_at_start": round(load, 2),
                           "loadavg_1min_at_end": round(os.getloadavg()[0], 2), "python": platform.python_version(),
                           "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    write_json_atomic(args.json, payload)
    for case, r in results.items():
        print(f"{case:28s} CPU {r['cpu_ms_median']:.2f} ms/frame (p95 {r['cpu_ms_p95']:.2f}), wall "
              f"{r['wall_ms_median']:.2f} ms, waiting {r['wait_frame_ms_median']:.1f} ms, {r['runtime_hz']} Hz")
        if "viewer_frames" in r:
            print(f"{'':28s} next headset frame carries the viewer's: {r['next_headset_frame_carries_it']:.0%} of "
                  f"{r['viewer_frames']}, hand-over → frame start {r['handover_to_frame_start_ms_median']} ms "
                  f"(max {r['handover_to_frame_start_ms_max']}), hand-over {r['viewer_handover_ms_median']} ms")
    print(f"load {load:.2f} → {payload['machine']['loadavg_1min_at_end']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
