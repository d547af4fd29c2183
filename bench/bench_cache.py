"""Benchmark the depth cache: write and read per 1080p depth frame, entry size, key costs, eviction scan.

    python bench/bench_cache.py [--frames 30] [--dir /scratch] [--json bench/results/cache.json]

The depth frame is the weights-free provider's output on a DAVIS frame upscaled to 1920x1080
(real provider output: continuous values, soft edges) when ../shared/data is present, else a
synthetic smooth map; the JSON says which. "put" is CacheNamespace.put (float16 cast, codec, temp
file + rename, LRU accounting); "get" is CacheNamespace.get of an entry in the OS page cache (the
studio scrubbing back over frames it just saw): read, decode to float32, mark as used. The depth
spool's format (float16 + zlib level 1, no header) is timed beside it as the baseline. Medians and
best of --frames runs; the load average at start is recorded (other work on the machine skews it).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_ops import write_json_atomic  # noqa: E402
from engine.cache import ArrayCache, media_fingerprint, params_fingerprint  # noqa: E402
from engine.cache.evict import scan  # noqa: E402
from engine.cache.fingerprint import clear_memo  # noqa: E402
from engine.jobs.depth_spool import DepthSpool  # noqa: E402

DEFAULT_JSON = ROOT / "bench" / "results" / "cache.json"
DAVIS = ROOT / ".." / "shared" / "data" / "mono_videos" / "davis_rollercoaster.mp4"
WIDTH, HEIGHT = 1920, 1080


def provider_depth() -> tuple[np.ndarray, str]:
    """(1080, 1920) float32 depth: weights-free output on DAVIS frames when available, else synthetic."""
    if DAVIS.exists():
        import av
        import cv2

        from engine.depth.weights_free import WeightsFreeDepth

        with av.open(str(DAVIS)) as container:
            frames = [cv2.resize(f.to_ndarray(format="rgb24"), (WIDTH, HEIGHT))
                      for _, f in zip(range(4), container.decode(video=0), strict=False)]
        return list(WeightsFreeDepth().estimate(frames))[-1], "weights-free on DAVIS rollercoaster frame 3"
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    ground = np.where(yy > HEIGHT * 0.55, 0.3 + 3.0 * (yy - HEIGHT * 0.55) / HEIGHT, 0.25)
    blob = 0.8 * np.exp(-((xx - 0.3 * WIDTH) ** 2 + (yy - 0.5 * HEIGHT) ** 2) / (0.1 * WIDTH) ** 2)
    return (ground + blob + 0.02 * np.sin(xx / 40.0)).astype(np.float32), "synthetic smooth map"


def timed(fn: Callable[[int], object], runs: int) -> dict[str, float]:
    """Median / best milliseconds of fn(i) for i in range(runs)."""
    times = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1e3)
    return {"median_ms": round(statistics.median(times), 2), "best_ms": round(min(times), 2)}


def bench_frames(workdir: Path, depth: np.ndarray, runs: int) -> dict[str, object]:
    cache = ArrayCache(workdir / "cache", max_bytes=10**11)
    ns = cache.namespace("depth", "ab" * 32, params_fingerprint({"provider": "weights-free"}))
    put = timed(lambda i: ns.put(i, depth), runs)
    get = timed(lambda i: ns.get(i), runs)
    hit = timed(lambda i: ns.get_or_compute(i, lambda: depth), runs)
    entry = ns.path(0).stat().st_size
    with DepthSpool(workdir) as spool:
        spool_put = timed(lambda i: spool.put(i, depth), runs)
        spool_get = timed(lambda i: spool.get(i), runs)
        spool_bytes = next(workdir.glob("spatialdreamer-depth-*/00000000.z")).stat().st_size
    return {
        "put": put, "get": get, "get_or_compute_hit": hit,
        "entry_bytes": entry, "float32_bytes": depth.nbytes,
        "ratio_vs_float32": round(entry / depth.nbytes, 4),
        "baseline_depth_spool": {"put": spool_put, "get": spool_get, "entry_bytes": spool_bytes},
        "max_abs_error": float(np.nanmax(np.abs(ns.get(0) - depth))),
    }


def bench_fingerprint(workdir: Path, size_mb: int) -> dict[str, object]:
    media = workdir / "media.bin"
    block = np.random.default_rng(0).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    with open(media, "wb") as handle:
        for _ in range(size_mb):
            handle.write(block)
    index_dir = workdir / "index"
    index_dir.mkdir()
    start = time.perf_counter()
    media_fingerprint(media, index_dir)
    first_s = time.perf_counter() - start
    memo = timed(lambda i: media_fingerprint(media, index_dir), 50)

    def from_index(_: int) -> None:
        clear_memo()
        media_fingerprint(media, index_dir)

    return {
        "file_mb": size_mb, "hash_s": round(first_s, 3), "hash_mb_per_s": round(size_mb / first_s, 1),
        "memo_hit": memo, "index_hit": timed(from_index, 20),
    }


def bench_scan(workdir: Path, files: int) -> dict[str, object]:
    cache = ArrayCache(workdir / "scan", max_bytes=10**11)
    ns = cache.namespace("depth", "cd" * 32, "ef" * 32)
    tiny = np.zeros((4, 4), np.float32)
    for i in range(files):
        ns.put(i, tiny)
    scan_ms = timed(lambda i: scan(cache.root), 5)
    has_all = timed(lambda i: ns.has_all(range(files)), 5)
    return {"entries": files, "scan": scan_ms, "has_all": has_all, "found": len(scan(cache.root))}


def run(runs: int, workdir: Path, hash_mb: int, scan_files: int) -> dict[str, object]:
    load = os.getloadavg()[0]
    depth, source = provider_depth()
    return {
        "schema": "BenchCache.1",
        "frame": f"{WIDTH}x{HEIGHT} float32 depth", "source": source, "runs": runs,
        "per_frame": bench_frames(workdir, depth, runs),
        "media_fingerprint": bench_fingerprint(workdir, hash_mb),
        "folder_scan": bench_scan(workdir, scan_files),
        "machine": {
            "cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "loadavg_1min_at_start": round(load, 2), "python": platform.python_version(),
            "numpy": np.__version__,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="timed runs per measure")
    parser.add_argument("--hash-mb", type=int, default=256, help="size of the file hashed")
    parser.add_argument("--scan-files", type=int, default=5000, help="entries in the folder-scan test")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: system temp)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-cache-", dir=args.dir) as tmp:
        result = run(args.frames, Path(tmp), args.hash_mb, args.scan_files)
    frame = result["per_frame"]
    base = frame["baseline_depth_spool"]
    print(f"{result['frame']} ({result['source']}), load {result['machine']['loadavg_1min_at_start']}")
    print(f"  put  median {frame['put']['median_ms']:7.2f} ms  best {frame['put']['best_ms']:7.2f} ms"
          f"   (spool {base['put']['median_ms']:.2f} ms)")
    print(f"  get  median {frame['get']['median_ms']:7.2f} ms  best {frame['get']['best_ms']:7.2f} ms"
          f"   (spool {base['get']['median_ms']:.2f} ms)")
    print(f"  entry {frame['entry_bytes'] / 1e6:.3f} MB ({frame['ratio_vs_float32']:.3f} of float32;"
          f" spool {base['entry_bytes'] / 1e6:.3f} MB)")
    fp = result["media_fingerprint"]
    print(f"  hash {fp['hash_mb_per_s']} MB/s; memo {fp['memo_hit']['median_ms']} ms;"
          f" index {fp['index_hit']['median_ms']} ms")
    sc = result["folder_scan"]
    print(f"  scan of {sc['entries']} entries {sc['scan']['median_ms']} ms; has_all {sc['has_all']['median_ms']} ms")
    write_json_atomic(args.json, result)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
