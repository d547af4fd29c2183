"""Evaluate DVG (temporal hole filling) against the per-frame path on real data — the issue's "must show".

Writes bench/results/dvg_eval.json, the tables of docs/dvg_eval.md (between its markers) and the
x–t slices docs/img/dvg_slice_<clip>.png.

Run: ``python bench/eval_dvg.py [--keep DIR] [--no-sensitivity]`` (about ten minutes on 2 cores).
Data: ``../shared/data`` (see its README).

Protocol. Every master is rendered by ``api.convert`` with ``synthesize="right"`` (the left eye is
the source, the right eye is synthesised), ``layout="pair"``, lossless FFV1, on the CPU, once with
DVG (``temporal=True``, the default :class:`engine.dvg.DvgConfig`) and once by the per-frame path
(``temporal=False``): same depth, stabilisation and grade, only hole filling differs. Each is scored
by ``api.evaluate`` (E_warp of Lai et al. 2018 with flow computed on each sequence itself; PSNR/SSIM
of the right eye against the real right view where there is one).

* Hole-restricted figures use ONE mask for both paths: the per-frame path's exported hole masks
  (its own disocclusions). DVG exports its *propagated* occlusion mask (a superset: its own
  disocclusions plus those carried from t±1), but it fills only its own disocclusions, which are
  the per-frame path's holes (same splat, same halo). The masters also differ outside them (the per-frame
  path's Lanczos-3 resampling, both paths' edge blend): ``masks`` reports how much.
* Clips: (a) EuRoC V1_01, rectified with its sensor.yaml (``bench.eval_depth.load_euroc``), with
  the SGBM disparity of the real pair imported as ``disparity-px``. SGBM leaves ~20 % of pixels
  unknown (its 64-px search band at the left edge, textureless walls); unknown pixels do not
  splat and would become "holes" that are matcher failures, not disocclusions, so each row's
  unknown runs take the smaller (background-side) of the nearest known values on that row
  (the usual densification; no tuning involved). (b) EuRoC with weights-free depth and the
  default grade (D = 3 %, c = 1/3): its parallax is not the real one, so PSNR/SSIM there say
  little about filling. (c) DAVIS rollercoaster, weights-free depth, ``max_width=480``; no
  ground truth: E_warp only.
* Calibration: the real rectified right view scored as if it were the synthesised eye of the
  real left view: real-right E_warp ÷ real-left E_warp is what "no added flicker" looks like on
  this clip; with (a)'s hole masks it also gives the real view's E_warp over those pixels (the
  floor a perfect fill would reach). For DAVIS the analogous floor is the source's own E_warp
  over the same pixel positions (the left eye of a ``synthesize="right"`` master is the source).
* Bounds (:func:`perfect_fill_bound`): the DVG eye's whole-frame ratio with its hole pixels scored at
  the source's own per-pair E_warp (a fill as steady as real footage), and with them scored 0 (a
  fill steadier than any real footage could be). What either leaves above 1 is the warped real
  content, which no hole filling touches.
* Sensitivity (DAVIS only, cheap): DVG with K = 1 and 4 neighbours besides the default K = 2.
* x–t slices (``evaluate(slice_row=...)``): the row with the most interior disocclusion pixels
  over time (holes of the per-frame path, not counting the strip at the right frame edge that no
  view of the left camera ever sees), composed as source | per-frame | DVG | hole mask.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.eval_depth import DAVIS, EUROC, load_euroc, write_atomic  # noqa: E402
from engine import api  # noqa: E402
from engine.dvg import DvgConfig  # noqa: E402
from engine.flow import FlowEstimator  # noqa: E402
from engine.media import VideoWriter  # noqa: E402
from engine.metrics.ewarp import EWARP_FLOW, RunningMean, carry_mask, non_occluded, warp_residual  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "dvg_eval.json"
DOC = ROOT / "docs" / "dvg_eval.md"
IMG = ROOT / "docs" / "img"
SCHEMA = "DvgEval.1"
EUROC_FPS = Fraction(20)
FFV1 = api.EncodeSettings(codec="ffv1")
SENSITIVITY_K = (1, 4)
SLICE_GAP = 4  # columns of grey between the panels of an eval slice (engine.metrics.slices.side_by_side)
SLICE_WINDOW, SLICE_ZOOM = 192, (2, 2)  # crop of the composed x–t slice (eye px) and its (x, t) zoom
SLICE_DIFFER = 8  # 8-bit levels above which the two paths' fills count as different in the slice
EWARP_GOAL, HOLE_GOAL = 1.05, 1.3


@dataclass(frozen=True)
class Case:
    """One clip and depth source, rendered by both paths.

    Attributes:
        name: key in the JSON; title: row label in the tables.
        source: the monocular clip (the left view); ground_truth: the real right view or None.
        depth: imported depth, or None for the weights-free provider.
        max_width: eye width cap (None: full size).
        floor: how to get the hole-pixel E_warp floor: 'real' (the calibration eval) or 'source'.
        slice_png: docs/img file name of its x–t slice, or None.
    """

    name: str
    title: str
    source: Path
    ground_truth: Path | None
    depth: api.ImportedDepthSpec | None
    max_width: int | None = None
    floor: str | None = None
    slice_png: str | None = None


@dataclass
class Render:
    """A rendered master: its path (as given to convert), right-eye hole masks, time, notes."""

    output: Path
    holes: Path
    seconds: float
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------- data


def densify_background(disparity: np.ndarray) -> np.ndarray:
    """Fill unknown disparity along each row with the background side of the gap.

    Args:
        disparity: (H, W) float px, NaN = unknown.
    Returns:
        (H, W) float32: each unknown pixel takes min(nearest known on its left, nearest known on
        its right) on the same row (one side only at the frame edge); rows with no known pixel
        stay NaN.
    """
    d = np.asarray(disparity, np.float32)
    h, w = d.shape
    known = np.isfinite(d)
    cols = np.broadcast_to(np.arange(w), (h, w))
    left_idx = np.maximum.accumulate(np.where(known, cols, -1), axis=1)
    right_idx = np.minimum.accumulate(np.where(known, cols, w)[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(h)[:, None]
    left = np.where(left_idx >= 0, d[rows, np.clip(left_idx, 0, w - 1)], np.inf)
    right = np.where(right_idx < w, d[rows, np.clip(right_idx, 0, w - 1)], np.inf)
    fill = np.minimum(left, right)
    out = np.where(known, d, fill)
    out[~np.isfinite(out)] = np.nan
    return out.astype(np.float32)


def write_video(path: Path, frames: list[np.ndarray], fps: Fraction) -> None:
    """(H, W, 3) uint8 frames -> lossless FFV1 .mkv (atomic: lands on commit)."""
    h, w = frames[0].shape[:2]
    writer = VideoWriter(path, width=w, height=h, fps=fps, settings=FFV1, overwrite=True)
    try:
        for frame in frames:
            writer.write(frame)
        writer.finish()
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def disparity_jitter(stack: np.ndarray) -> dict[str, float]:
    """Frame-to-frame change of a (N, H, W) disparity stack over pixels known in both frames (px).

    EuRoC's camera barely moves (median flow under 0.1 px/frame), so the plain difference is the
    matcher's temporal noise.
    """
    a, b = stack[:-1], stack[1:]
    both = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(a - b)[both]
    return {"mean_px": float(diff.mean()), "median_px": float(np.median(diff)),
            "share_over_0.5px": float((diff > 0.5).mean()), "share_over_2px": float((diff > 2).mean()),
            "known_share": float(np.isfinite(stack).mean()),
            "known_flips_share": float((np.isfinite(a) ^ np.isfinite(b)).mean())}


def prepare_euroc(tmp: Path) -> tuple[Path, Path, Path, dict[str, Any]]:
    """Rectified EuRoC left/right as FFV1 (``euroc_L.mkv``/``euroc_R.mkv``) and densified SGBM as .npy.

    Returns:
        left video, right video, disparity stack (N, H, W) float32 path, and disparity statistics.
    """
    left, right, sgbm = load_euroc()
    paths = tmp / "euroc_L.mkv", tmp / "euroc_R.mkv"
    for path, frames in zip(paths, (left, right), strict=True):
        write_video(path, frames, EUROC_FPS)
    raw = np.stack(sgbm).astype(np.float32)
    dense = np.stack([densify_background(d) for d in raw])
    np.save(tmp / "euroc_sgbm.npy", dense)
    stats = {"raw": disparity_jitter(raw), "densified": disparity_jitter(dense),
             "range_px_p1_p99": [float(v) for v in np.nanpercentile(raw, [1, 99])]}
    return paths[0], paths[1], tmp / "euroc_sgbm.npy", stats


# ---------------------------------------------------------------------------------- engine runs


def drain(gen: Iterator[api.Progress], notes: list[str] | None = None) -> Any:
    """Run an engine generator to the end; collect its notes; return its return value."""
    while True:
        try:
            progress = next(gen)
        except StopIteration as stop:
            return stop.value
        if progress.stage == "note" and notes is not None:
            notes.append(progress.message)


def render(case: Case, temporal: bool, tmp: Path, dvg: DvgConfig | None = None, tag: str = "") -> Render:
    """Convert `case` by one path (DVG or per-frame), right eye synthesised, with its hole masks."""
    label = tag or ("dvg" if temporal else "perframe")
    output = tmp / f"{case.name}_{label}.mkv"
    request = api.ConvertRequest(
        input=case.source, output=output, layout="pair", synthesize="right", temporal=temporal,
        dvg=dvg or DvgConfig(), depth=case.depth, depth_config=api.DepthConfig(model="weights-free"),
        encode=FFV1, max_width=case.max_width, device="cpu", overwrite=True, export_holes=tmp,
        cache_dir=tmp / "cache")
    notes: list[str] = []
    started = time.perf_counter()
    drain(api.convert(request), notes)
    return Render(output, tmp / f"{output.stem}.holes_R.mkv", time.perf_counter() - started, notes)


def score(output: Path, source: Path, holes: Path | None, ground_truth: Path | None = None,
          eye: str = "right", slice_row: int | None = None, slice_out: Path | None = None) -> dict[str, Any]:
    """``api.evaluate`` of a pair master; the report as a dict plus the seconds it took."""
    request = api.EvalRequest(output=output, source=source, layout="pair", eye=eye, ground_truth=ground_truth,
                              holes=holes, slice_row=slice_row, slice_out=slice_out, overwrite=True)
    started = time.perf_counter()
    report = drain(api.evaluate(request))
    return {**report.to_dict(), "seconds": time.perf_counter() - started}


def read_masks(path: Path) -> np.ndarray:
    """(N, H, W) bool from an exported hole-mask video (white = hole)."""
    with api.open_media(path, cache_size=0) as reader:
        return np.stack([f.image[..., 0] > 127 for f in reader.frames()])


def read_eye(path: Path) -> np.ndarray:
    """(N, H, W, 3) uint8 frames of a video."""
    with api.open_media(path, cache_size=0) as reader:
        return np.stack([f.image for f in reader.frames()])


def interior_holes(masks: np.ndarray) -> np.ndarray:
    """Hole pixels not in a run that touches the left or right frame edge.

    Args:
        masks: (N, H, W) bool right-eye holes.
    Returns:
        (N, H, W) bool: the disocclusions beside foreground edges (the edge strips — content the
        left camera never saw, or the margin a behind-the-screen shift opens — are left out).
    """
    known = ~masks
    w = masks.shape[-1]
    any_known = known.any(axis=-1)
    first_known = np.where(any_known, np.argmax(known, axis=-1), w)
    last_known = np.where(any_known, w - 1 - np.argmax(known[..., ::-1], axis=-1), -1)
    cols = np.arange(w)
    return masks & (cols >= first_known[..., None]) & (cols <= last_known[..., None])


def busiest_row(masks: np.ndarray) -> int:
    """The row with the most interior disocclusion pixels summed over time."""
    return int(np.argmax(interior_holes(masks).sum(axis=(0, 2))))


def mask_stats(own: np.ndarray, propagated: np.ndarray, eyes: dict[str, np.ndarray]) -> dict[str, Any]:
    """Hole shares of both paths' masks and where the two masters differ (must be inside the holes).

    Args:
        own: (N, H, W) bool per-frame holes; propagated: DVG's exported (propagated) masks.
        eyes: 'perframe' and 'dvg' right eyes, (N, H, W, 3) uint8.
    """
    differ = np.any(eyes["perframe"] != eyes["dvg"], axis=-1)
    return {"hole_share": float(own.mean()), "interior_hole_share": float(interior_holes(own).mean()),
            "dvg_propagated_mask_share": float(propagated.mean()),
            "per_frame_holes_outside_dvg_mask": int((own & ~propagated).sum()),
            "pixels_changed_by_dvg_share": float(differ.mean()),
            "pixels_changed_outside_holes": int((differ & ~own).sum())}


# ----------------------------------------------------------------------------------- x–t slices


def eye_panel(slice_image: np.ndarray, index: int, width: int) -> np.ndarray:
    """Panel `index` (0 source, 1 left, 2 right) of an eval slice image (T, 3W + 2 gaps, 3)."""
    x0 = index * (width + SLICE_GAP)
    return slice_image[:, x0:x0 + width]


def busiest_window(masks: np.ndarray, row: int, width: int) -> int:
    """Left column of the `width`-px window of `row` holding the most interior holes over time."""
    counts = interior_holes(masks)[:, row, :].sum(axis=0)
    width = min(width, counts.size)
    return int(np.argmax(np.convolve(counts, np.ones(width), mode="valid")))


def compose_slice(per_frame_png: Path, dvg_png: Path, masks: np.ndarray, row: int, out: Path,
                  window: int = SLICE_WINDOW, zoom: tuple[int, int] = SLICE_ZOOM) -> dict[str, Any]:
    """source | per-frame right | DVG right | holes, cropped to the busiest window, zoomed.

    The holes panel: black = no hole, grey = a per-frame hole both paths filled alike (within
    SLICE_DIFFER / 255), white = a hole where DVG's fill differs.

    Args:
        per_frame_png, dvg_png: the eval slice images (source | left | right) of the two masters.
        masks: (N, H, W) bool per-frame holes; row: the slice row.
        window: crop width in eye pixels; zoom: (x, t) nearest-neighbour magnification.
    """
    width = masks.shape[-1]
    x0 = busiest_window(masks, row, window)
    crop = slice(x0, x0 + min(window, width))
    pf = cv2.cvtColor(cv2.imread(str(per_frame_png)), cv2.COLOR_BGR2RGB)
    dv = cv2.cvtColor(cv2.imread(str(dvg_png)), cv2.COLOR_BGR2RGB)
    right_pf, right_dv = eye_panel(pf, 2, width), eye_panel(dv, 2, width)
    differ = np.abs(right_pf.astype(np.int16) - right_dv).max(axis=2) > SLICE_DIFFER
    holes = np.select([masks[:, row] & differ, masks[:, row]], [255, 110], 0).astype(np.uint8)
    panels = [eye_panel(pf, 0, width), right_pf, right_dv, np.repeat(holes[..., None], 3, axis=2)]
    panels = [np.repeat(np.repeat(p[:, crop], zoom[0], axis=1), zoom[1], axis=0) for p in panels]
    sep = np.full((panels[0].shape[0], SLICE_GAP, 3), 128, np.uint8)
    joined = np.concatenate([p for panel in panels for p in (sep, panel)][1:], axis=1)
    api.write_still(out, joined, overwrite=True)
    return {"path": str(out.relative_to(ROOT)), "row": row, "columns": [x0, x0 + min(window, width)],
            "frames": int(masks.shape[0]), "zoom_x_t": list(zoom), "bytes": out.stat().st_size}


# ------------------------------------------------------------------------------ same-flow holes


def right_eye(render: Render) -> np.ndarray:
    """(N, H, W, 3) uint8 right eye of a pair master."""
    return read_eye(render.output.with_name(f"{render.output.stem}_R.mkv"))


def same_flow_holes(eyes: dict[str, np.ndarray], masks: np.ndarray, flow_on: np.ndarray) -> dict[str, Any]:
    """Hole E_warp of both paths under ONE flow, split into persistent and flipping hole pixels.

    The flow (DIS as E_warp's, forward and backward) is computed once, on `flow_on`, and applied
    to both masters (Lai et al.'s own protocol: one flow for every output), so both are scored on
    exactly the same pixels with the same motion. Per pair (t, t+1), over non-occluded pixels that
    are holes at t or t+1 (t+1 carried along the flow): *persistent* = holes at both, *flipped* =
    holes at one only (the hole edge moved, e.g. by depth noise: one frame shows warped content,
    the other a fill).

    Args:
        eyes: 'perframe' and 'dvg' right eyes, (N, H, W, 3) uint8; masks: (N, H, W) bool holes.
        flow_on: (N, H, W, 3) uint8 frames the flow is computed on (one of the eyes, or the real view).
    Returns:
        flipped_share and interior_share (of hole pixels; interior: not in an edge strip, see
        :func:`interior_holes`), and per path: ewarp_holes and ewarp_interior (means over pairs, as
        eval), ewarp_persistent and ewarp_flipped (pixel-weighted means of the squared residual), and
        flipped_error_share (the flipped pixels' part of the summed squared residual).
    """
    est = FlowEstimator(EWARP_FLOW)
    size = {"sse": 0.0, "n": 0}
    acc = {p: {"pairs": RunningMean(), "interior": RunningMean(), "persistent": dict(size),
               "flipped": dict(size)} for p in eyes}
    inner = interior_holes(masks)
    n_flipped = n_union = n_inner = 0
    for t in range(len(flow_on) - 1):
        fw, bw = est.flow(flow_on[t], flow_on[t + 1]), est.flow(flow_on[t + 1], flow_on[t])
        valid = non_occluded(fw, bw)
        carried = carry_mask(masks[t + 1], fw)
        union, both = valid & (masks[t] | carried), valid & masks[t] & carried
        flipped, interior = union & ~both, valid & (inner[t] | carry_mask(inner[t + 1], fw))
        n_flipped, n_union = n_flipped + int(flipped.sum()), n_union + int(union.sum())
        n_inner += int(interior.sum())
        if not union.any():
            continue
        for path, frames in eyes.items():
            sq = np.mean(warp_residual(frames[t], frames[t + 1], fw) ** 2, axis=2)
            acc[path]["pairs"].add(float(sq[union].mean(dtype=np.float64)))
            if interior.any():
                acc[path]["interior"].add(float(sq[interior].mean(dtype=np.float64)))
            for name, where in (("persistent", both), ("flipped", flipped)):
                acc[path][name]["sse"] += float(sq[where].sum(dtype=np.float64))
                acc[path][name]["n"] += int(where.sum())
    out: dict[str, Any] = {"flipped_share": n_flipped / n_union if n_union else None,
                           "interior_share": n_inner / n_union if n_union else None}
    for path, a in acc.items():
        per, flip = a["persistent"], a["flipped"]
        total = per["sse"] + flip["sse"]
        out[path] = {"ewarp_holes": a["pairs"].value, "ewarp_interior": a["interior"].value,
                     "ewarp_persistent": per["sse"] / per["n"] if per["n"] else None,
                     "ewarp_flipped": flip["sse"] / flip["n"] if flip["n"] else None,
                     "flipped_error_share": flip["sse"] / total if total else None}
    out["holes_perframe_over_dvg"] = ratio(out["perframe"]["ewarp_holes"], out["dvg"]["ewarp_holes"])
    out["interior_perframe_over_dvg"] = ratio(out["perframe"]["ewarp_interior"], out["dvg"]["ewarp_interior"])
    out["persistent_perframe_over_dvg"] = ratio(out["perframe"]["ewarp_persistent"],
                                                out["dvg"]["ewarp_persistent"])
    return out


def perfect_fill_bound(source: np.ndarray, eye: np.ndarray, masks: np.ndarray) -> dict[str, float | None]:
    """What the best possible fill could reach: the eye's E_warp with its hole pixels scored at the source's level.

    Per pair (t, t+1), as ``api.evaluate`` (each sequence with its own flow): the eye's squared
    residual over its non-occluded pixels, except that pixels that are holes at t or t+1 (t+1
    carried) count the source's per-pair E_warp instead of their own — a fill exactly as steady
    as real footage. The mean over pairs, ÷ the source's E_warp, is the smallest whole-frame ratio
    any hole filling can give with this depth: what remains above it is the warped real content.

    Args:
        source: (N, H, W, 3) uint8 source (left) eye; eye: (N, H, W, 3) uint8 synthesised eye;
        masks: (N, H, W) bool holes of the eye.
    Returns:
        ratio_eye (as eval), ratio_outside_holes (non-hole pixels only), ratio_perfect_fill, and
        ratio_zero_error_fill (hole pixels counted as 0: a fill steadier than any real footage, e.g.
        a flat colour that the flow carries exactly — the floor of the metric, not of good filling).
    """
    est = FlowEstimator(EWARP_FLOW)
    src, whole, outside, perfect, frozen = (RunningMean() for _ in range(5))
    for t in range(len(eye) - 1):
        fw, bw = est.flow(source[t], source[t + 1]), est.flow(source[t + 1], source[t])
        valid = non_occluded(fw, bw)
        if not valid.any():
            continue
        e_src = float(np.mean(warp_residual(source[t], source[t + 1], fw) ** 2, axis=2)[valid].mean(dtype=np.float64))
        src.add(e_src)
        fw, bw = est.flow(eye[t], eye[t + 1]), est.flow(eye[t + 1], eye[t])
        valid = non_occluded(fw, bw)
        sq = np.mean(warp_residual(eye[t], eye[t + 1], fw) ** 2, axis=2)
        holes = valid & (masks[t] | carry_mask(masks[t + 1], fw))
        rest = valid & ~holes
        if not rest.any():
            continue
        whole.add(float(sq[valid].mean(dtype=np.float64)))
        outside.add(float(sq[rest].mean(dtype=np.float64)))
        perfect.add(float((sq[rest].sum(dtype=np.float64) + e_src * holes.sum()) / valid.sum()))
        frozen.add(float(sq[rest].sum(dtype=np.float64) / valid.sum()))
    base = src.value
    return {"ratio_eye": ratio(whole.value, base), "ratio_outside_holes": ratio(outside.value, base),
            "ratio_perfect_fill": ratio(perfect.value, base), "ratio_zero_error_fill": ratio(frozen.value, base)}


# ------------------------------------------------------------------------------------ one case


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def summary(pf: dict[str, Any], dv: dict[str, Any]) -> dict[str, float | None]:
    """The headline figures of one case from the two eval reports."""
    m0, m1 = pf["metrics"], dv["metrics"]
    out = {"ewarp_source": m0["ewarp_source"], "ewarp_right_perframe": m0["ewarp_right"],
           "ewarp_right_dvg": m1["ewarp_right"], "ratio_perframe": m0["ewarp_ratio_right"],
           "ratio_dvg": m1["ewarp_ratio_right"], "ewarp_holes_perframe": m0["ewarp_holes"],
           "ewarp_holes_dvg": m1["ewarp_holes"], "holes_perframe_over_dvg": ratio(m0["ewarp_holes"],
                                                                                  m1["ewarp_holes"]),
           "fill_flicker_perframe": m0["fill_flicker"], "fill_flicker_dvg": m1["fill_flicker"],
           "fill_flicker_perframe_over_dvg": ratio(m0["fill_flicker"], m1["fill_flicker"])}
    for key in ("psnr", "ssim", "psnr_holes", "ssim_holes"):
        if key in m0:
            out[f"{key}_perframe"], out[f"{key}_dvg"] = m0[key], m1[key]
    for key in ("psnr_source", "ssim_source"):
        if key in m0:
            out[key] = m0[key]
    return out


def flow_sources(case: Case, eyes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Frames to compute the common flow on: each path's right eye, and the real right view if any."""
    sources = {"perframe_eye": eyes["perframe"], "dvg_eye": eyes["dvg"]}
    if case.ground_truth is not None:
        real = read_eye(case.ground_truth)
        if real.shape == eyes["perframe"].shape:
            sources["real_right"] = real
    return sources


def run_case(case: Case, tmp: Path, sensitivity: bool) -> dict[str, Any]:
    """Both renders, their scores (hole-restricted on the per-frame masks), slice, floor, sensitivity."""
    per_frame, dvg = render(case, False, tmp), render(case, True, tmp)
    masks = read_masks(per_frame.holes)
    eyes = {"perframe": right_eye(per_frame), "dvg": right_eye(dvg)}
    stats = mask_stats(masks, read_masks(dvg.holes), eyes)
    row = busiest_row(masks)
    slices = {label: tmp / f"{case.name}_{label}_slice.png" for label in ("perframe", "dvg")}
    reports = {label: score(r.output, case.source, per_frame.holes, case.ground_truth, slice_row=row,
                            slice_out=slices[label]) for label, r in (("perframe", per_frame), ("dvg", dvg))}
    result: dict[str, Any] = {
        "title": case.title, "source": str(case.source), "max_width": case.max_width,
        "depth": None if case.depth is None else {"kind": case.depth.kind, "file": case.depth.path.name},
        "convert_seconds": {"perframe": per_frame.seconds, "dvg": dvg.seconds},
        "convert_notes": {"perframe": per_frame.notes, "dvg": dvg.notes}, "masks": stats,
        "summary": summary(reports["perframe"], reports["dvg"]),
        "same_flow_holes": {name: same_flow_holes(eyes, masks, frames)
                            for name, frames in flow_sources(case, eyes).items()},
        "bound": perfect_fill_bound(read_eye(per_frame.output.with_name(f"{per_frame.output.stem}_L.mkv")),
                                    eyes["dvg"], masks),
        "reports": reports}
    del eyes
    if case.floor == "source":  # the source's own E_warp over the same pixel positions
        floor = score(per_frame.output, case.source, per_frame.holes, eye="left")
        result["floor"] = {"what": "source E_warp over the per-frame hole pixels",
                           "ewarp_holes": floor["metrics"]["ewarp_holes"], "seconds": floor["seconds"]}
    if case.slice_png is not None:
        result["slice"] = compose_slice(slices["perframe"], slices["dvg"], masks, row, IMG / case.slice_png)
    if sensitivity:
        result["sensitivity"] = neighbours_sensitivity(case, tmp, per_frame, reports["dvg"])
    return result


def neighbours_sensitivity(case: Case, tmp: Path, per_frame: Render, default: dict[str, Any]) -> list[dict]:
    """DVG with K = 1 and 4 neighbours (K = 2 is the default run), hole figures on the same masks."""
    rows = [{"neighbours": DvgConfig().neighbours, "ewarp_ratio": default["metrics"]["ewarp_ratio_right"],
             "ewarp_holes": default["metrics"]["ewarp_holes"], "fill_flicker": default["metrics"]["fill_flicker"],
             "convert_seconds": None}]
    for k in SENSITIVITY_K:
        r = render(case, True, tmp, DvgConfig(neighbours=k), tag=f"dvg_k{k}")
        m = score(r.output, case.source, per_frame.holes)["metrics"]
        rows.append({"neighbours": k, "ewarp_ratio": m["ewarp_ratio_right"], "ewarp_holes": m["ewarp_holes"],
                     "fill_flicker": m["fill_flicker"], "convert_seconds": r.seconds})
    return sorted(rows, key=lambda item: item["neighbours"])


def calibrate(left: Path, sgbm_holes: Path) -> dict[str, Any]:
    """The real right view scored as the right eye of the real left view (pair ``euroc_L/_R.mkv``)."""
    report = score(left.with_name("euroc.mkv"), left, sgbm_holes)
    m = report["metrics"]
    return {"ewarp_left": m["ewarp_left"], "ewarp_right": m["ewarp_right"],
            "ratio_right_over_left": m["ewarp_ratio_right"],
            "ewarp_holes_real_right": m["ewarp_holes"], "seconds": report["seconds"], "report": report}


# ----------------------------------------------------------------------------------- provenance


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def provenance() -> dict[str, Any]:
    """Which engine was measured: HEAD, whether engine/dvg differs from it, a hash of its sources."""
    files = sorted((ROOT / "engine" / "dvg").glob("*.py"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()[:16]
    newest = max(files, key=lambda p: p.stat().st_mtime)
    return {"git_head": _git("log", "-1", "--format=%h %s"),
            "engine_dvg_uncommitted": _git("status", "--porcelain", "--", "engine/dvg").splitlines(),
            "engine_dvg_sha256_16": digest, "engine_dvg_newest_file": newest.name,
            "engine_dvg_newest_mtime": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                     time.gmtime(newest.stat().st_mtime)),
            "dvg_config": asdict(DvgConfig())}


# ---------------------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2e}" if abs(value) < 0.01 else f"{value:.{digits}f}"


def verdict(value: float | None, goal: float, at_most: bool) -> str:
    if value is None:
        return "n/a"
    ok = value <= goal if at_most else value >= goal
    return f"{fmt(value)} {'met' if ok else 'missed'}"


def temporal_table(cases: dict[str, Any], calibration: dict[str, Any]) -> str:
    lines = ["| clip | E_warp source | E_warp right, per-frame | E_warp right, DVG | ratio per-frame | "
             f"ratio DVG (goal ≤ {EWARP_GOAL}) | DVG outside holes | holes as steady as the source | "
             "holes error-free |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| EuRoC calibration: real right ÷ real left | {fmt(calibration['ewarp_left'])} | "
             f"{fmt(calibration['ewarp_right'])} (real) | | {fmt(calibration['ratio_right_over_left'])} | | | | |"]
    for case in cases.values():
        s = case["summary"]
        bound = case.get("bound", {})
        lines.append(f"| {case['title']} | {fmt(s['ewarp_source'])} | {fmt(s['ewarp_right_perframe'])} | "
                     f"{fmt(s['ewarp_right_dvg'])} | {fmt(s['ratio_perframe'])} | "
                     f"{verdict(s['ratio_dvg'], EWARP_GOAL, True)} | {fmt(bound.get('ratio_outside_holes'))} | "
                     f"{fmt(bound.get('ratio_perfect_fill'))} | {fmt(bound.get('ratio_zero_error_fill'))} |")
    return "\n".join(lines)


def holes_table(cases: dict[str, Any], calibration: dict[str, Any]) -> str:
    lines = ["| clip | hole share | E_warp holes, per-frame | E_warp holes, DVG | "
             f"per-frame ÷ DVG (goal ≥ {HOLE_GOAL}) | floor (same pixels) | fill flicker per-frame / DVG |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, case in cases.items():
        s = case["summary"]
        floor = (calibration["ewarp_holes_real_right"] if name == "euroc_sgbm"
                 else case.get("floor", {}).get("ewarp_holes"))
        floor_label = {"euroc_sgbm": " (real right)", "davis_wf": " (source)"}.get(name, "")
        lines.append(f"| {case['title']} | {case['masks']['hole_share']:.1%} | "
                     f"{fmt(s['ewarp_holes_perframe'])} | {fmt(s['ewarp_holes_dvg'])} | "
                     f"{verdict(s['holes_perframe_over_dvg'], HOLE_GOAL, False)} | "
                     f"{fmt(floor)}{floor_label if floor is not None else ''} | "
                     f"{fmt(s['fill_flicker_perframe'])} / {fmt(s['fill_flicker_dvg'])} "
                     f"(×{fmt(s['fill_flicker_perframe_over_dvg'], 2)}) |")
    return "\n".join(lines)


FLOW_LABELS = {"perframe_eye": "per-frame eye", "dvg_eye": "DVG eye", "real_right": "real right view"}


def same_flow_table(cases: dict[str, Any]) -> str:
    lines = ["| clip | flow computed on | flipped / interior share of hole px | all hole px: per-frame / DVG (÷) | "
             "persistent px (÷) | interior px (÷) | flipped px' part of the error, per-frame / DVG |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for case in cases.values():
        for source, f in case["same_flow_holes"].items():
            a, b = f["perframe"], f["dvg"]
            lines.append(
                f"| {case['title']} | {FLOW_LABELS[source]} | {f['flipped_share']:.0%} / {f['interior_share']:.1%} | "
                f"{fmt(a['ewarp_holes'])} / {fmt(b['ewarp_holes'])} (×{fmt(f['holes_perframe_over_dvg'])}) | "
                f"{fmt(a['ewarp_persistent'])} / {fmt(b['ewarp_persistent'])} "
                f"(×{fmt(f['persistent_perframe_over_dvg'])}) | {fmt(a['ewarp_interior'])} / "
                f"{fmt(b['ewarp_interior'])} (×{fmt(f['interior_perframe_over_dvg'])}) | "
                f"{a['flipped_error_share']:.0%} / {b['flipped_error_share']:.0%} |")
    return "\n".join(lines)


def quality_table(cases: dict[str, Any]) -> str:
    lines = ["| clip | PSNR per-frame | PSNR DVG | SSIM per-frame | SSIM DVG | PSNR holes per-frame | "
             "PSNR holes DVG | SSIM holes per-frame | SSIM holes DVG | source as right (PSNR / SSIM) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for case in cases.values():
        s = case["summary"]
        if "psnr_perframe" not in s:
            continue
        cells = [fmt(s[f"{k}_{p}"], 2 if k.startswith("psnr") else 4)
                 for k in ("psnr", "ssim", "psnr_holes", "ssim_holes") for p in ("perframe", "dvg")]
        lines.append(f"| {case['title']} | {' | '.join(cells)} | {fmt(s['psnr_source'], 2)} / "
                     f"{fmt(s['ssim_source'], 4)} |")
    return "\n".join(lines)


def sensitivity_table(case: dict[str, Any]) -> str:
    lines = ["| neighbours K | E_warp right ÷ source | E_warp holes | per-frame ÷ DVG (holes) | fill flicker |",
             "|---:|---:|---:|---:|---:|"]
    pf = case["summary"]["ewarp_holes_perframe"]
    for row in case["sensitivity"]:
        lines.append(f"| {row['neighbours']}{' (default)' if row['neighbours'] == DvgConfig().neighbours else ''} | "
                     f"{fmt(row['ewarp_ratio'])} | {fmt(row['ewarp_holes'])} | {fmt(ratio(pf, row['ewarp_holes']))} | "
                     f"{fmt(row['fill_flicker'])} |")
    return "\n".join(lines)


def markdown_tables(payload: dict[str, Any]) -> str:
    cases, cal = payload["cases"], payload["calibration"]
    prov = payload["provenance"]
    dirty = "uncommitted changes in engine/dvg" if prov["engine_dvg_uncommitted"] else "engine/dvg as committed"
    if "changed_during_run" in prov:
        dirty += " (engine/dvg changed during the run: figures are of the state at its start)"
    parts = ["<!-- tables -->",
             f"Measured state: HEAD `{prov['git_head']}`, {dirty} (sources sha256 "
             f"`{prov['engine_dvg_sha256_16']}`, newest file {prov['engine_dvg_newest_file']} "
             f"{prov['engine_dvg_newest_mtime']}); whole script {payload['seconds'] / 60:.1f} min on "
             f"{payload['cpu_count']} cores.",
             "### Temporal stability of the synthesised eye (E_warp, whole frame)", temporal_table(cases, cal),
             "### Inside the disocclusions (the per-frame path's hole masks, for both paths)",
             holes_table(cases, cal),
             "### Same pixels, one flow: persistent vs flipping hole pixels", same_flow_table(cases),
             "### Against the real right view (EuRoC)", quality_table(cases)]
    sens = [c for c in cases.values() if "sensitivity" in c]
    for case in sens:
        parts += [f"### Sensitivity: DVG neighbours, {case['title']}", sensitivity_table(case)]
    sg = payload["euroc_disparity"]
    parts += ["### EuRoC SGBM disparity, frame to frame (static camera)",
              "| map | mean change px | median px | share > 0.5 px | share > 2 px | known share |\n"
              "|---|---:|---:|---:|---:|---:|\n" + "\n".join(
                  f"| {k} | {v['mean_px']:.3f} | {v['median_px']:.3f} | {v['share_over_0.5px']:.1%} | "
                  f"{v['share_over_2px']:.1%} | {v['known_share']:.1%} |" for k, v in
                  (("SGBM as matched", sg["raw"]), ("densified (imported)", sg["densified"]))),
              "<!-- /tables -->"]
    return "\n\n".join(parts)


def write_doc(tables: str) -> None:
    empty = "# DVG on real data: evaluation\n\n<!-- tables -->\n<!-- /tables -->\n"
    text = DOC.read_text() if DOC.exists() else empty
    head, _, rest = text.partition("<!-- tables -->")
    _, _, tail = rest.partition("<!-- /tables -->")
    write_atomic(DOC, head + tables + tail)


# ------------------------------------------------------------------------------------------ main


def cases_for(left: Path, right: Path, sgbm: Path) -> list[Case]:
    return [
        Case("euroc_sgbm", "EuRoC, SGBM disparity imported", left, right,
             api.ImportedDepthSpec(sgbm, "disparity-px"), floor="real", slice_png="dvg_slice_euroc.png"),
        Case("euroc_wf", "EuRoC, weights-free depth", left, right, None),
        Case("davis_wf", "DAVIS rollercoaster (480 px), weights-free depth", DAVIS, None, None, max_width=480,
             floor="source", slice_png="dvg_slice_davis.png"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the masters, masks and slices in this folder")
    parser.add_argument("--no-sensitivity", action="store_true", help="skip DVG with K = 1 and 4 (DAVIS)")
    args = parser.parse_args()
    for path in (EUROC, DAVIS):
        if not path.exists():
            sys.exit(f"{path}: shared data not found (see ../shared/data/README.md)")
    started, measured = time.perf_counter(), provenance()  # engine/dvg as imported by this run
    IMG.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="dvg_eval_"))
    try:
        left, right, sgbm, disparity_stats = prepare_euroc(tmp)
        cases: dict[str, Any] = {}
        for case in cases_for(left, right, sgbm):
            print(f"{case.name} ...", flush=True)
            sens = case.name == "davis_wf" and not args.no_sensitivity
            cases[case.name] = run_case(case, tmp, sens)
        calibration = calibrate(left, tmp / "euroc_sgbm_perframe.holes_R.mkv")
        after = provenance()
        if after["engine_dvg_sha256_16"] != measured["engine_dvg_sha256_16"]:
            measured["changed_during_run"] = after
            print("warning: engine/dvg changed during the run; the figures are of the state at its start")
        payload = {"schema": SCHEMA, "provenance": measured, "cpu_count": _cpu_count(),
                   "goals": {"ewarp_ratio_at_most": EWARP_GOAL, "holes_perframe_over_dvg_at_least": HOLE_GOAL},
                   "calibration": calibration, "euroc_disparity": disparity_stats, "cases": cases,
                   "seconds": time.perf_counter() - started}
        write_atomic(RESULTS, json.dumps(payload, indent=2, allow_nan=False) + "\n")
        tables = markdown_tables(payload)
        write_doc(tables)
        print(tables)
    finally:
        if args.keep is not None:
            shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


if __name__ == "__main__":
    main()
