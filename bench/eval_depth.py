"""Evaluate the weights-free depth provider on real data.

Writes bench/results/depth_eval.json and the tables of docs/depth_eval.md (between its markers).

Run: ``python bench/eval_depth.py`` (about two minutes on 2 cores). Data: ``../shared/data`` (see its README).

Protocol (MiDaS, Ranftl et al.): the prediction is aligned to the ground-truth
disparity by least-squares scale and shift over valid pixels, in disparity
(inverse-depth) space; then AbsRel = mean |pred − gt| / gt and δ<1.25 = share of
pixels with max(pred/gt, gt/pred) < 1.25 (aligned predictions are clamped at
1e-3 × max gt). Spearman rank correlation needs no alignment. One parameter set
for everything (the defaults); a constant map scores Spearman 0 by definition.

The defaults of the layering cue are chosen on the five stills from a small grid
(``LAYERING_GRID``); the honest figure for that choice is leave-one-out: for each
still, pick the grid point with the best mean Spearman on the other four and score
it on the held-out one. ``eval_candidate_cues`` scores every single-image cue that
was tried, alone and added to the layering cue (weight chosen leave-one-out too).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from itertools import product
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.depth import DepthConfig  # noqa: E402
from engine.depth.cues.layering import boundary_strength, geodesic_from_top, layering_prior  # noqa: E402
from engine.depth.cues.priors import ground_contact  # noqa: E402
from engine.depth.normalise import ShotNormaliser  # noqa: E402
from engine.depth.weights_free import WeightsFreeDepth, WeightsFreeSettings  # noqa: E402
from engine.flow import FlowConfig, FlowEstimator, fb_confidence, to_gray, warp_backward, working_size  # noqa: E402
from engine.media import open_media  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
MIDDLEBURY = DATA / "stereo_pairs" / "middlebury_2001_2003"
EUROC = DATA / "stereo_video" / "euroc_v1_01"
DAVIS = DATA / "mono_videos" / "davis_rollercoaster.mp4"
STILLS = [("tsukuba", "im3.png", "im4.png", "disp3.pgm", 16), ("venus", "im2.png", "im6.png", "disp2.pgm", 8),
          ("teddy", "im2.png", "im6.png", "disp2.png", 4), ("cones", "im2.png", "im6.png", "disp2.png", 4)]
#: global parameters of the single-image prior searched (leave-one-out) on the stills
LAYERING_GRID = {"layering_weight": (0.0, 0.25, 0.5, 0.75, 1.0), "layering_sigma": (1.5, 3.0)}
#: weights tried for a candidate cue added to the layering cue
CANDIDATE_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
SINGLE = WeightsFreeSettings(use_parallax=False)
#: the provider before the layering cue (version 1): ground contact only, no smoothing of the prior
#: (and no colour confidence, version 7)
GROUND_ONLY = WeightsFreeSettings(layering_weight=0.0, prior_rate=1.0, vertical_weight=0.0, chroma_full=0.0)
GROUND_ONLY_SINGLE = replace(GROUND_ONLY, use_parallax=False)


# ---------------------------------------------------------------------------------------------- metrics


def align_and_score(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """MiDaS protocol on valid pixels (gt finite and > 0): AbsRel, δ<1.25 after LSQ scale+shift; Spearman."""
    valid = np.isfinite(gt) & (gt > 0) & np.isfinite(pred)
    p, g = pred[valid].astype(np.float64), gt[valid].astype(np.float64)
    design = np.stack([p, np.ones_like(p)], axis=1)
    (scale, shift), *_ = np.linalg.lstsq(design, g, rcond=None)
    aligned = np.maximum(scale * p + shift, 1e-3 * g.max())
    rho = 0.0 if np.ptp(p) == 0 else float(spearmanr(p, g).statistic)
    return {"absrel": float(np.mean(np.abs(aligned - g) / g)),
            "delta1": float(np.mean(np.maximum(aligned / g, g / aligned) < 1.25)), "spearman": rho}


def constant_map(h: int, w: int) -> np.ndarray:
    return np.zeros((h, w), np.float32)


def vertical_map(h: int, w: int) -> np.ndarray:
    """Baseline: disparity increasing linearly downwards."""
    return np.repeat(np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None], w, axis=1)


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


# ------------------------------------------------------------------------------------------------ data


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def load_stills() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, left RGB, right RGB, GT disparity of the left view with NaN unknown)."""
    import skimage.data

    out = []
    for name, left, right, gt, scale in STILLS:
        disp = cv2.imread(str(MIDDLEBURY / name / gt), cv2.IMREAD_UNCHANGED).astype(np.float32) / scale
        disp[disp == 0] = np.nan
        out.append((name, rgb(MIDDLEBURY / name / left), rgb(MIDDLEBURY / name / right), disp))
    left, right, disp = skimage.data.stereo_motorcycle()
    disp = disp.astype(np.float32)
    disp[~np.isfinite(disp)] = np.nan
    out.append(("motorcycle", left, right, disp))
    return out


