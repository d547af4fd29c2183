"""Geometric vs geometric + refiner on the hole pixels of the right view of real stereo pairs (GT disparity).

The protocol of the README's view-synthesis table (``synthesize="right"``, GT disparity as ``disparity-px``,
the right-most ⌈max d⌉ columns left out) restricted to the right view's hole pixels — the only pixels the
refiner changes (composited over the dilated, feathered hole mask, as ``convert`` does). A still is refined
as a static clip of the config's training window length.

    .venv/bin/python bench/refiner_middlebury.py RUN_DIR [--steps N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.stereo_protocol import PAIRS  # noqa: E402
from tests.support.stereo_protocol import load_pair as load_pair_u8  # noqa: E402


def load_pair(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left, right) (H, W, 3) float32 in [0, 1] and the left GT disparity (H, W) px, NaN = unknown: the scored
    protocol's own loader (tests/support/stereo_protocol.py), in floats."""
    left, right, disp = load_pair_u8(name)
    return left.astype(np.float32) / 255.0, right.astype(np.float32) / 255.0, disp


def evaluate_refiner(run: Path, steps: int | None = None, pairs=PAIRS) -> dict:
    """Hole PSNR/SSIM of the geometric right view and of geometric + refiner, per pair and pooled."""
    from engine.ops import render_views
    from engine.refiner.composite import composite_refined
    from engine.refiner.evaluation import HoleScore
    from engine.refiner.pipeline import SpatialDreamerPipeline

    pipe = SpatialDreamerPipeline.from_pretrained(run)
    window = max(1, int(json.loads((Path(run) / "training.json").read_text())["config"]["train"]["num_frames"]))
    rows, pooled = [], {"geometric": HoleScore(), "refined": HoleScore()}
    t0 = time.perf_counter()
    for name in pairs:
        left, right, disp = load_pair(name)
        image = torch.from_numpy(left).permute(2, 0, 1)[None].contiguous()
        views = render_views(image, torch.from_numpy(disp)[None, None], synthesize="right")
        holes = views.right_holes
        crop = math.ceil(float(np.nanmax(disp)))
        clip = [x.repeat(window, 1, 1, 1) for x in (image, views.right, holes)]
        refined = pipe(*clip, num_inference_steps=steps, window=window, window_overlap=0, seed=0).frames[:1]
        out = composite_refined(views.right, refined, holes)
        keep = holes[0, 0].numpy().copy()
        keep[:, keep.shape[1] - crop:] = False
        truth = right
        row = {"pair": name, "holes_%": 100.0 * float(keep.mean())}
        for key, estimate in (("geometric", views.right), ("refined", out)):
            score = HoleScore()
            est = estimate[0].permute(1, 2, 0).numpy()
            score.add(est, truth, keep)
            pooled[key].add(est, truth, keep)
            row[f"psnr_{key}"], row[f"ssim_{key}"] = score.psnr, score.ssim
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"run": str(run), "steps": steps or pipe.config.default_steps, "window": window, "pairs": rows,
            "pooled": {k: {"psnr": v.psnr, "ssim": v.ssim} for k, v in pooled.items()},
            "seconds": time.perf_counter() - t0, "loadavg": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = evaluate_refiner(args.run, args.steps)
    print(json.dumps(result["pooled"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
