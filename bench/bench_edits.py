"""Benchmark depth painting: edit-to-preview latency on a 1080p frame, and carrying one stroke across a
240-frame shot from cached pair flows.

    python bench/bench_edits.py [--frames 240] [--json bench/results/edits.json]

Frames are DAVIS rollercoaster (../shared/data, ping-ponged to the shot length; a synthetic moving
texture when absent), upscaled to 1920x1080 as the eye size. "add stroke" is what the viewer waits for
when an editor lifts the pen on the frame they painted: the stroke rasterised at 1080p (radius 40 px,
soft edge 20 px, a 30-point polyline across 300 px), snapped to the image's edges when edge-aware,
applied to δ with the shot's other strokes, plus the overlay map; it never waits for the carry, which a
worker does. "carry" is :func:`engine.edits.carry` over the whole shot from pair flows already in memory
(the cache's job), reported per frame and as fps. The flow pass (DIS medium at 480 px, both directions,
once per shot) is timed too. The load average is recorded: the machine is shared, figures are noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_ops import write_json_atomic  # noqa: E402
from engine.document import Stroke  # noqa: E402
from engine.dvg.fields import pair_flow  # noqa: E402
from engine.edits import ShotEdits, carry, painted_weight  # noqa: E402
from engine.flow import FlowConfig, FlowEstimator, to_gray, working_size  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "edits.json"
DAVIS = ROOT / ".." / "shared" / "data" / "mono_videos" / "davis_rollercoaster.mp4"
WIDTH, HEIGHT = 1920, 1080


def source_frames(count: int) -> tuple[list[np.ndarray], str]:
    """`count` RGB frames at 1920x1080: DAVIS ping-ponged, else a synthetic pan."""
    if DAVIS.is_file():
        import av
        with av.open(str(DAVIS)) as container:
            base = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        cycle = base + base[-2:0:-1]
        return [cv2.resize(cycle[i % len(cycle)], (WIDTH, HEIGHT)) for i in range(count)], "davis_rollercoaster"
    rng = np.random.default_rng(0)
    canvas = cv2.resize(rng.integers(0, 255, (HEIGHT // 8, (WIDTH + 4 * count) // 8, 3), np.uint8),
                        (WIDTH + 4 * count, HEIGHT), interpolation=cv2.INTER_CUBIC)
    return [np.ascontiguousarray(canvas[:, 4 * i: 4 * i + WIDTH]) for i in range(count)], "synthetic pan"


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def stroke(sid: str, kind: str, frame: int, edge_aware: bool, dx: float = 0.0) -> Stroke:
    xs = np.linspace(700 + dx, 1000 + dx, 30)
    points = tuple((float(x), float(420 + 30 * np.sin(x / 60))) for x in xs)
    return Stroke(sid, kind, frame, points, radius=40, softness=20, amount=-0.1 if kind == "push" else 1.0,
                  value=0.2, edge_aware=edge_aware)


def add_stroke_latency(frames: list[np.ndarray], repeat: int) -> dict[str, dict[str, float]]:
    image = frames[10]
    delta = np.tile(np.linspace(0.1, 0.9, WIDTH, dtype=np.float32), (HEIGHT, 1))
    others = tuple(stroke(f"o{i}", "push", 10, False, dx=-500 + 250 * i) for i in range(4))
    result = {}
    for name, new in (("push", stroke("n", "push", 10, False)), ("push edge-aware", stroke("n", "push", 10, True)),
                      ("smooth edge-aware", stroke("n", "smooth", 10, True))):
        for label, existing in (("alone", ()), ("with 4 strokes", others)):
            memo: dict = {}
            warm = ShotEdits(0, 240, existing, (WIDTH, HEIGHT), (HEIGHT, WIDTH), None, lambda k: image, memo)
            warm.apply(delta, 10, image)  # the shot's earlier strokes are known already

            def run(new=new, existing=existing, memo=memo):
                for key in [k for k in memo if new in k]:
                    del memo[key]
                edits = ShotEdits(0, 240, existing + (new,), (WIDTH, HEIGHT), (HEIGHT, WIDTH), None,
                                  lambda k: image, memo)
                edits.apply(delta, 10, image)
                edits.overlay(10)

            times = timed(run, repeat)
            result[f"{name}, {label}"] = {"median_ms": round(statistics.median(times), 2),
                                          "best_ms": round(min(times), 2)}
    return result


def propagation(frames: list[np.ndarray]) -> dict[str, float]:
    config = FlowConfig(preset="medium", working_width=480)
    small = working_size(WIDTH, HEIGHT, config.working_width)
    grays = [cv2.resize(to_gray(f), small, interpolation=cv2.INTER_AREA) for f in frames]
    estimator = FlowEstimator(config)
    t0 = time.perf_counter()
    pairs = [pair_flow(estimator, a, b, 0.01, 0.5, True) for a, b in zip(grays, grays[1:], strict=False)]
    flow_s = time.perf_counter() - t0
    weight = painted_weight(stroke("s", "push", 120, False), (WIDTH, HEIGHT), (HEIGHT, WIDTH))
    t0 = time.perf_counter()
    carried = carry(weight, 120, 0, len(frames), pairs.__getitem__)
    carry_s = time.perf_counter() - t0
    reached = carried.last - carried.first + 1
    return {"shot_frames": len(frames), "frames_reached": reached, "notes": list(carried.notes),
            "flow_pass_s": round(flow_s, 2), "flow_pass_fps": round((len(frames) - 1) / flow_s, 1),
            "carry_s": round(carry_s, 3), "carry_ms_per_frame": round(1000 * carry_s / max(reached - 1, 1), 2),
            "carry_fps": round((reached - 1) / carry_s, 1)}


def session_latency(frames: list[np.ndarray], repeat: int) -> dict[str, float]:
    """The studio's path from pen-up to the viewer's new δ, without the GL upload: the document with the new
    stroke handed to the session (``Session.update``), the painted frame's δ fetched again (depth cache ->
    per-shot normalisation -> the FrameAssembly's ClipEditor), and the overlay at once
    (``edit_overlay(wait=False)``), on an analysed 12-frame 1080p shot."""
    import tempfile
    from fractions import Fraction

    import av

    from engine import api
    from engine.document import edits as doc_edits

    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "shot.mp4"
        with av.open(str(clip), "w") as out:
            stream = out.add_stream("libx264", rate=24, options={"crf": "16"})
            stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            for image in frames[:12]:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            out.mux(stream.encode())
        project = api.Project.single(str(clip), Fraction(24), 12, (api.Shot(0, 12),))
        request = api.ConvertRequest(input=None, shots="off", cache_dir=Path(folder) / "cache")
        with api.open_session(project, request=request) as session:
            for _ in session.analyse(project.clips[0].shots[0]):
                pass
            session.depth(5)
            clip_id = project.clips[0].id

            count = iter(range(10_000))

            def run():
                n = next(count)
                new = stroke(f"s{n}", "push", 5, False, dx=(n % 7) * 9.0)
                edited = doc_edits.add_stroke(project, clip_id, 0, new)
                session.update(edited)
                session.depth(5)
                session.edit_overlay(5, wait=False)

            times = timed(run, repeat)
    return {"median_ms": round(statistics.median(times), 2), "best_ms": round(min(times), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    frames, source = source_frames(args.frames)
    result = {
        "benchmark": "edits", "frames": source, "eye_size": [WIDTH, HEIGHT],
        "add_stroke_ms": add_stroke_latency(frames, args.repeat),
        "propagation": propagation(frames),
        "session_stroke_to_delta_ms": session_latency(frames, args.repeat),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "loadavg_1min_at_start": round(load, 2), "loadavg_1min_at_end": round(os.getloadavg()[0], 2),
                    "python": platform.python_version()},
    }
    print(f"edits benchmark ({source}, 1080p), load {load:.2f}")
    for name, s in result["add_stroke_ms"].items():
        print(f"  add stroke {name:<32} median {s['median_ms']:7.2f} ms  best {s['best_ms']:7.2f} ms")
    t = result["session_stroke_to_delta_ms"]
    print(f"  studio path: stroke -> session δ + overlay  median {t['median_ms']:7.2f} ms  best {t['best_ms']:7.2f} ms")
    p = result["propagation"]
    print(f"  flow pass {p['flow_pass_fps']} fps; carry one stroke over {p['frames_reached']} frames: "
          f"{p['carry_ms_per_frame']} ms/frame = {p['carry_fps']} fps")
    write_json_atomic(args.json, result)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