def read_video(path: Path) -> list[np.ndarray]:
    with open_media(path) as reader:
        return [f.image for f in reader.frames()]


def _yaml_list(text: str, key: str) -> np.ndarray:
    match = re.search(key + r":\s*(?:\n\s*cols:.*\n\s*rows:.*\n\s*data:)?\s*\[([^\]]*)\]", text)
    if match is None:
        raise ValueError(f"{key} not found")
    return np.array([float(v) for v in match.group(1).replace("\n", " ").split(",")])


def _euroc_camera(index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    text = (EUROC / f"cam{index}_sensor.yaml").read_text()
    fu, fv, cu, cv = _yaml_list(text, "intrinsics")
    k = np.array([[fu, 0.0, cu], [0.0, fv, cv], [0.0, 0.0, 1.0]])
    distortion = _yaml_list(text, "distortion_coefficients").reshape(1, -1)
    return k, distortion, _yaml_list(text, "T_BS").reshape(4, 4)


def load_euroc() -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Rectified left and right RGB frames, and SGBM disparity of the left view (NaN unknown)."""
    k0, d0, t0 = _euroc_camera(0)
    k1, d1, t1 = _euroc_camera(1)
    t10 = np.linalg.inv(t1) @ t0  # cam0 -> cam1
    size = (752, 480)
    r0, r1, p0, p1, *_ = cv2.stereoRectify(k0, d0, k1, d1, size, t10[:3, :3].copy(), t10[:3, 3:].copy(),
                                           flags=cv2.CALIB_ZERO_DISPARITY, alpha=0)
    maps = [cv2.initUndistortRectifyMap(k, d, r, p, size, cv2.CV_32FC1)
            for k, d, r, p in ((k0, d0, r0, p0), (k1, d1, r1, p1))]
    left, right = ([cv2.remap(f, *m, cv2.INTER_LINEAR) for f in read_video(EUROC / name)]
                   for m, name in zip(maps, ("euroc_V1_01_cam0_left_95f_20fps.mp4",
                                             "euroc_V1_01_cam1_right_95f_20fps.mp4"), strict=True))
    sgbm = cv2.StereoSGBM_create(minDisparity=0, numDisparities=64, blockSize=5, P1=8 * 25, P2=32 * 25,
                                 disp12MaxDiff=1, uniquenessRatio=10, speckleWindowSize=100, speckleRange=2,
                                 mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    gts = []
    for a, b in zip(left, right, strict=True):
        d = sgbm.compute(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY))
        d = d.astype(np.float32) / 16.0
        d[d <= 0] = np.nan
        gts.append(d)
    return left, right, gts



# ------------------------------------------------------------------------------------------- providers


def provider(settings: WeightsFreeSettings | None = None) -> WeightsFreeDepth:
    return WeightsFreeDepth(DepthConfig(model="weights-free"), settings)


def still_depth(image: np.ndarray, settings: WeightsFreeSettings | None = None) -> np.ndarray:
    return next(provider(settings).estimate([image]))


def motion_depth(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The stereo pair as a 2-frame clip (the camera translates by the baseline): depth of frame 0."""
    return next(provider().estimate([left, right]))


# ----------------------------------------------------------------------------------------- evaluations

Stills = list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]


def eval_stills(stills: Stills) -> dict[str, dict[str, dict[str, float]]]:
    methods: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "constant": lambda a, b: constant_map(*a.shape[:2]),
        "vertical gradient": lambda a, b: vertical_map(*a.shape[:2]),
        "weights-free v1, ground contact (single image)": lambda a, b: still_depth(a, GROUND_ONLY_SINGLE),
        "weights-free (single image)": lambda a, b: still_depth(a),
        "weights-free (pair as 2-frame motion)": motion_depth,
    }
    return {name: {m: align_and_score(fn(left, right), gt) for m, fn in methods.items()}
            for name, left, right, gt in stills}


def grid_label(settings: WeightsFreeSettings) -> dict[str, float]:
    return {k: getattr(settings, k) for k in LAYERING_GRID}


def leave_one_out(table: np.ndarray) -> list[int]:
    """(candidates, images) scores -> per held-out image, the candidate with the best mean on the others."""
    return [int(np.argmax(np.delete(table, i, axis=1).mean(axis=1))) for i in range(table.shape[1])]


