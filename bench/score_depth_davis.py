"""One-command score of a weights-free depth variant on the DAVIS rollercoaster: flicker, spread, occlusion pairs.

Run: ``python bench/score_depth_davis.py [--set FIELD=VALUE ...] [--export] [--json PATH]``. Prints, for the raw
provider (``WeightsFreeDepth`` with the defaults, or with the ``--set`` overrides: ``prior_fit_rate=0.1``,
``parallax.trust_rate=0.25``) on ../shared/data/mono_videos/davis_rollercoaster.mp4 (frames 0..50, 960 × 540):

- **flicker**: :func:`engine.metrics.depth_flicker.depth_flicker` (mean |δ_t − warp(δ_{t+1})| on flow-consistent
  pixels, δ normalised once over the sequence) over the first ``--flicker-frames`` (40, the docs' figure), of the
  raw maps and of the maps after ``--stabilise align`` (:class:`engine.depth.stabilise.DepthStabiliser`, default
  config, what ``convert`` runs downstream), with :func:`mean_frame_spread` (δ units) beside each;
- **per-frame spread**: the raw map's 98th − 2nd percentile (raw inverse-depth units), its 98th percentile and
  the provider's prior calibration slope after each frame (a near-constant map or a collapsed slope shows here);
- **ordinal pairs right** (tests/fixtures/davis_rollercoaster_ordinal.json, 12 pairs on frames 10/30/50) of the
  raw maps; with ``--export`` also of the depth ``convert --export-depth`` writes (bench/eval_depth_ordinal.py's
  ``exported``: 480 px eyes, about a minute more) and of its flicker.

Timings are CPU seconds of this process (the machine is shared).
"""

from __future__ import annotations

# ruff: noqa: E402  (the repository root goes on sys.path and the OpenMP wait policy is set before any import)
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import ast
import json
import tempfile
import time
from dataclasses import replace

import cv2
import numpy as np

from bench.eval_depth import write_atomic
from engine import api
from engine.depth import DepthConfig, weights_free
from engine.depth.stabilise import DepthStabiliser, StabiliseConfig
from engine.depth.weights_free import WeightsFreeDepth, WeightsFreeSettings
from engine.media import open_media
from engine.metrics.depth_flicker import depth_flicker_many, mean_frame_spread
from tests.support.ordinal import load_ordinal, ordinal_correct

FRAMES = 51  # frames 0..50: every annotated frame
FLICKER_FRAMES = 40
EXPORT_WIDTH = 480  # bench/eval_depth_ordinal.py's eyes


def settings_with(overrides: list[str]) -> WeightsFreeSettings:
    """Defaults with ``FIELD=VALUE`` overrides (Python literals; ``parallax.FIELD`` for the parallax cue)."""
    settings = WeightsFreeSettings()
    for item in overrides:
        key, _, text = item.partition("=")
        value = ast.literal_eval(text)
        if key.startswith("parallax."):
            settings = replace(settings, parallax=replace(settings.parallax, **{key.split(".", 1)[1]: value}))
        else:
            settings = replace(settings, **{key: value})
    return settings


def run_provider(frames: list[np.ndarray], settings: WeightsFreeSettings) -> tuple[list[np.ndarray], list[float]]:
    """Raw maps of `frames` and the provider's calibration slope after each frame."""
    provider = WeightsFreeDepth(DepthConfig(model="weights-free"), settings)
    maps, slopes = [], []
    for depth in provider.estimate(frames):
        maps.append(depth)
        slopes.append(float(provider._fit[0]))
    return maps, slopes


def stabilised(frames: list[np.ndarray], maps: list[np.ndarray]) -> list[np.ndarray]:
    """`maps` after the default ``align`` stabiliser (what ``convert`` applies downstream)."""
    return list(DepthStabiliser("inverse", StabiliseConfig(mode="align")).process(zip(frames, maps, strict=True)))


def exported(media: Path, count: int, settings: WeightsFreeSettings) -> list[np.ndarray]:
    """Nearness maps of frames 0 .. count − 1 as ``convert --export-depth`` writes them (480 px eyes, npy).

    ``convert`` builds its provider with the default settings; for a variant the provider module's
    ``WeightsFreeSettings`` is swapped, for this call only, for a factory returning `settings`.
    """
    factory = weights_free.WeightsFreeSettings
    weights_free.WeightsFreeSettings = lambda: settings  # type: ignore[assignment,misc]
    try:
        return _exported(media, count)
    finally:
        weights_free.WeightsFreeSettings = factory  # type: ignore[misc]


