"""View synthesis on real stereo pairs under issue #17's scored protocol, against forward-fill.

Writes bench/results/view_synthesis.json, the tables of docs/view_synthesis.md and the summary table
in README.md (each between its markers).

Run: ``python bench/eval_view_synthesis.py [--quick]`` (about 15 minutes on 2 cores; ``--quick``
skips the leave-one-out grid). Data: ../shared/data (Middlebury 2001/2003) and scikit-image's
Middlebury 2014 Motorcycle; nothing else is fetched.

Protocol (tests/support/stereo_protocol.py, the same code the tests use): the left view and its
ground-truth disparity, unknown values pre-filled from the farther known neighbour in the row, go
through ``spatialdreamer convert LEFT.png --depth d.npy --depth-kind disparity-px --synthesize right
--layout sbs-full -o x.png`` (here ``api.convert`` with that request); the right half is scored
against the real right view by PSNR/SSIM on 8-bit RGB, leaving out the right-most ceil(max d) + 1
columns. Forward-fill is the classic baseline (nearest-pixel z-buffered warp, holes from the farther
side).

Tables:

* per pair: forward-fill, the engine before this work (``SynthesisConfig.classic()``) and now;
* resampling alone: PSNR over the pixels every method covers (no fill involved) for a nearest
  forward warp, a two-tap depth-ordered splat like iw3's, a bilinear splat (soft z-buffer), the
  mesh splat (linear), and the mesh with Catmull-Rom or Lanczos-3 re-sampling;
* ablation: the steps of :mod:`engine.ops.synthesis` added one at a time;
* leave-one-out: the defaults' parameters (kernel, halo, edge blend, fill) picked on four pairs
  and scored on the fifth, for each pair.
"""

from __future__ import annotations

# ruff: noqa: E402  (the repository root goes on sys.path and the OpenMP wait policy is set before any import)
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as engine/__init__.py: before numba and torch start

import argparse
import json
import tempfile
import time
from dataclasses import asdict, replace
from itertools import product

import cv2
import numpy as np
import torch

from bench.eval_depth import replace_block, write_atomic
from engine import api
from engine.jobs.convert import to_image, to_tensor
from engine.ops import render_views
from engine.ops.splat import splat_with_disparity
from engine.ops.synthesis import SynthesisConfig
from tests.support.stereo_protocol import (
    PAIRS,
    crop_columns,
    forward_fill,
    load_pair,
    prefill_unknown,
    score,
)

RESULTS = ROOT / "bench" / "results" / "view_synthesis.json"
DOC = ROOT / "docs" / "view_synthesis.md"
README = ROOT / "README.md"
SCHEMA = "ViewSynthesisEval.1"
GRID = {
    "kernel": ("cubic", "lanczos3"),
    "halo_px": (0, 1, 2),
    "edge_blend": (0.0, 0.15, 0.25, 0.35),
    "fill": ("diffuse", "texture@0.3", "texture@0.5"),
}


# ----------------------------------------------------------------------------------------- rendering


def render_right(left: np.ndarray, disp: np.ndarray, config: SynthesisConfig) -> np.ndarray:
    """The engine's right view of `left` (uint8) by `disp` (prefilled) with `config`, as `convert` writes it."""
    views = render_views(to_tensor(left, torch.device("cpu")), torch.from_numpy(disp)[None, None], "right",
                         synthesis=config)
    return to_image(views.right, 8)


