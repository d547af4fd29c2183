"""Benchmark the depth cache: write and read per 1080p depth frame, entry size, key costs, eviction scan.

    python bench/bench_cache.py [--frames 30] [--dir /scratch] [--json bench/results/cache.json]
    python bench/bench_cache.py --codecs /tmp/maps [--frames 3]   # codec variants on real maps

``--codecs DIR`` compares payload codecs (CPU ms to encode and decode, bytes) on the weights-free
provider's maps of DAVIS rollercoaster frames (stabilised, as convert's depth pass stores them) at
1920x1080 and at the clip's native 960x540, saved in DIR as .npy the first time (they are inputs,
not part of the repository). CPU time is the calling thread's (time.thread_time), best of --frames
runs per map, median over the maps: other work on the machine skews wall time, less so CPU time.

The depth frame is the weights-free provider's output on a DAVIS frame upscaled to 1920x1080
(real provider output: continuous values, soft edges) when ../shared/data is present, else a
synthetic smooth map; the JSON says which. "put" is CacheNamespace.put (float16 cast, codec, temp
file + rename, LRU accounting); "get" is CacheNamespace.get of an entry in the OS page cache (the
studio scrubbing back over frames it just saw): read, decode to float32, mark as used. The depth
spool (the same entry format, plain file writes, no LRU) is timed beside it as the baseline. Medians and
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
import zlib
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
CODECS_JSON = ROOT / "bench" / "results" / "cache_codecs.json"
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


MAP_SIZES = ((1920, 1080), (960, 540))
MAP_FRAMES = range(0, 40, 4)


def make_maps(folder: Path) -> list[Path]:
    """Save the weights-free provider's stabilised maps of DAVIS frames 0, 4 .. 36 at MAP_SIZES in `folder`."""
    import av
    import cv2

    from engine.depth.protocol import DepthConfig
    from engine.depth.registry import create_provider
    from engine.depth.stabilise import DepthStabiliser, paired_estimates

    folder.mkdir(parents=True, exist_ok=True)
    with av.open(str(DAVIS)) as container:
        clip = [f.to_ndarray(format="rgb24") for _, f in zip(range(MAP_FRAMES.stop), container.decode(video=0),
                                                              strict=False)]
    paths = []
    for width, height in MAP_SIZES:
        provider = create_provider(DepthConfig(model="weights-free"))
        stabiliser = DepthStabiliser(provider.output_kind)
        frames = [f if f.shape[:2] == (height, width) else cv2.resize(f, (width, height)) for f in clip]
        maps = list(stabiliser.process(paired_estimates(provider, iter(frames))))
        for k in MAP_FRAMES:
            paths.append(folder / f"map_{width}x{height}_{k:02d}.npy")
            np.save(paths[-1], np.ascontiguousarray(maps[k], np.float32))
    return paths