def _exported(media: Path, count: int) -> list[np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        request = api.ConvertRequest(input=media, output=out / "sbs.mp4", max_width=EXPORT_WIDTH, use_cache=False,
                                     end=str(count), export_depth=api.DepthExportSpec(out / "depth", "npy"))
        for _ in api.convert(request):
            pass
        return [np.load(out / "depth" / f"{media.stem}.depth.{f:06d}.npy") for f in range(count)]


def per_frame(maps: list[np.ndarray]) -> list[tuple[float, float]]:
    """(98th − 2nd percentile, 98th percentile) of each raw map."""
    out = []
    for m in maps:
        lo, hi = np.percentile(m, [2.0, 98.0])
        out.append((float(hi - lo), float(hi)))
    return out


def score(settings: WeightsFreeSettings, export: bool, flicker_frames: int) -> dict[str, object]:
    fixture = load_ordinal()
    with open_media(fixture.media) as reader:
        frames = [f.image for f in reader.frames(0, FRAMES)]
    cpu = time.process_time()
    maps, slopes = run_provider(frames, settings)
    provider_cpu = time.process_time() - cpu
    n = min(flicker_frames, len(frames))
    variants = {"raw": maps[:n], "align": stabilised(frames[:n], maps[:n])}
    result: dict[str, object] = {"settings": repr(settings), "provider_version": WeightsFreeDepth.version,
                                 "provider_cpu_s": provider_cpu, "flicker_frames": n}
    flicker = depth_flicker_many(frames[:n], variants, "inverse")
    if export:
        nearness = exported(fixture.media, FRAMES, settings)
        result["ordinal_export"] = ordinal_correct(fixture, {f: nearness[f] for f in fixture.frames})
        size = nearness[0].shape[::-1]
        small = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames[:n]]
        flicker["export"] = depth_flicker_many(small, {"export": nearness[:n]}, "inverse")["export"]
        result["spread_delta_export"] = mean_frame_spread(nearness[:n], "inverse")
    result["flicker"] = flicker
    result["spread_delta"] = {k: mean_frame_spread(v, "inverse") for k, v in variants.items()}
    result["per_frame"] = [{"frame": i, "spread": s, "p98": p, "slope": a}
                           for i, ((s, p), a) in enumerate(zip(per_frame(maps), slopes, strict=True))]
    result["ordinal_raw"] = ordinal_correct(fixture, {f: maps[f] for f in fixture.frames})
    return result


def report(r: dict) -> str:
    spreads = np.array([f["spread"] for f in r["per_frame"]])
    p98 = np.array([f["p98"] for f in r["per_frame"]])
    slopes = np.array([f["slope"] for f in r["per_frame"]])
    worst = int(np.argmin(spreads))
    lines = [
        f"provider v{r['provider_version']}  {r['settings']}",
        f"flicker ({r['flicker_frames']} f, depth_flicker): raw {r['flicker']['raw']:.4f}  "
        f"align {r['flicker']['align']:.4f}   spread δ raw {r['spread_delta']['raw']:.3f} "
        f"align {r['spread_delta']['align']:.3f}",
        *([f"flicker export ({r['flicker_frames']} f): {r['flicker']['export']:.4f}   spread δ "
           f"{r['spread_delta_export']:.3f}"] if "export" in r["flicker"] else []),
        f"raw spread p98-p2: min {spreads.min():.4f} (frame {worst})  median {np.median(spreads):.4f}  "
        f"max {spreads.max():.4f};  p98 min {p98.min():.3f} max {p98.max():.3f};  slope min {slopes.min():.4f} "
        f"(frame {int(np.argmin(slopes))}) max {slopes.max():.4f}",
        "spread by frame: " + " ".join(f"{s:.2f}" for s in spreads),
        "p98 by frame:    " + " ".join(f"{p:.2f}" for p in p98),
        "slope by frame:  " + " ".join(f"{a:.2f}" for a in slopes),
        "ordinal raw:    " + "".join("✓" if ok else "✗" for ok in r["ordinal_raw"]) + f"  {sum(r['ordinal_raw'])}/12",
    ]
    if "ordinal_export" in r:
        lines.append("ordinal export: " + "".join("✓" if ok else "✗" for ok in r["ordinal_export"])
                     + f"  {sum(r['ordinal_export'])}/12")
    lines.append(f"provider CPU {r['provider_cpu_s']:.1f} s for {len(r['per_frame'])} frames")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a WeightsFreeSettings field (repeatable; parallax.FIELD for the cue)")
    parser.add_argument("--export", action="store_true", help="also score the depth convert --export-depth writes")
    parser.add_argument("--flicker-frames", type=int, default=FLICKER_FRAMES)
    parser.add_argument("--json", type=Path, help="write the full result here")
    args = parser.parse_args()
    if not load_ordinal().media.exists():
        sys.exit("davis_rollercoaster.mp4: shared data not found (see ../shared/data/README.md)")
    result = score(settings_with(args.set), args.export, args.flicker_frames)
    result["load_avg"] = os.getloadavg()
    print(report(result))
    if args.json:
        write_atomic(args.json, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
