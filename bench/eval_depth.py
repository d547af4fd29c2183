"""Evaluate the weights-free depth provider on real data.

Writes bench/results/depth_eval.json and the tables of docs/depth_eval.md (between its markers).

Run: ``python bench/eval_depth.py`` (about a minute on 2 cores). Data: ``../shared/data`` (see its README).

Protocol (MiDaS, Ranftl et al.): the prediction is aligned to the ground-truth
disparity by least-squares scale and shift over valid pixels, in disparity
(inverse-depth) space; then AbsRel = mean |pred − gt| / gt and δ<1.25 = share of
pixels with max(pred/gt, gt/pred) < 1.25 (aligned predictions are clamped at
1e-3 × max gt). Spearman rank correlation needs no alignment. One parameter set
for everything (the defaults); a constant map scores Spearman 0 by definition.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.depth import DepthConfig  # noqa: E402
from engine.depth.normalise import ShotNormaliser  # noqa: E402
from engine.depth.weights_free import WeightsFreeDepth, WeightsFreeSettings  # noqa: E402
from engine.flow import FlowConfig, FlowEstimator, fb_confidence, warp_backward  # noqa: E402
from engine.media import open_media  # noqa: E402

DATA = ROOT / ".." / "shared" / "data"
MIDDLEBURY = DATA / "stereo_pairs" / "middlebury_2001_2003"
EUROC = DATA / "stereo_video" / "euroc_v1_01"
DAVIS = DATA / "mono_videos" / "davis_rollercoaster.mp4"
STILLS = [("tsukuba", "im3.png", "im4.png", "disp3.pgm", 16), ("venus", "im2.png", "im6.png", "disp2.pgm", 8),
          ("teddy", "im2.png", "im6.png", "disp2.png", 4), ("cones", "im2.png", "im6.png", "disp2.png", 4)]


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


def still_depth(image: np.ndarray) -> np.ndarray:
    return next(provider().estimate([image]))


def motion_depth(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The stereo pair as a 2-frame clip (the camera translates by the baseline): depth of frame 0."""
    return next(provider().estimate([left, right]))


# ----------------------------------------------------------------------------------------- evaluations


def eval_stills() -> dict[str, dict[str, dict[str, float]]]:
    methods: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "constant": lambda a, b: constant_map(*a.shape[:2]),
        "vertical gradient": lambda a, b: vertical_map(*a.shape[:2]),
        "weights-free (single image)": lambda a, b: still_depth(a),
        "weights-free (pair as 2-frame motion)": motion_depth,
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, left, right, gt in load_stills():
        results[name] = {m: align_and_score(fn(left, right), gt) for m, fn in methods.items()}
    return results


def eval_euroc() -> dict[str, object]:
    left, right, gts = load_euroc()
    h, w = gts[0].shape
    est = FlowEstimator(FlowConfig(preset="fast", working_width=480))
    motion = [float(np.median(np.linalg.norm(est.flow(left[i], left[i + 1]), axis=2)))
              for i in range(len(left) - 1)]
    video = list(provider().estimate(left))
    prior = list(provider(WeightsFreeSettings(use_parallax=False)).estimate(left))
    per_frame = {
        "constant": [align_and_score(constant_map(h, w), g) for g in gts],
        "vertical gradient": [align_and_score(vertical_map(h, w), g) for g in gts],
        "weights-free, single-image cues only": list(map(align_and_score, prior, gts)),
        "weights-free on the left video": list(map(align_and_score, video, gts)),
    }
    pairs = range(0, len(left), 5)
    per_frame["weights-free, L/R pair as 2-frame motion"] = [
        align_and_score(motion_depth(left[i], right[i]), gts[i]) for i in pairs]
    return {"frames": len(left), "gt_valid_share": float(np.mean([np.isfinite(g).mean() for g in gts])),
            "median_frame_to_frame_flow_px": float(np.median(motion)),
            "max_frame_to_frame_flow_px": float(np.max(motion)),
            "methods": {m: mean_scores(rows) for m, rows in per_frame.items()}}


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
    prior = list(provider(WeightsFreeSettings(use_parallax=False)).estimate(frames))
    return {"frames": len(frames),
            "weights-free, per-shot δ": temporal_flicker(full, frames, "shot"),
            "weights-free, per-frame min/max δ (what we avoid)": temporal_flicker(full, frames, "frame"),
            "single-image cues only, per-shot δ": temporal_flicker(prior, frames, "shot")}


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


def markdown_tables(stills: dict, euroc: dict, davis: dict) -> str:
    davis_lines = "\n".join(f"| {k} | {v:.4f} |" for k, v in davis.items() if k != "frames")
    flow_median, flow_max = euroc["median_frame_to_frame_flow_px"], euroc["max_frame_to_frame_flow_px"]
    euroc_title = (f"### EuRoC V1_01 (rectified left video, {euroc['frames']} frames; GT = SGBM on the "
                   f"rectified pair, {euroc['gt_valid_share']:.0%} of pixels valid; frame-to-frame flow "
                   f"median {flow_median:.2f} px, max {flow_max:.2f} px)")
    davis_title = (f"### DAVIS rollercoaster flicker ({davis['frames']} frames; mean |δ_t − warp(δ_t−1)| on "
                   "flow-consistent pixels, lower is steadier)")
    return "\n\n".join([
        "<!-- tables -->\n### Stills (Middlebury 2001/2003 left views, motorcycle)", stills_table(stills),
        euroc_title, euroc_table(euroc),
        davis_title, f"| variant | flicker |\n|---|---:|\n{davis_lines}\n<!-- /tables -->"])


def main() -> None:
    for path in (MIDDLEBURY, EUROC, DAVIS):
        if not path.exists():
            sys.exit(f"{path}: shared data not found (see ../shared/data/README.md)")
    started = time.perf_counter()
    stills, euroc, davis = eval_stills(), eval_euroc(), eval_davis()
    payload = {"schema": "DepthEval.1", "settings": repr(WeightsFreeSettings()), "stills": stills,
               "euroc": euroc, "davis_flicker": davis, "seconds": time.perf_counter() - started}
    write_atomic(ROOT / "bench" / "results" / "depth_eval.json", json.dumps(payload, indent=2) + "\n")
    tables = markdown_tables(stills, euroc, davis)
    print(tables)
    doc = ROOT / "docs" / "depth_eval.md"
    empty = "# Weights-free depth: evaluation\n\n<!-- tables -->\n<!-- /tables -->\n"
    text = doc.read_text() if doc.exists() else empty
    head, _, rest = text.partition("<!-- tables -->")
    _, _, tail = rest.partition("<!-- /tables -->")
    write_atomic(doc, head + tables + tail)


if __name__ == "__main__":
    main()