def cpu_ms(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """(best CPU milliseconds of the calling thread over `runs` calls of fn, its last result)."""
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.thread_time()
        result = fn()
        best = min(best, time.thread_time() - start)
    return best * 1e3, result


def _deflate(level: int, strategy: int) -> Callable[[bytes], bytes]:
    def compress(data: bytes) -> bytes:
        engine = zlib.compressobj(level, zlib.DEFLATED, 15, 8, strategy)
        return engine.compress(data) + engine.flush()
    return compress


def _planes(delta: np.ndarray) -> bytes:
    return delta.view(np.uint8).reshape(-1, 2).T.tobytes()


def _delta_rows(bits: np.ndarray) -> bytes:  # the current codec's transform: differences down axis 0
    delta = np.empty_like(bits)
    delta[:1] = bits[:1]
    np.subtract(bits[1:], bits[:-1], out=delta[1:])
    return _planes(delta)


def _delta_cols(bits: np.ndarray) -> bytes:  # differences along each row
    delta = np.empty_like(bits)
    delta[:, :1] = bits[:, :1]
    np.subtract(bits[:, 1:], bits[:, :-1], out=delta[:, 1:])
    return _planes(delta)


def _gradient(bits: np.ndarray) -> bytes:  # residual of the a + b - c (left + up - up-left) predictor
    cols = np.zeros_like(bits)
    cols[:, :1] = bits[:, :1]
    np.subtract(bits[:, 1:], bits[:, :-1], out=cols[:, 1:])
    delta = np.empty_like(cols)
    delta[:1] = cols[:1]
    np.subtract(cols[1:], cols[:-1], out=delta[1:])
    return _planes(delta)


TRANSFORMS = {"delta0": _delta_rows, "delta1": _delta_cols, "grad": _gradient}
DEFLATES = {f"zlib{level}": _deflate(level, zlib.Z_DEFAULT_STRATEGY) for level in (1, 2, 3, 6)} | {
    "zlib1-rle": _deflate(1, zlib.Z_RLE), "zlib1-huffman": _deflate(1, zlib.Z_HUFFMAN_ONLY),
    "zlib1-filtered": _deflate(1, zlib.Z_FILTERED)}


def bench_codecs(paths: list[Path], runs: int) -> dict[str, object]:
    """Per map size: the entry codec (prepare, pack, decode), the version-1 entry (the zlib codec, as builds
    before the gradient codec wrote it) and zlib variants on float16 bit patterns."""
    from engine.cache import codec

    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(path.stem.split("_")[1], []).append(path)
    result: dict[str, object] = {}
    for size, files in groups.items():
        rows: dict[str, list[tuple[float, ...]]] = {}
        for path in files:
            depth = np.load(path)
            prep_ms, (values, out) = cpu_ms(lambda d=depth: codec.prepare(d), runs)
            pack_ms, entry = cpu_ms(lambda v=values, o=out: codec.pack(v, o), runs)
            dec_ms, back = cpu_ms(lambda e=entry: codec.decode(e), runs)
            assert np.array_equal(back, values.astype(out), equal_nan=True)
            name = codec._read_header(memoryview(entry))[0]["codec"]
            rows.setdefault(f"entry ({name})", []).append((prep_ms, pack_ms, dec_ms, len(entry)))
            fused_ms, _ = cpu_ms(lambda d=depth: codec.prepare_rounded(d), runs)
            with np.errstate(over="ignore", invalid="ignore"):
                numpy_ms, _ = cpu_ms(lambda d=depth: codec._to_stored(d, np.dtype("<f2")).astype(np.float32), runs)
            rows.setdefault("prepare_rounded (cols: numpy | fused)", []).append(
                (numpy_ms, fused_ms, 0.0, 0))
            v1_ms, v1 = cpu_ms(lambda v=values, o=out: codec.pack(v, o, zlib_only=True), runs)
            v1_dec_ms, _ = cpu_ms(lambda e=v1: codec.decode(e), runs)
            rows.setdefault("entry v1 (delta0-shuffle-zlib1)", []).append((prep_ms, v1_ms, v1_dec_ms, len(v1)))
            bits = values.view(np.uint16)
            for tname, transform in TRANSFORMS.items():
                form_ms, raw = cpu_ms(lambda b=bits, t=transform: t(b), runs)
                for zname, deflate in DEFLATES.items():
                    z_ms, blob = cpu_ms(lambda r=raw, z=deflate: z(r), runs)
                    inflate_ms, _ = cpu_ms(lambda b=blob: zlib.decompress(b), runs)
                    rows.setdefault(f"{tname}-shuffle-{zname}", []).append(
                        (prep_ms, form_ms + z_ms, inflate_ms, len(blob)))
        result[size] = {name: {"prepare_ms": round(statistics.median(r[0] for r in v), 2),
                               "encode_ms": round(statistics.median(r[1] for r in v), 2),
                               "decode_ms": round(statistics.median(r[2] for r in v), 2),
                               "bytes": int(statistics.median(r[3] for r in v))}
                        for name, v in rows.items()}
        result[size]["maps"] = len(files)
    return result


def print_codecs(result: dict[str, object]) -> None:
    for size, rows in result.items():
        if not isinstance(rows, dict):
            continue
        print(f"{size} ({rows['maps']} maps): prepare | encode | decode  CPU ms (decode of zlib variants:"
              " inflate only) | KB")
        for name, row in rows.items():
            if name != "maps":
                print(f"  {name:34} {row['prepare_ms']:6.1f} | {row['encode_ms']:6.1f} | {row['decode_ms']:6.1f}"
                      f" | {row['bytes'] / 1e3:7.0f}")


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
        spool_bytes = next(workdir.glob("spatialdreamer-depth-*/00000000.sdc")).stat().st_size
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
    parser.add_argument("--json", type=Path, default=None,
                        help=f"where to write the results (default {DEFAULT_JSON.name}, --codecs: {CODECS_JSON.name})")
    parser.add_argument("--codecs", type=Path, default=None, metavar="DIR",
                        help="only compare payload codecs on real maps saved in DIR (made there when missing)")
    args = parser.parse_args(argv)
    if args.codecs is not None:
        paths = sorted(args.codecs.glob("map_*.npy")) or make_maps(args.codecs)
        load = os.getloadavg()[0]
        result = {"schema": "BenchCacheCodecs.1", "source": "weights-free, stabilised, DAVIS rollercoaster",
                  "runs": args.frames, "sizes": bench_codecs(paths, args.frames),
                  "machine": {"cpu_count": os.cpu_count(), "loadavg_1min_at_start": round(load, 2),
                              "loadavg_1min_at_end": round(os.getloadavg()[0], 2)}}
        print_codecs(result["sizes"])
        print(f"load {result['machine']['loadavg_1min_at_start']} -> {result['machine']['loadavg_1min_at_end']}")
        write_json_atomic(args.json or CODECS_JSON, result)
        return 0
    args.json = args.json or DEFAULT_JSON
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