def layering_grid() -> list[WeightsFreeSettings]:
    """Single-image settings for every point of LAYERING_GRID (the other fields at their defaults)."""
    return [replace(SINGLE, **dict(zip(LAYERING_GRID, values, strict=True)))
            for values in product(*LAYERING_GRID.values())]


def eval_leave_one_out(stills: Stills) -> dict[str, object]:
    """Single-image provider over LAYERING_GRID: held-out scores, and the one global parameter set."""
    grid = layering_grid()
    scores = [[align_and_score(still_depth(left, s), gt) for _, left, _, gt in stills] for s in grid]
    table = np.array([[r["spearman"] for r in row] for row in scores])
    picks, best = leave_one_out(table), int(np.argmax(table.mean(axis=1)))
    held_out = [{"image": name, "chosen": grid_label(grid[j]), **scores[j][i]}
                for i, ((name, *_), j) in enumerate(zip(stills, picks, strict=True))]
    return {"held_out": held_out,
            "held_out_mean": mean_scores([{k: r[k] for k in ("absrel", "delta1", "spearman")} for r in held_out]),
            "global": {"chosen": grid_label(grid[best]), **mean_scores(scores[best])},
            "defaults_are_global_best": grid_label(grid[best]) == grid_label(WeightsFreeSettings()),
            "grid": [{"settings": grid_label(s), **mean_scores(row)} for s, row in zip(grid, scores, strict=True)]}


#: (vertical_weight, chroma_full) pairs searched by the safety check; chroma_full 0 = no colour confidence (v6)
SAFETY_GRID = tuple(product((0.0, 0.25, 0.4, 0.5, 0.6, 0.75), (0.0, 4.0, 8.0, 16.0)))


def euroc_item(step: int = 5) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """EuRoC V1_01 as one real pair for the safety check: every `step`-th rectified left frame and its SGBM GT."""
    left, _, gts = load_euroc()
    return "EuRoC V1_01 (every 5th left frame, SGBM GT)", [(left[i], gts[i]) for i in range(0, len(left), step)]


def safest_pick(margin: np.ndarray, grid: tuple[tuple[float, float], ...] = SAFETY_GRID) -> int:
    """Row of `margin` (candidates × pairs, Spearman minus the ramp's) to use: leximin, then the safest.

    Leximin is max-min refined: the largest smallest margin wins, a tie there goes to the largest second
    smallest, and so on (margins rounded to 0.001, the precision the tables report). A pair whose margin no
    candidate changes (EuRoC once its frames get the ramp) so does not decide the pick. What still ties goes
    to the most cautious setting (the larger chroma_full, then the larger vertical weight: closer to the ramp).
    """
    key = [(tuple(sorted(np.round(m, 3).tolist())), g[1], g[0]) for m, g in zip(margin, grid, strict=True)]
    return max(range(len(key)), key=key.__getitem__)


def eval_vertical_safety(stills: Stills, extra: list[tuple[str, list[tuple[np.ndarray, np.ndarray]]]] = ()
                         ) -> dict[str, object]:
    """The single-image prior blended with the vertical ramp, the blend chosen so no held-out pair ranks worse.

    Leave-one-out over every real pair: the stills, plus `extra` items (a name and its (image, GT) frames,
    scored as the mean over the frames; EuRoC). The blend has two parameters (SAFETY_GRID): the vertical
    weight and the chroma at which the frame's colour is fully trusted (less colour = more ramp). For each
    pair they are picked on the others by :func:`safest_pick` (leximin: the goal is never to rank
    worse than the ramp, not the best mean), then scored on the held-out pair.
    """
    items = [(name, [(left, gt)]) for name, left, _, gt in stills] + list(extra)

    def score(frames: list[tuple[np.ndarray, np.ndarray]], fn: Callable[[np.ndarray], np.ndarray]) -> dict:
        return mean_scores([align_and_score(fn(image), gt) for image, gt in frames])

    vertical = [score(frames, lambda im: vertical_map(*im.shape[:2])) for _, frames in items]
    scores = [[score(frames, lambda im, lam=lam, full=full: still_depth(
        im, replace(SINGLE, vertical_weight=lam, chroma_full=full))) for _, frames in items]
              for lam, full in SAFETY_GRID]
    margin = np.array([[s["spearman"] - v["spearman"] for s, v in zip(row, vertical, strict=True)] for row in scores])
    held = []
    for i, (name, _) in enumerate(items):
        pick = safest_pick(np.delete(margin, i, axis=1))
        lam, full = SAFETY_GRID[pick]
        held.append({"image": name, "vertical_weight": lam, "chroma_full": full, **scores[pick][i],
                     "vertical": vertical[i]["spearman"], "vertical_absrel": vertical[i]["absrel"]})
    best = safest_pick(margin)
    defaults = WeightsFreeSettings()
    return {"grid": [list(g) for g in SAFETY_GRID], "held_out": held, "global_choice": list(SAFETY_GRID[best]),
            "defaults_are_global_choice": SAFETY_GRID[best] == (defaults.vertical_weight, defaults.chroma_full),
            "per_setting": {f"{lam:g}/{full:g}": [s["spearman"] for s in row]
                            for (lam, full), row in zip(SAFETY_GRID, scores, strict=True)},
            "items": [name for name, _ in items]}