def convert_protocol(left: np.ndarray, disp: np.ndarray, tmp: Path, name: str) -> np.ndarray:
    """The scored command itself (`api.convert`, defaults): the right half of the sbs-full PNG."""
    left_png, depth_npy, out_png = tmp / f"{name}_L.png", tmp / f"{name}_d.npy", tmp / f"{name}_sbs.png"
    cv2.imwrite(str(left_png), cv2.cvtColor(left, cv2.COLOR_RGB2BGR))
    np.save(depth_npy, disp)
    request = api.ConvertRequest(input=left_png, output=out_png, layout="sbs-full", synthesize="right",
                                 depth=api.ImportedDepthSpec(depth_npy, "disparity-px"), overwrite=True,
                                 use_cache=False)
    for _ in api.convert(request):
        pass
    sbs = cv2.cvtColor(cv2.imread(str(out_png), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(sbs[:, left.shape[1]:])


def config_from(point: dict[str, object]) -> SynthesisConfig:
    fill = str(point["fill"])
    weight = 0.3
    if fill.startswith("texture@"):
        fill, weight = "texture", float(fill.split("@")[1])
    return SynthesisConfig(kernel=str(point["kernel"]), halo_px=int(point["halo_px"]),
                           edge_blend=float(point["edge_blend"]), fill=fill, texture_weight=weight)


def point_of(config: SynthesisConfig) -> dict[str, object]:
    fill = config.fill if config.fill != "texture" else f"texture@{config.texture_weight:g}"
    return {"kernel": config.kernel, "halo_px": config.halo_px, "edge_blend": config.edge_blend, "fill": fill}


# ------------------------------------------------------------------------------------ resampling only


def two_tap_splat(left: np.ndarray, disp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """iw3-style depth-ordered two-tap splat: each pixel writes its floor and ceil targets, nearer last.

    Returns the view (H, W, 3) float and its coverage mask (H, W) bool.
    """
    h, w, _ = left.shape
    out, covered = np.zeros(left.shape, np.float64), np.zeros((h, w), bool)
    for y in range(h):
        t = np.arange(w) - disp[y].astype(np.float64)
        order = np.argsort(disp[y], kind="stable")
        lo = np.floor(t).astype(np.int64)
        frac = np.clip(t - lo, 1e-5, 1 - 1e-5)
        taps = []
        for target, weight in ((lo, 1 - frac), (lo + 1, frac)):
            colour, wsum = np.zeros((w, 3)), np.zeros(w)
            sel = order[(target[order] >= 0) & (target[order] < w)]
            colour[target[sel]] = left[y, sel]
            wsum[target[sel]] = weight[sel]
            taps.append((colour, wsum))
        total = taps[0][1] + taps[1][1]
        ok = total > 0
        out[y, ok] = ((taps[0][0] * taps[0][1][:, None] + taps[1][0] * taps[1][1][:, None])[ok]
                      / total[ok, None])
        covered[y] = ok
    return out, covered


def bilinear_splat(left: np.ndarray, disp: np.ndarray, tol: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Soft z-buffer bilinear splat: contributions within `tol` px of the front-most disparity are averaged."""
    h, w, _ = left.shape
    out, covered = np.zeros(left.shape, np.float64), np.zeros((h, w), bool)
    for y in range(h):
        t = np.arange(w) - disp[y].astype(np.float64)
        lo = np.floor(t).astype(np.int64)
        frac = t - lo
        front = np.full(w, -np.inf)
        for target in (lo, lo + 1):
            ok = (target >= 0) & (target < w)
            np.maximum.at(front, target[ok], disp[y][ok])
        colour, wsum = np.zeros((w, 3)), np.zeros(w)
        for target, weight in ((lo, 1 - frac), (lo + 1, frac)):
            ok = (target >= 0) & (target < w)
            ok[ok] &= disp[y][ok] >= front[target[ok]] - tol
            np.add.at(colour, target[ok], left[y][ok] * weight[ok, None])
            np.add.at(wsum, target[ok], weight[ok])
        have = wsum > 1e-6
        out[y, have] = colour[have] / wsum[have, None]
        covered[y] = have
    return out, covered


def nearest_warp(left: np.ndarray, disp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward-fill before its hole fill: the view and the covered pixels."""
    h, w, _ = left.shape
    out, covered = np.zeros(left.shape, np.float64), np.zeros((h, w), bool)
    for y in range(h):
        target = np.floor(np.arange(w) - disp[y].astype(np.float64) + 0.5).astype(np.int64)
        order = np.lexsort((np.arange(w), disp[y]))
        order = order[(target[order] >= 0) & (target[order] < w)]
        out[y, target[order]] = left[y, order]
        covered[y, target[order]] = True
    return out, covered


def mesh_views(left: np.ndarray, disp: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The engine's mesh splat with each resampling kernel, before any hole handling."""
    from engine.ops.resample import sharpen_resample

    image = to_tensor(left, torch.device("cpu"))
    d = torch.from_numpy(disp)[None, None]
    view, holes, dt = splat_with_disparity(image, d, 1.0)
    out = {}
    for kernel in ("linear", "cubic", "lanczos3"):
        v = sharpen_resample(view, holes, image, d, dt, 1.0, kernel)
        out[kernel] = (v[0].permute(1, 2, 0).numpy().astype(np.float64) * 255.0, ~holes[0, 0].numpy())
    return out


def resampling_rows(pairs: dict[str, tuple]) -> list[dict[str, object]]:
    """PSNR of each resampling method over the pixels all of them cover (8-bit, the protocol's crop)."""
    rows = []
    for name, (left, right, disp) in pairs.items():
        methods = {"nearest (forward warp)": nearest_warp(left, disp),
                   "two-tap splat (iw3-style)": two_tap_splat(left, disp),
                   "bilinear splat (soft z-buffer)": bilinear_splat(left, disp)}
        mesh = mesh_views(left, disp)
        methods.update({"mesh splat (linear)": mesh["linear"], "mesh + Catmull-Rom": mesh["cubic"],
                        "mesh + Lanczos-3": mesh["lanczos3"]})
        common = np.logical_and.reduce([m[1] for m in methods.values()])
        common[:, right.shape[1] - crop_columns(disp):] = False
        row: dict[str, object] = {"pair": name, "common_share": float(common.mean())}
        for label, (view, _) in methods.items():
            err = (np.clip(np.floor(view + 0.5), 0, 255) - right.astype(np.float64)) ** 2
            row[label] = float(10 * np.log10(255.0**2 / err[common].mean()))
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------- evaluations


def evaluate_config(pairs: dict[str, tuple], baselines: dict[str, tuple[float, float]],
                    config: SynthesisConfig) -> dict[str, dict[str, float]]:
    out = {}
    for name, (left, right, disp) in pairs.items():
        psnr, ssim = score(render_right(left, disp, config), right, crop_columns(disp))
        out[name] = {"psnr": psnr, "ssim": ssim, "dpsnr": psnr - baselines[name][0],
                     "dssim": ssim - baselines[name][1]}
    return out


def ablation(pairs, baselines) -> list[dict[str, object]]:
    steps = [("classic (before): linear mesh, row fill", SynthesisConfig.classic()),
             ("+ Lanczos-3 resampling", replace(SynthesisConfig.classic(), kernel="lanczos3")),
             ("+ 1 px background halo", replace(SynthesisConfig.classic(), kernel="lanczos3", halo_px=1)),
             ("+ membrane fill from the background",
              replace(SynthesisConfig(), edge_blend=0.0)),
             ("+ anti-aliased layer edges (defaults)", SynthesisConfig()),
             ("+ PatchMatch texture (30 %)", replace(SynthesisConfig(), fill="texture"))]
    rows = []
    for label, config in steps:
        res = evaluate_config(pairs, baselines, config)
        rows.append({"step": label, "config": point_of(config), **{n: res[n]["dpsnr"] for n in res},
                     "mean": float(np.mean([r["dpsnr"] for r in res.values()]))})
    return rows


def leave_one_out(pairs, baselines) -> dict[str, object]:
    """Every grid point on every pair; per held-out pair, the point best on the other four."""
    points = [dict(zip(GRID, values, strict=True)) for values in product(*GRID.values())]
    names = list(pairs)
    table = np.zeros((len(points), len(names)))
    for i, point in enumerate(points):
        res = evaluate_config(pairs, baselines, config_from(point))
        table[i] = [res[n]["dpsnr"] for n in names]
    held = []
    for j, name in enumerate(names):
        pick = int(np.argmax(np.delete(table, j, axis=1).mean(axis=1)))
        held.append({"pair": name, "chosen": points[pick], "dpsnr": float(table[pick, j])})
    best = int(np.argmax(table.mean(axis=1)))
    return {"held_out": held, "held_out_mean": float(np.mean([h["dpsnr"] for h in held])),
            "global_best": points[best], "global_best_mean": float(table[best].mean()),
            "defaults": point_of(SynthesisConfig()),
            "defaults_mean": float(table[points.index(point_of(SynthesisConfig()))].mean())
            if point_of(SynthesisConfig()) in points else None,
            "grid": [{"point": p, "dpsnr": dict(zip(names, map(float, row), strict=True))}
                     for p, row in zip(points, table, strict=True)]}


# -------------------------------------------------------------------------------------------- report


def protocol_table(rows: list[dict[str, object]]) -> str:
    lines = ["| pair | size | holes % | forward-fill PSNR / SSIM | before (classic) PSNR / SSIM | **now** PSNR / SSIM "
             "| now − forward-fill |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['pair']} | {r['size']} | {r['holes']:.1f} | {r['ff_psnr']:.2f} / {r['ff_ssim']:.4f} "
                     f"| {r['classic_psnr']:.2f} / {r['classic_ssim']:.4f} | **{r['psnr']:.2f} / {r['ssim']:.4f}** "
                     f"| {r['psnr'] - r['ff_psnr']:+.2f} dB / {r['ssim'] - r['ff_ssim']:+.4f} |")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("ff_psnr", "ff_ssim", "classic_psnr",
                                                                "classic_ssim", "psnr", "ssim")}
    lines.append(f"| **mean** | | | {mean['ff_psnr']:.2f} / {mean['ff_ssim']:.4f} | {mean['classic_psnr']:.2f} / "
                 f"{mean['classic_ssim']:.4f} | **{mean['psnr']:.2f} / {mean['ssim']:.4f}** | "
                 f"**{mean['psnr'] - mean['ff_psnr']:+.2f} dB** / {mean['ssim'] - mean['ff_ssim']:+.4f} |")
    return "\n".join(lines)


def resampling_table(rows: list[dict[str, object]]) -> str:
    methods = [k for k in rows[0] if k not in ("pair", "common_share")]
    lines = ["| pair | covered by all | " + " | ".join(methods) + " |", "|---|---:|" + "---:|" * len(methods)]
    for r in rows:
        lines.append(f"| {r['pair']} | {r['common_share']:.0%} | " + " | ".join(f"{r[m]:.2f}" for m in methods)
                     + " |")
    lines.append("| **mean** | | " + " | ".join(f"{np.mean([r[m] for r in rows]):.2f}" for m in methods) + " |")
    return "\n".join(lines)


def ablation_table(rows: list[dict[str, object]], names: list[str]) -> str:
    lines = ["| step | " + " | ".join(names) + " | mean |", "|---|" + "---:|" * (len(names) + 1)]
    for r in rows:
        lines.append(f"| {r['step']} | " + " | ".join(f"{r[n]:+.2f}" for n in names) + f" | {r['mean']:+.2f} |")
    return "\n".join(lines)


def loo_table(loo: dict[str, object]) -> str:
    lines = ["| held-out pair | chosen on the other four (kernel, halo, edge blend, fill) | ΔPSNR vs forward-fill |",
             "|---|---|---:|"]
    for h in loo["held_out"]:  # type: ignore[union-attr]
        c = h["chosen"]
        lines.append(f"| {h['pair']} | {c['kernel']}, {c['halo_px']} px, {c['edge_blend']:g}, {c['fill']} "
                     f"| {h['dpsnr']:+.2f} dB |")
    g = loo["global_best"]
    lines.append(f"| **mean of held-out** | | **{loo['held_out_mean']:+.2f} dB** |")
    lines.append(f"| one set for all five | {g['kernel']}, {g['halo_px']} px, {g['edge_blend']:g}, {g['fill']} "
                 f"| {loo['global_best_mean']:+.2f} dB |")
    return "\n".join(lines)


def provenance() -> dict[str, object]:
    return {"load_avg_start": os.getloadavg(), "cpus": os.cpu_count(), "torch": torch.__version__,
            "time": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the leave-one-out grid")
    args = parser.parse_args()
    started, info = time.perf_counter(), provenance()
    try:
        raw = {name: load_pair(name) for name in PAIRS}
    except FileNotFoundError as exc:
        sys.exit(f"{exc}: shared data not found (see ../shared/data/README.md)")
    pairs = {n: (left, right, prefill_unknown(d)) for n, (left, right, d) in raw.items()}
    baselines = {n: score(forward_fill(left, d), right, crop_columns(d)) for n, (left, right, d) in pairs.items()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (left, right, disp) in pairs.items():
            ours = convert_protocol(left, disp, Path(tmp), name)
            assert np.array_equal(ours, render_right(left, disp, SynthesisConfig())), "convert != render_views"
            classic = score(render_right(left, disp, SynthesisConfig.classic()), right, crop_columns(disp))
            psnr, ssim = score(ours, right, crop_columns(disp))
            holes = render_views(to_tensor(left, torch.device("cpu")), torch.from_numpy(disp)[None, None], "right",
                                 synthesis=SynthesisConfig.classic()).right_holes
            rows.append({"pair": name, "size": f"{left.shape[1]}x{left.shape[0]}",
                         "holes": 100.0 * float(holes.float().mean()), "crop": crop_columns(disp),
                         "ff_psnr": baselines[name][0], "ff_ssim": baselines[name][1],
                         "classic_psnr": classic[0], "classic_ssim": classic[1], "psnr": psnr, "ssim": ssim})
    resampling = resampling_rows(pairs)
    steps = ablation(pairs, baselines)
    loo = None if args.quick else leave_one_out(pairs, baselines)
    payload = {"schema": SCHEMA, "defaults": asdict(SynthesisConfig()), "protocol": rows,
               "resampling": resampling, "ablation": steps, "leave_one_out": loo,
               "seconds": time.perf_counter() - started, **info}
    write_atomic(RESULTS, json.dumps(payload, indent=2) + "\n")
    names = list(pairs)
    summary = protocol_table(rows)
    doc = "\n\n".join([
        "### Per pair (the scored protocol, `convert` defaults)", summary,
        "### Resampling alone (PSNR over the pixels every method covers, no fill involved)",
        resampling_table(resampling),
        "### Ablation (ΔPSNR vs forward-fill, dB; each step adds to the one above)", ablation_table(steps, names)]
        + ([] if loo is None else ["### Leave-one-out (the grid of `GRID` in the script)", loo_table(loo)])
        + [f"Measured {info['time']}, load average at start {info['load_avg_start'][0]:.1f} on "
           f"{info['cpus']} cores; {payload['seconds'] / 60:.1f} min."])
    replace_block(DOC, "tables", doc)
    replace_block(README, "view-synthesis", summary)
    print(doc)


if __name__ == "__main__":
    main()
