"""`spatialdreamer train-refiner --config CONFIG --data PAIRS… --out DIR`: train (or resume) the refiner.

Multi-GPU / multi-node: ``accelerate launch -m engine train-refiner …`` (Accelerate decides the devices).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine import api
from engine.cli.options import common_options, positive_int
from engine.cli.progress import run_job

NAME = "train-refiner"

EXAMPLES = """examples:
  spatialdreamer train-refiner --config tiny --data pairs/ --out runs/tiny --max-steps 60
  spatialdreamer train-refiner --config small --data pairs/ more_pairs/ --out runs/small --max-minutes 60
  accelerate launch -m engine train-refiner --config svd-xt --data pairs/ --out runs/xt --models-dir models/

--out DIR holds the trained pipeline on top (EMA weights: `convert --refiner DIR` uses it), loss.csv (one
row per optimiser step, the raw loss in `loss`, validation figures in val_* columns), training.json and
resumable checkpoints in checkpoints/. Rerun the same command to continue from the last checkpoint.
svd-xt starts from svd-xt/ and sd21/ in the models folder (diffusers layout); nothing is downloaded.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(NAME, help="train the SpatialDreamer diffusion refiner on make-pairs data",
                              epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                              parents=[common_options()])
    p.add_argument("--config", default="small", metavar="NAME|FILE.json",
                   help="tiny (tests), small (CPU-trainable), svd-xt (the paper's scale) or a JSON config")
    p.add_argument("--data", nargs="+", type=Path, required=True, metavar="PAIRS_DIR",
                   help="PairDataset.1 folders written by make-pairs")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the run folder (resumed if it exists)")
    p.add_argument("--max-steps", type=positive_int, metavar="N", help="optimiser steps to reach")
    p.add_argument("--max-minutes", type=float, metavar="MIN", help="stop with a checkpoint after MIN minutes")
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    p.add_argument("--batch-size", type=positive_int, metavar="N", help="override the config's batch size")
    p.add_argument("--learning-rate", type=float, metavar="LR", help="override the config's learning rate")
    p.add_argument("--mixed-precision", choices=("bf16", "no"), help="override (bf16 needs CUDA)")
    p.add_argument("--checkpoint-every", type=positive_int, metavar="N", help="steps between checkpoints")
    p.add_argument("--validate-every", type=positive_int, metavar="N", help="steps between validation passes")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="data loader worker processes")
    return p


def run(args: argparse.Namespace) -> int:
    request = api.TrainRequest(
        config=args.config, data=tuple(args.data), output=args.out, max_steps=args.max_steps,
        models_dir=args.models_dir, device=args.device, seed=args.seed, batch_size=args.batch_size,
        learning_rate=args.learning_rate, mixed_precision=args.mixed_precision,
        checkpoint_every=args.checkpoint_every, validate_every=args.validate_every, max_minutes=args.max_minutes,
        num_workers=args.workers)
    report = run_job(lambda token: api.train_refiner(request, cancel=token), args.progress, args.quiet)
    summary = {"output": str(report.output), "steps": report.steps, "resumed_from": report.resumed_from,
               "first_loss": report.first_loss, "last_loss": report.last_loss, "validation": report.validation}
    if args.progress == "json":
        print(json.dumps({"report": summary}), flush=True)
    elif not args.quiet:
        val = report.validation
        hole = "" if not val.get("val_psnr_hole") else (
            f"; held-out holes {val['val_psnr_hole']:.2f} dB (geometric {val['geo_psnr_hole']:.2f} dB)")
        print(f"{report.output}: {report.steps} steps (from {report.resumed_from}), loss "
              f"{report.first_loss if report.first_loss is not None else float('nan'):.4f} -> "
              f"{report.last_loss if report.last_loss is not None else float('nan'):.4f}{hole}", file=sys.stderr)
    return 0
