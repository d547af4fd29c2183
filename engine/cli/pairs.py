"""`spatialdreamer make-pairs INPUT… -o DIR`: build (or resume) the forward-backward pair dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine import api
from engine.cli.options import common_options, positive_int
from engine.cli.progress import run_job

NAME = "make-pairs"

EXAMPLES_PAIRS = """examples:
  spatialdreamer make-pairs footage/ -o pairs/
  spatialdreamer make-pairs a.mp4 b.mov clips/ -o pairs/ --divergence-range 2 6 --seed 7 --max-frames 120
  spatialdreamer make-pairs footage/ -o pairs/ --temporal off --max-width 512 --progress json

The source is the LEFT (reference) view; the RIGHT view is rendered, inpainted, and rendered back.
Rerunning with the same -o resumes: complete clips are kept, the rest is built. Folders are read
non-recursively; files that are not videos are skipped and listed at the end. Format: docs/pair_dataset.md.
"""


_UNSET = object()
"""--max-width not given (None means 'full': the source width)."""


def _max_width(text: str) -> int | None:
    """'960' -> 960; 'full' (or 'none') -> None (the source width)."""
    if text.strip().lower() in ("full", "none"):
        return None
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a width in pixels (or 'full')") from exc
    if value < 16:
        raise argparse.ArgumentTypeError(f"{text} is too small (16 px at least)")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `make-pairs` sub-command (with the common flags) to `subparsers`.

    Options left unset keep PairRequest's own defaults (named in the help).
    """
    p = subparsers.add_parser(
        NAME,
        help="build the forward-backward stereo pair dataset (refiner training)",
        epilog=EXAMPLES_PAIRS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common_options()],
    )
    p.add_argument(
        "inputs", nargs="+", type=Path, metavar="INPUT", help="video files and/or folders of videos"
    )
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="the dataset folder")
    g = p.add_argument_group("pairs")
    g.add_argument(
        "--divergence-range",
        nargs=2,
        type=float,
        metavar=("A", "B"),
        help="each clip's divergence is drawn uniformly from [A, B] %% of eye width (default 1.5 5)",
    )
    g.add_argument(
        "--convergence",
        type=float,
        metavar="0..1",
        help="normalised depth of the screen plane (default 0.333)",
    )
    g.add_argument("--seed", type=int, help="dataset seed (default 0)")
    g.add_argument(
        "--max-width",
        type=_max_width,
        default=_UNSET,
        metavar="PX|full",
        help="cap one eye's width (default 960; 'full' keeps the source width)",
    )
    g.add_argument(
        "--max-frames", type=positive_int, metavar="N", help="at most N frames per clip (from its start)"
    )
    g.add_argument(
        "--temporal",
        choices=("on", "off"),
        default="on",
        help="inpaint the target view temporally (DVG, default) or spatially per frame",
    )
    g.add_argument(
        "--disparity", action="store_true", help="also write each frame's disparity as float32 .npy"
    )
    g.add_argument(
        "--overwrite", action="store_true", help="delete an existing dataset in DIR and rebuild it"
    )
    d = p.add_argument_group("depth")
    d.add_argument(
        "--depth-model",
        choices=api.MODEL_NAMES,
        default="auto",
        help="auto: the best model in the models folder, else weights-free",
    )
    d.add_argument(
        "--stabilise",
        choices=api.STABILISE_MODES,
        default="align",
        help="temporal depth stabilisation within a shot (default align)",
    )
    d.add_argument(
        "--shots",
        choices=("auto", "off"),
        default="auto",
        help="auto: detect cuts (depth and DVG restart at each); off: one shot per clip",
    )
    return p


def pair_request_from_args(args: argparse.Namespace) -> api.PairRequest:
    """The one place the make-pairs Namespace becomes an api.PairRequest (unset flags: its defaults)."""
    given = {"divergence_range": None if args.divergence_range is None else tuple(args.divergence_range),
             "convergence": args.convergence, "seed": args.seed}
    if args.max_width is not _UNSET:
        given["max_width"] = args.max_width
    return api.PairRequest(
        inputs=tuple(args.inputs),
        output=args.output,
        **{k: v for k, v in given.items() if v is not None},
        max_frames=args.max_frames,
        temporal=args.temporal == "on",
        write_disparity=args.disparity,
        depth_config=api.DepthConfig(model=args.depth_model, models_dir=args.models_dir, device=args.device),
        stabilise=api.StabiliseConfig(mode=args.stabilise),
        shots=args.shots,
        device=args.device,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        overwrite=args.overwrite,
    )


def report_lines(report: api.PairReport) -> list[str]:
    """The end-of-run summary: what was built, kept and skipped (every skipped input by name)."""
    lines = [
        f"{report.output}: {len(report.built)} clip(s) built ({report.frames_built} frames), "
        f"{len(report.reused)} kept from an earlier run"
    ]
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} input(s) that are not usable videos:")
        lines += [f"  {s.path}: {s.reason}" for s in report.skipped]
    return lines


def report_json(report: api.PairReport) -> dict:
    return {
        "report": {
            "output": str(report.output),
            "built": list(report.built),
            "reused": list(report.reused),
            "frames_built": report.frames_built,
            "orphans": list(report.orphans),
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in report.skipped],
        }
    }


def run(args: argparse.Namespace) -> int:
    """Run make_pairs with a progress bar; Ctrl-C cancels cleanly (the clip in progress is redone later)."""
    request = pair_request_from_args(args)
    report: api.PairReport = run_job(lambda token: api.make_pairs(request, cancel=token), args.progress,
                                     args.quiet)
    if args.progress == "json":
        print(json.dumps(report_json(report)), flush=True)
    elif not args.quiet:
        print("\n".join(report_lines(report)), file=sys.stderr)
    return 0
