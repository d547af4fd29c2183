"""`spatialdreamer eval OUTPUT --source SRC`: temporal stability and ground-truth scores of a stereo master.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine import api
from engine.cli.options import common_options, positive_int
from engine.cli.progress import run_job

NAME = "eval"

EXAMPLES_EVAL = """examples:
  spatialdreamer eval shot_sbs.mp4 --source shot.mp4
  spatialdreamer eval shot_sbs.mp4 --source shot.mp4 --slice-row 240 --slice-out slice.png
  spatialdreamer eval eyes.mp4 --source left.mp4 --layout pair --ground-truth right.mp4 --json
  spatialdreamer eval master.mov --source shot.mov --start 10 --end 20 --max-frames 48
  spatialdreamer eval dvg.mkv --source left.mp4 --layout pair --holes h.mkv --flow-reference perframe_R.mkv

E_warp (Lai et al. 2018) is computed for the source and for each eye with its own optical flow;
a ratio eye/source near 1 means the conversion added no temporal instability. PSNR / SSIM need a
ground-truth view of --eye (render with --synthesize right to compare against a real right view);
figures restricted to disocclusions need per-frame hole masks (--holes, white = hole).
Each sequence scored with its own flow favours a fill that its own flow follows; to compare two
masters, score both with --flow-reference set to one view (ideally the real view of --eye).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `eval` sub-command (with the common flags) to `subparsers`."""
    p = subparsers.add_parser(NAME, help="score a stereo master: E_warp, fill flicker, PSNR/SSIM",
                              epilog=EXAMPLES_EVAL, formatter_class=argparse.RawDescriptionHelpFormatter,
                              parents=[common_options()])
    p.add_argument("output", type=Path, help="the master (for --layout pair the name given to convert)")
    p.add_argument("--source", type=Path, required=True, help="the clip the master was rendered from")
    p.add_argument("--layout", choices=api.LAYOUTS, default="sbs-full", help="how the master is packed")
    p.add_argument("--swap-eyes", action="store_true", help="the master was rendered with --swap-eyes")
    p.add_argument("--eye", choices=api.EVAL_EYES, default="right",
                   help="eye scored against the ground truth and hole masks (default right)")
    p.add_argument("--ground-truth", type=Path, metavar="VIDEO",
                   help="the real view of --eye, aligned with the source")
    p.add_argument("--holes", type=Path, metavar="VIDEO", help="per-frame hole masks of --eye (white = hole)")
    p.add_argument("--flow-reference", type=Path, metavar="VIDEO",
                   help="score --eye's E_warp with flow computed on this view (the real view, or the same "
                        "eye of another master) instead of on the eye itself: one flow to compare masters")
    p.add_argument("--slice-row", type=int, metavar="N",
                   help="write the x-t slice of eye row N (needs --slice-out)")
    p.add_argument("--slice-out", type=Path, metavar="PATH.png", help="where the slice image goes")
    p.add_argument("--max-frames", type=positive_int, metavar="N", help="score at most N frames")
    p.add_argument("--start", metavar="T", help="the --start the master was rendered with")
    p.add_argument("--end", metavar="T", help="the --end the master was rendered with")
    p.add_argument("--overwrite", action="store_true", help="replace an existing slice image")
    p.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    return p


def request_from_args(args: argparse.Namespace) -> api.EvalRequest:
    """The one place this sub-command's Namespace becomes an api.EvalRequest."""
    return api.EvalRequest(output=args.output, source=args.source, layout=args.layout, eye=args.eye,
                       ground_truth=args.ground_truth, holes=args.holes, swap_eyes=args.swap_eyes,
                       slice_row=args.slice_row, slice_out=args.slice_out, max_frames=args.max_frames,
                       start=args.start, end=args.end, flow_reference=args.flow_reference,
                       overwrite=args.overwrite)


def _run(args: argparse.Namespace, request: api.EvalRequest) -> api.EvalReport:
    return run_job(lambda token: api.evaluate(request, cancel=token), args.progress, args.quiet)


def run(args: argparse.Namespace) -> int:
    """Score args.output against args.source; print a table or JSON; write the slice if asked."""
    if args.json and args.progress == "json":
        raise api.UsageError("--json and --progress json both write to stdout; drop one of them")
    report = _run(args, request_from_args(args))
    if args.json:
        print(report.to_json())
        return 0
    if not args.quiet:
        w, h = report.eye_size
        print(f"{report.output}: {report.layout}, {report.frames} frame{'s' if report.frames != 1 else ''}, "
              f"eyes {w}x{h}; scored eye: {report.eye}")
    print(report.format_table())
    if report.slice_path is not None and not args.quiet:
        print(f"wrote {report.slice_path}", file=sys.stderr)
    return 0
