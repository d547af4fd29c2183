"""Occlusion order from the flow: how often "this surface covers that one" constraints from DIS flow are right.

Issue #17 asks for occlusion boundaries from the flow as ordinal constraints on the depth (where one surface
covers another between frames, the covering one is nearer). Before imposing such constraints on the depth, this
measures whether they can be *found*: two constructions on the flow the weights-free provider computes (DIS
``fast`` at the working size, both directions), scored against ground truth on the real stills seen as a
2-frame clip (left → right: the right view hides real background strips beside every foreground edge), and
counted on the DAVIS clip, whose fixture pairs are the target.

* **round trip**: a pixel x whose forward–backward round trip misses by more than 2 px is hidden in the other
  frame; the round trip's end z = x + u(x) + v(x + u(x)) is the pixel visible where x went, so z should
  cover x. Kept when z's own round trip is consistent (< 0.7 px), both are textured and their flows differ
  by at least 1.5 px (a motion boundary, not noise).
* **patch ownership**: at a motion boundary (flows 4 px either side differ by more than 1.5 px, on an image
  edge), the side whose flow carries the 5 × 5 patch around the boundary into the other frame better (by a
  factor 0.6 in squared error) owns the edge and is nearer.

A constraint is right when the GT disparity at the "near" pixel is larger than at the "far" one. Writes
bench/results/depth_occlusion.json and the table of docs/depth_eval.md between its ``depth-occlusion``
markers. Run: ``python bench/eval_depth_occlusion.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

# ruff: noqa: E402  (the repository root goes on sys.path before the project imports)
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cv2
import numpy as np

from bench.eval_depth import load_stills, read_video, replace_block, write_atomic
from engine.depth import DepthConfig
from engine.depth.cues.refine import texture_confidence
from engine.depth.weights_free import WeightsFreeSettings
from engine.flow import FlowConfig, FlowEstimator, sample_grid, to_gray, working_size
from tests.support.ordinal import load_ordinal

DIRECTIONS = np.array([(1, 0), (0, 1), (1, 1), (1, -1)], np.float32)


def round_trip_pairs(flow: np.ndarray, back: np.ndarray, texture: np.ndarray, min_gap: float = 2.0,
                     cover_tol: float = 0.7, min_motion: float = 1.5,
                     min_texture: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(near, far) flat indices: far is hidden in the other frame, near is where its round trip ends.

    Args:
        flow: (h, w, 2) this frame → the other; back: (h, w, 2) the other → this frame.
        texture: (h, w) texture confidence in [0, 1].
    """
    h, w = texture.shape
    map_x, map_y = sample_grid(flow)
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    back_at = cv2.remap(back, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    end_x, end_y = map_x + back_at[..., 0], map_y + back_at[..., 1]
    gap = np.hypot(end_x - np.arange(w, dtype=np.float32)[None, :], end_y - np.arange(h, dtype=np.float32)[:, None])
    ys, xs = np.nonzero(inside & (gap > min_gap) & (texture >= min_texture))
    cx = np.clip(np.rint(end_x[ys, xs]).astype(np.int64), 0, w - 1)
    cy = np.clip(np.rint(end_y[ys, xs]).astype(np.int64), 0, h - 1)
    motion = np.hypot(*(flow[cy, cx] - flow[ys, xs]).T)
    ok = inside[cy, cx] & (gap[cy, cx] < cover_tol) & (texture[cy, cx] >= min_texture) & (motion >= min_motion)
    return (cy * w + cx)[ok], (ys * w + xs)[ok]


def _sample(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return cv2.remap(image, x.astype(np.float32).reshape(-1, 1), y.astype(np.float32).reshape(-1, 1),
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()


def ownership_pairs(flow: np.ndarray, cur: np.ndarray, other: np.ndarray, radius: int = 4, min_motion: float = 1.5,
                    ratio: float = 0.6, half: int = 2, min_edge: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """(near, far) flat indices: at a motion boundary, the side whose flow carries the boundary's patch better.

    Args:
        flow: (h, w, 2) this frame → the other; cur, other: (h, w) uint8 grey of this and the other frame.
    """
    h, w = cur.shape
    here, there = cur.astype(np.float32), other.astype(np.float32)
    edge = np.hypot(cv2.Sobel(here, cv2.CV_32F, 1, 0) / 8.0, cv2.Sobel(here, cv2.CV_32F, 0, 1) / 8.0)
    best, pick = np.zeros((h, w), np.float32), np.zeros((h, w), np.int64)
    steps = []
    for k, (dx, dy) in enumerate(DIRECTIONS):
        sx, sy = int(round(dx * radius / np.hypot(dx, dy))), int(round(dy * radius / np.hypot(dx, dy)))
        steps.append((sx, sy))
        ahead, behind = np.roll(flow, (-sy, -sx), axis=(0, 1)), np.roll(flow, (sy, sx), axis=(0, 1))
        diff = np.hypot(*(ahead - behind).transpose(2, 0, 1))
        better = diff > best
        best[better], pick[better] = diff[better], k
    border = radius + half + 1
    ys, xs = np.nonzero((best > min_motion) & (edge > min_edge))
    keep = (ys >= border) & (ys < h - border) & (xs >= border) & (xs < w - border)
    ys, xs = ys[keep], xs[keep]
    step = np.array(steps)[pick[ys, xs]]
    ax, ay, bx, by = xs + step[:, 0], ys + step[:, 1], xs - step[:, 0], ys - step[:, 1]
    flow_a, flow_b = flow[ay, ax], flow[by, bx]
    cost_a, cost_b = np.zeros(ys.size, np.float32), np.zeros(ys.size, np.float32)
    for oy in range(-half, half + 1):
        for ox in range(-half, half + 1):
            px, py = xs + ox, ys + oy
            value = here[py, px]
            cost_a += (value - _sample(there, px + flow_a[:, 0], py + flow_a[:, 1])) ** 2
            cost_b += (value - _sample(there, px + flow_b[:, 0], py + flow_b[:, 1])) ** 2
    a_owns, b_owns = cost_a < ratio * cost_b, cost_b < ratio * cost_a
    near = np.concatenate([(ay * w + ax)[a_owns], (by * w + bx)[b_owns]])
    far = np.concatenate([(by * w + bx)[a_owns], (ay * w + ax)[b_owns]])
    return near, far


def flows(est: FlowEstimator, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DIS flow a → b and b → a of two (h, w) uint8 grey frames at their size."""
    return est.flow_small(a, b), est.flow_small(b, a)


def precision(near: np.ndarray, far: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Share of constraints whose GT disparity is larger at `near`, among those where GT orders the two.

    Pairs on one surface (equal GT disparity) or with unknown GT are left out of the share.
    """
    g = gt.ravel()
    known = np.isfinite(g[near]) & np.isfinite(g[far]) & (g[near] != g[far])
    right = g[near][known] > g[far][known]
    return {"constraints": int(near.size), "with_gt": int(known.sum()),
            "right": float(right.mean()) if known.any() else float("nan")}


def small_grey(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (h, w) uint8 grey at the provider's working size, as the provider makes it."""
    height, width = image.shape[:2]
    size = working_size(width, height, DepthConfig().working_width)
    return to_gray(image if size == (width, height) else cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def provider_flow() -> FlowEstimator:
    """DIS with the weights-free provider's preset, at the size it is given."""
    return FlowEstimator(FlowConfig(preset=WeightsFreeSettings().flow_preset, working_width=None))


def eval_stills() -> dict[str, dict[str, dict[str, float]]]:
    est = provider_flow()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, left, right, gt in load_stills():
        a, b = small_grey(left), small_grey(right)
        gt_small = gt if gt.shape == a.shape else cv2.resize(gt, a.shape[::-1], interpolation=cv2.INTER_NEAREST)
        fw, bw = flows(est, a, b)
        texture = texture_confidence(a)
        out[name] = {"round trip": precision(*round_trip_pairs(fw, bw, texture), gt_small),
                     "patch ownership": precision(*ownership_pairs(fw, a, b), gt_small)}
    return out


def eval_davis() -> dict[str, object]:
    fixture = load_ordinal()
    frames = read_video(fixture.media)[: max(fixture.frames) + 1]
    small = [small_grey(f) for f in frames]
    size = small[0].shape[::-1]
    est = provider_flow()
    per_frame = []
    for t in range(1, len(small)):
        back_to_prev, prev_to_cur = flows(est, small[t], small[t - 1])
        per_frame.append(int(round_trip_pairs(back_to_prev, prev_to_cur, texture_confidence(small[t]))[0].size))
    full = {}
    medium = FlowEstimator(FlowConfig(preset="medium", working_width=None))
    for t in fixture.frames:
        cur, prev = to_gray(frames[t]), to_gray(frames[t - 1])
        back_to_prev, prev_to_cur = flows(medium, cur, prev)
        near, far = round_trip_pairs(back_to_prev, prev_to_cur, texture_confidence(cur))
        full[str(t)] = int(near.size)
    return {"working_size": list(size), "round_trip_per_frame_working_size": per_frame,
            "round_trip_full_size_dis_medium": full}


def table(stills: dict, davis: dict) -> str:
    lines = ["| still (pair as 2-frame motion) | round trip: constraints (with a GT order) / right "
             "| patch ownership: constraints (with a GT order) / right |", "|---|---:|---:|"]
    for name, r in stills.items():
        cells = [f"{r[k]['constraints']} ({r[k]['with_gt']}) / " + ("—" if np.isnan(r[k]["right"]) else
                                                                     f"{r[k]['right']:.0%}")
                 for k in ("round trip", "patch ownership")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    counts = davis["round_trip_per_frame_working_size"]
    full = ", ".join(f"f{t}: {n}" for t, n in davis["round_trip_full_size_dis_medium"].items())
    w, h = davis["working_size"]
    lines.append("")
    lines.append(f"DAVIS rollercoaster, round trip at the working size ({w} × {h}, DIS fast, frames 1–{len(counts)}): "
                 f"{sum(counts)} constraints in all, {sum(c > 0 for c in counts)} frames with any; at the clip's "
                 f"960 × 540 with DIS medium on the fixture's frames: {full}.")
    return "\n".join(lines)


def main() -> None:
    started, load = time.perf_counter(), os.getloadavg()
    stills, davis = eval_stills(), eval_davis()
    payload = {"schema": "DepthOcclusion.1", "stills": stills, "davis": davis, "load_avg_start": load,
               "seconds": time.perf_counter() - started}
    write_atomic(ROOT / "bench" / "results" / "depth_occlusion.json", json.dumps(payload, indent=2) + "\n")
    text = table(stills, davis)
    print(text)
    replace_block(ROOT / "docs" / "depth_eval.md", "depth-occlusion", text)


if __name__ == "__main__":
    main()