def safety_table(safety: dict) -> str:
    lines = ["| held-out real pair | vertical weight, full chroma (chosen on the others) | Spearman ↑ "
             "| vertical prior Spearman | margin | AbsRel ↓ | vertical AbsRel |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in safety["held_out"]:
        lines.append(f"| {r['image']} | {r['vertical_weight']:g}, {r['chroma_full']:g} | {r['spearman']:.3f} "
                     f"| {r['vertical']:.3f} "
                     f"| {r['spearman'] - r['vertical']:+.3f} | {r['absrel']:.3f} | {r['vertical_absrel']:.3f} |")
    m = {k: float(np.mean([r[k] for r in safety["held_out"]])) for k in ("spearman", "vertical", "absrel",
                                                                          "vertical_absrel")}
    lines.append(f"| **mean** | | **{m['spearman']:.3f}** | {m['vertical']:.3f} | {m['spearman'] - m['vertical']:+.3f} "
                 f"| {m['absrel']:.3f} | {m['vertical_absrel']:.3f} |")
    return "\n".join(lines)


#: working width as a fraction of the image width for the edge-snapping check: 1/2 is DAVIS's 960 → 480 px,
#: 1/4 is 1080p's 1920 → 480 px
SNAP_RATIOS = (2, 4)


def discontinuity_band(gt: np.ndarray, step: float = 1.0, px: int = 2) -> np.ndarray:
    """Pixels within `px` of a GT depth discontinuity (a disparity jump > `step` px between neighbours).

    Args:
        gt: (H, W) float32 disparity, NaN unknown.
    Returns:
        (H, W) bool, only where `gt` is known.
    """
    known = np.isfinite(gt)
    filled = np.where(known, gt, 0.0).astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    jump = (cv2.dilate(filled, kernel) - cv2.erode(np.where(known, gt, np.float32(1e6)).astype(np.float32), kernel))
    edges = (jump > step) & known
    return (cv2.dilate(edges.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0) & known


def eval_edge_snap(stills: Stills) -> dict[str, object]:
    """Full-resolution edge snapping on vs off, with the provider at 1/2 and 1/4 of each still's width.

    The Middlebury stills are narrower than the default working width, so they would be computed at full
    size; here the working width is cut so that the output is upsampled 2× or 4×, as a 960 or 1920 px
    frame is at 480 px. Scored on the whole image and on the band within 2 px of a GT discontinuity,
    single image and pair as 2-frame motion.
    """
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for ratio in SNAP_RATIOS:
        for mode in ("single image", "pair as 2-frame motion"):
            for snap in (False, True):
                label = f"1/{ratio} width, {mode}, {'snapped at full resolution' if snap else 'bilinear upsampling'}"
                per = {}
                for name, left, right, gt in stills:
                    config = DepthConfig(model="weights-free", working_width=left.shape[1] // ratio)
                    settings = replace(SINGLE if mode == "single image" else WeightsFreeSettings(),
                                       snap_full_resolution=snap)
                    depth = next(WeightsFreeDepth(config, settings).estimate(
                        [left] if mode == "single image" else [left, right]))
                    band = discontinuity_band(gt)
                    whole, edge = align_and_score(depth, gt), align_and_score(np.where(band, depth, np.nan),
                                                                              np.where(band, gt, np.nan))
                    per[name] = {"spearman": whole["spearman"], "absrel": whole["absrel"],
                                 "edge_spearman": edge["spearman"], "edge_absrel": edge["absrel"],
                                 "edge_share": float(band.mean())}
                rows[label] = per
    return rows


def snap_table(rows: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["| depth | whole Spearman ↑ | whole AbsRel ↓ | edge-band Spearman ↑ | edge-band AbsRel ↓ |",
             "|---|---:|---:|---:|---:|"]
    for label, per in rows.items():
        m = {k: float(np.mean([r[k] for r in per.values()])) for k in ("spearman", "absrel", "edge_spearman",
                                                                        "edge_absrel")}
        lines.append(f"| {label} | {m['spearman']:.3f} | {m['absrel']:.3f} | {m['edge_spearman']:.3f} "
                     f"| {m['edge_absrel']:.3f} |")
    return "\n".join(lines)


def _norm(x: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(x, [2.0, 98.0])
    return np.clip((x - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)


def _surroundedness(rgb_small: np.ndarray) -> np.ndarray:
    """Geodesic distance (layering costs) from the top, left and right borders: enclosed regions are figures."""
    cost = boundary_strength(rgb_small) + np.float32(100.0 / (rgb_small.shape[0] - 1))
    left = geodesic_from_top(np.ascontiguousarray(cost.T)).T
    right = geodesic_from_top(np.ascontiguousarray(cost[:, ::-1].T)).T[:, ::-1]
    return np.minimum(geodesic_from_top(cost), np.minimum(left, right))


def _local_contrast(gray: np.ndarray, size: int = 15) -> np.ndarray:
    g = gray.astype(np.float32)
    mean, sq = cv2.blur(g, (size, size)), cv2.blur(g * g, (size, size))
    return cv2.GaussianBlur(np.sqrt(np.maximum(sq - mean * mean, 0.0)) / (mean + 10.0), (0, 0), 7)


def _coarseness(gray: np.ndarray) -> np.ndarray:
    """log(coarse / fine gradient energy): the texture-gradient cue (finer texture = farther)."""
    def energy(sigma: float) -> np.ndarray:
        b = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), sigma)
        return cv2.GaussianBlur(cv2.Sobel(b, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(b, cv2.CV_32F, 0, 1) ** 2, (0, 0), 9)
    return np.log((energy(2.5) + 1.0) / (energy(0.7) + 1.0))


def candidate_cues(image: np.ndarray) -> dict[str, np.ndarray]:
    """Every single-image cue tried, as nearness maps (larger = nearer) at working size."""
    w, h = working_size(image.shape[1], image.shape[0], DepthConfig().working_width)
    small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) if w != image.shape[1] else image
    gray, lab = to_gray(small), cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    chroma = np.hypot(lab[..., 1] - 128.0, lab[..., 2] - 128.0)
    centre = np.exp(-0.5 * (((xs - w / 2) / (0.35 * w)) ** 2 + ((ys - h / 2) / (0.35 * h)) ** 2))
    return {
        "vertical position (lower = nearer)": vertical_map(h, w),
        "ground contact (v1 prior)": ground_contact(gray),
        "layering (geodesic from the top; v2 prior)": layering_prior(small),
        "surroundedness (geodesic from top and sides)": _surroundedness(small),
        "colourfulness (aerial perspective)": cv2.GaussianBlur(chroma, (0, 0), 5),
        "local contrast (aerial perspective)": _local_contrast(gray),
        "brightness (illumination fall-off)": cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 5),
        "coarse texture (texture gradient)": _coarseness(gray),
        "centre of frame (composition)": centre,
    }


def spearman_at(pred: np.ndarray, gt: np.ndarray) -> float:
    """Spearman of a working-size map against full-size GT (bilinear upsampling, as the provider does)."""
    up = cv2.resize(pred.astype(np.float32), gt.shape[::-1], interpolation=cv2.INTER_LINEAR)
    return align_and_score(up, gt)["spearman"]


def eval_candidate_cues(stills: Stills) -> dict[str, dict[str, object]]:
    """Each cue alone, and added to the layering cue with a weight from CANDIDATE_WEIGHTS chosen leave-one-out."""
    maps = [(candidate_cues(left), gt) for _, left, _, gt in stills]
    base = "layering (geodesic from the top; v2 prior)"
    out: dict[str, dict[str, object]] = {}
    for cue in maps[0][0]:
        alone = [spearman_at(m[cue], gt) for m, gt in maps]
        entry: dict[str, object] = {"alone": dict(zip([s[0] for s in stills], alone, strict=True))}
        if cue != base:
            table = np.array([[spearman_at(_norm(m[base]) + wt * _norm(m[cue]), gt) for m, gt in maps]
                              for wt in CANDIDATE_WEIGHTS])
            picks = leave_one_out(table)
            entry["with_layering_loo"] = float(np.mean([table[j, i] for i, j in enumerate(picks)]))
            entry["with_layering_global_weight"] = CANDIDATE_WEIGHTS[int(np.argmax(table.mean(axis=1)))]
            entry["with_layering_global"] = float(table.mean(axis=1).max())
        out[cue] = entry
    return out


def eval_euroc() -> dict[str, object]:
    left, right, gts = load_euroc()
    h, w = gts[0].shape
    est = FlowEstimator(FlowConfig(preset="fast", working_width=480))
    motion = [float(np.median(np.linalg.norm(est.flow(left[i], left[i + 1]), axis=2)))
              for i in range(len(left) - 1)]
    widest = float(np.median(np.linalg.norm(est.flow(left[0], left[-1]), axis=2)))
    video = list(provider().estimate(left))
    per_frame = {
        "constant": [align_and_score(constant_map(h, w), g) for g in gts],
        "vertical gradient": [align_and_score(vertical_map(h, w), g) for g in gts],
        "weights-free v1, ground contact (single image)":
            list(map(align_and_score, provider(GROUND_ONLY_SINGLE).estimate(left), gts)),
        "weights-free, single-image cues only": list(map(align_and_score, provider(SINGLE).estimate(left), gts)),
        "weights-free on the left video": list(map(align_and_score, video, gts)),
    }
    wide = provider()
    per_frame[f"weights-free, left frames 0 and {len(left) - 1} as a 2-frame clip"] = [
        align_and_score(next(wide.estimate([left[0], left[-1]])), gts[0])]
    pairs = range(0, len(left), 5)
    per_frame["weights-free, L/R pair as 2-frame motion"] = [
        align_and_score(motion_depth(left[i], right[i]), gts[i]) for i in pairs]
    # with the colour confidence off: EuRoC is monochrome, so with it every grid point is the ramp
    grid = [{"settings": grid_label(s), **mean_scores([
        align_and_score(still_depth(left[i], replace(s, chroma_full=0.0)), gts[i]) for i in pairs])}
            for s in layering_grid()]
    return {"frames": len(left), "gt_valid_share": float(np.mean([np.isfinite(g).mean() for g in gts])),
            "median_frame_to_frame_flow_px": float(np.median(motion)),
            "max_frame_to_frame_flow_px": float(np.max(motion)),
            "first_to_last_median_flow_px": widest, "first_to_last_parallax_accepted": wide._acc is not None,
            "methods": {m: mean_scores(rows) for m, rows in per_frame.items()}, "single_image_grid": grid,
            "flicker": euroc_flicker(left[:40])}


def euroc_flicker(frames: list[np.ndarray]) -> dict[str, float]:
    """Flicker of the provider on the nearly static EuRoC frames (parallax rejected: the prior is all there is)."""
    variants = {"weights-free": None, "weights-free, prior not smoothed along the flow":
                WeightsFreeSettings(prior_rate=1.0), "weights-free v1 (ground contact)": GROUND_ONLY}
    return {f"EuRoC {len(frames)} frames (static camera), {name}, per-shot δ":
            temporal_flicker(list(provider(settings).estimate(frames)), frames, "shot")
            for name, settings in variants.items()}


def temporal_flicker(depths: list[np.ndarray], frames: list[np.ndarray], normalise: str) -> float:
    """Mean |δ_t − warp(δ_{t−1})| over flow-consistent pixels (δ per shot, or per frame min/max)."""
    if normalise == "shot":
        norm = ShotNormaliser("inverse")
        for d in depths:
            norm.update(d)
        norm.finalize()
        deltas = [norm.apply(d) for d in depths]
    else:
        deltas = [(d.max() - d) / max(float(np.ptp(d)), 1e-6) for d in depths]
    est = FlowEstimator(FlowConfig(preset="medium", working_width=480))
    errors = []
    for t in range(1, len(frames)):
        to_prev, to_cur = est.flow(frames[t], frames[t - 1]), est.flow(frames[t - 1], frames[t])
        ok = fb_confidence(to_prev, to_cur)
        errors.append(float(np.abs(deltas[t] - warp_backward(deltas[t - 1], to_prev))[ok].mean()))
    return float(np.mean(errors))


def eval_davis(max_frames: int = 40) -> dict[str, float]:
    frames = read_video(DAVIS)[:max_frames]
    full = list(provider().estimate(frames))
    prior = list(provider(SINGLE).estimate(frames))
    prior_v1 = list(provider(GROUND_ONLY_SINGLE).estimate(frames))
    return {"frames": len(frames),
            "weights-free, per-shot δ": temporal_flicker(full, frames, "shot"),
            "weights-free, per-frame min/max δ (what we avoid)": temporal_flicker(full, frames, "frame"),
            "single-image cues only (no flow, so no smoothing), per-shot δ": temporal_flicker(prior, frames, "shot"),
            "single-image cues of v1 (ground contact), per-shot δ": temporal_flicker(prior_v1, frames, "shot")}


# --------------------------------------------------------------------------------------------- report


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def stills_table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    methods = list(next(iter(results.values())))
    lines = ["| image | method | AbsRel ↓ | δ<1.25 ↑ | Spearman ↑ |", "|---|---|---:|---:|---:|"]
    for name, by_method in results.items():
        for m in methods:
            s = by_method[m]
            lines.append(f"| {name} | {m} | {s['absrel']:.3f} | {s['delta1']:.3f} | {s['spearman']:.3f} |")
    for m in methods:
        s = mean_scores([results[n][m] for n in results])
        lines.append(f"| **mean** | {m} | {s['absrel']:.3f} | {s['delta1']:.3f} | {s['spearman']:.3f} |")
    return "\n".join(lines)


def euroc_table(euroc: dict[str, object]) -> str:
    lines = ["| method | AbsRel ↓ | δ<1.25 ↑ | Spearman ↑ |", "|---|---:|---:|---:|"]
    for m, s in euroc["methods"].items():  # type: ignore[union-attr]
        lines.append(f"| {m} | {s['absrel']:.3f} | {s['delta1']:.3f} | {s['spearman']:.3f} |")
    return "\n".join(lines)


def loo_table(loo: dict, stills: dict) -> str:
    lines = ["| held-out image | chosen on the other four (layering weight, σ) | AbsRel ↓ | δ<1.25 ↑ | Spearman ↑ "
             "| vertical gradient Spearman |", "|---|---|---:|---:|---:|---:|"]
    for r in loo["held_out"]:
        chosen = f"{r['chosen']['layering_weight']:g}, {r['chosen']['layering_sigma']:g}"
        vertical = stills[r["image"]]["vertical gradient"]["spearman"]
        lines.append(f"| {r['image']} | {chosen} | {r['absrel']:.3f} | {r['delta1']:.3f} | {r['spearman']:.3f} "
                     f"| {vertical:.3f} |")
    m, g = loo["held_out_mean"], loo["global"]
    v = mean_scores([stills[n]["vertical gradient"] for n in stills])["spearman"]
    lines.append(f"| **mean of held-out** | — | {m['absrel']:.3f} | {m['delta1']:.3f} | **{m['spearman']:.3f}** "
                 f"| {v:.3f} |")
    chosen = f"{g['chosen']['layering_weight']:g}, {g['chosen']['layering_sigma']:g}"
    lines.append(f"| mean, one global set | {chosen} | {g['absrel']:.3f} | {g['delta1']:.3f} | {g['spearman']:.3f} "
                 f"| {v:.3f} |")
    grid = ", ".join(f"{r['settings']['layering_weight']:g}/{r['settings']['layering_sigma']:g}: "
                     f"{r['spearman']:.3f}" for r in loo["grid"])
    return "\n".join(lines) + f"\n\nMean Spearman over the grid (weight/σ): {grid}."


def cues_table(cues: dict, names: list[str]) -> str:
    head = " | ".join(names)
    lines = [f"| cue (nearness) | {head} | mean | + layering, held-out mean (global weight) |",
             "|---|" + "---:|" * (len(names) + 2)]
    for cue, e in cues.items():
        alone = [e["alone"][n] for n in names]
        added = "—" if "with_layering_loo" not in e else \
            f"{e['with_layering_loo']:.3f} ({e['with_layering_global_weight']:g})"
        lines.append(f"| {cue} | " + " | ".join(f"{x:.3f}" for x in alone) + f" | {np.mean(alone):.3f} | {added} |")
    return "\n".join(lines)


def markdown_tables(stills: dict, loo: dict, cues: dict, euroc: dict, davis: dict) -> str:
    flicker = {**{f"DAVIS: {k}": v for k, v in davis.items() if k != "frames"}, **euroc["flicker"]}
    davis_lines = "\n".join(f"| {k} | {v:.4f} |" for k, v in flicker.items())
    euroc_grid = ", ".join(f"{r['settings']['layering_weight']:g}/{r['settings']['layering_sigma']:g}: "
                           f"{r['spearman']:.3f}" for r in euroc["single_image_grid"])
    flow_median, flow_max = euroc["median_frame_to_frame_flow_px"], euroc["max_frame_to_frame_flow_px"]
    euroc_title = (f"### EuRoC V1_01 (rectified left video, {euroc['frames']} frames; GT = SGBM on the "
                   f"rectified pair, {euroc['gt_valid_share']:.0%} of pixels valid; frame-to-frame flow "
                   f"median {flow_median:.2f} px, max {flow_max:.2f} px; first to last frame "
                   f"{euroc['first_to_last_median_flow_px']:.2f} px, parallax "
                   f"{'accepted' if euroc['first_to_last_parallax_accepted'] else 'rejected'})")
    davis_title = (f"### Flicker (DAVIS rollercoaster, {davis['frames']} frames, fast camera; EuRoC, nearly "
                   "static camera; mean |δ_t − warp(δ_t−1)| on flow-consistent pixels, lower is steadier)")
    loo_title = ("### Leave-one-out on the stills (single image; grid: layering weight "
                 f"{'/'.join(f'{v:g}' for v in LAYERING_GRID['layering_weight'])} × σ "
                 f"{'/'.join(f'{v:g}' for v in LAYERING_GRID['layering_sigma'])} px; weight 0 = v1)")
    cues_title = ("### Single-image cues tried (Spearman of the cue map alone; last column: the cue added to the "
                  f"layering cue with a weight from {'/'.join(f'{v:g}' for v in CANDIDATE_WEIGHTS)} chosen "
                  "leave-one-out, no edge-aware refinement)")
    return "\n\n".join([
        "<!-- tables -->\n### Stills (Middlebury 2001/2003 left views, motorcycle)", stills_table(stills),
        loo_title, loo_table(loo, stills), cues_title, cues_table(cues, list(stills)),
        euroc_title, euroc_table(euroc) + "\n\nSingle-image Spearman over the layering grid with the colour confidence "
        f"off (version 6's prior; the defaults give the ramp on this monochrome footage; weight/σ; every 5th frame): "
        f"{euroc_grid}.",
        davis_title, f"| variant | flicker |\n|---|---:|\n{davis_lines}\n<!-- /tables -->"])


def replace_block(path: Path, marker: str, body: str) -> None:
    """Replace the text between <!-- marker --> and <!-- /marker --> (appended when absent)."""
    text = path.read_text() if path.exists() else ""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    if start in text and end in text:
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        text = head + start + "\n" + body + "\n" + end + tail
    else:
        text = text.rstrip("\n") + f"\n\n{start}\n{body}\n{end}\n"
    write_atomic(path, text)


def main_safety() -> None:
    """Only the never-worse-than-vertical check (a minute): JSON, docs section and README table."""
    started = time.perf_counter()
    safety = eval_vertical_safety(load_stills(), [euroc_item()])
    payload = {"schema": "DepthSafety.1", "settings": repr(WeightsFreeSettings()), "safety": safety,
               "load_avg_start": os.getloadavg(), "seconds": time.perf_counter() - started}
    write_atomic(ROOT / "bench" / "results" / "depth_safety.json", json.dumps(payload, indent=2) + "\n")
    table = safety_table(safety)
    print(table)
    replace_block(ROOT / "docs" / "depth_eval.md", "safety", table)
    replace_block(ROOT / "README.md", "depth-safety", table)


def main_snap() -> None:
    """Only the full-resolution edge-snapping check: JSON and the docs section."""
    started = time.perf_counter()
    rows = eval_edge_snap(load_stills())
    payload = {"schema": "DepthSnap.1", "settings": repr(WeightsFreeSettings()), "rows": rows,
               "load_avg_start": os.getloadavg(), "seconds": time.perf_counter() - started}
    write_atomic(ROOT / "bench" / "results" / "depth_snap.json", json.dumps(payload, indent=2) + "\n")
    table = snap_table(rows)
    print(table)
    replace_block(ROOT / "docs" / "depth_eval.md", "edge-snap", table)


def main() -> None:
    if "--safety-only" in sys.argv[1:]:
        main_safety()
        return
    if "--snap-only" in sys.argv[1:]:
        main_snap()
        return
    for path in (MIDDLEBURY, EUROC, DAVIS):
        if not path.exists():
            sys.exit(f"{path}: shared data not found (see ../shared/data/README.md)")
    started = time.perf_counter()
    data = load_stills()
    stills, loo, cues = eval_stills(data), eval_leave_one_out(data), eval_candidate_cues(data)
    euroc, davis = eval_euroc(), eval_davis()
    payload = {"schema": "DepthEval.2", "settings": repr(WeightsFreeSettings()),
               "provider_version": WeightsFreeDepth.version, "stills": stills, "leave_one_out": loo,
               "single_image_cues": cues, "euroc": euroc, "davis_flicker": davis,
               "seconds": time.perf_counter() - started}
    write_atomic(ROOT / "bench" / "results" / "depth_eval.json", json.dumps(payload, indent=2) + "\n")
    tables = markdown_tables(stills, loo, cues, euroc, davis)
    print(tables)
    if not loo["defaults_are_global_best"]:
        print(f"note: the defaults differ from the global best of the grid {loo['global']['chosen']}")
    doc = ROOT / "docs" / "depth_eval.md"
    empty = "# Weights-free depth: evaluation\n\n<!-- tables -->\n<!-- /tables -->\n"
    text = doc.read_text() if doc.exists() else empty
    head, _, rest = text.partition("<!-- tables -->")
    _, _, tail = rest.partition("<!-- /tables -->")
    write_atomic(doc, head + tables + tail)


if __name__ == "__main__":
    main()
