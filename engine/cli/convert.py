"""`spatialdreamer convert INPUT -o OUTPUT`: a video or still into a stereo master."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from engine import api
from engine.cli.options import common_options, convert_request, encode_options, refiner_options, render_options
from engine.cli.progress import run_job

NAME = "convert"
EXAMPLES = """examples:
  spatialdreamer convert shot.mp4 -o shot_sbs.mp4
  spatialdreamer convert shot.mov -o master.mov --layout tb-full --codec prores --bit-depth 10
  spatialdreamer convert shot.mp4 -o headset.mp4 --layout sbs-half --divergence 2.5 --convergence 0.4
  spatialdreamer convert shot.mp4 -o eyes.mp4 --layout pair --start 00:00:10.000 --end 20
  spatialdreamer convert plate.exr.mp4 -o out.mp4 --depth disp/ --depth-kind disparity-px
  spatialdreamer convert --project reel.sdproj --clip 2 -o reel_clip2.mp4
  spatialdreamer convert reel.mp4 -o reel_sbs.mp4 --auto-grade tv65     # per-shot grades fitted to a 65" TV
  spatialdreamer convert shot.mp4 -o refined.mp4 --refiner runs/small --refiner-steps 8   # diffusion refiner
  spatialdreamer convert plate.%06d.exr --fps 24 -o stereo.%06d.exr --layout pair   # eyes stereo_L/_R.%06d.exr
  spatialdreamer convert clips/ --recursive --glob '*.mov' -o masters/ --resume     # a batch; summary at the end
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `convert` (render, encode and common options) to `subparsers`."""
    p = subparsers.add_parser(NAME, help="convert a video or still into a stereo master", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              parents=[render_options(), encode_options(), refiner_options(), common_options()])
    p.add_argument("input", type=Path, nargs="*",
                   help="source video, still or image sequence (plate.%%06d.exr, plate.####.dpx, a folder of one "
                        "numbered run); several files or a folder of clips make a batch (default: the --project "
                        "clip's media)")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file or sequence pattern (out.%%06d.exr); the output folder for a batch")
    p.add_argument("--name-for-players", action="store_true",
                   help="name the master as players detect its packing: OUTPUT's stem + _LR (sbs-half), _LRF "
                        "(sbs-full), _TB (tb-half), _TBF (tb-full) or _180_LR (--vr180)")
    p.add_argument("--auto-grade", metavar="|".join(api.SCREEN_NAMES),
                   help="grade every shot for this screen first (qc's suggestions: divergence, convergence and "
                        "floating windows inside 90 %% of its budget), then render")
    b = p.add_argument_group("batch (several inputs, or a folder of clips: -o is then a folder)")
    b.add_argument("--recursive", action="store_true", help="walk sub-folders, mirrored under the output folder")
    b.add_argument("--glob", metavar="PATTERN", help="only files whose name matches, e.g. '*.mov'")
    b.add_argument("--resume", action="store_true",
                   help="skip inputs whose outputs exist and are complete (they are not touched)")
    b.add_argument("--template", metavar="TEXT",
                   help="output name: {stem}, {layout}, {ext}, {name} (default {stem}_{layout}{ext}; "
                        "{stem}{ext} plus the player suffix with --name-for-players)")
    how = b.add_mutually_exclusive_group()
    how.add_argument("--as-sequence", action="store_true", help="read a folder as one image sequence")
    how.add_argument("--as-batch", action="store_true",
                     help="convert a folder's files one by one, even when they are one numbered run of stills")
    return p


_BATCH_ONLY = ("recursive", "glob", "resume", "template")


def run_batch(args: argparse.Namespace, inputs: tuple[Path, ...]) -> int:
    """Convert every input into the folder -o; print the summary table; exit 0, or 3/4 when some failed."""
    if args.project is not None or args.auto_grade is not None:
        raise api.UsageError("--project and --auto-grade convert one clip, not a batch",
                             hint="Run them per clip, or leave them out for the batch")
    args.input = None
    request = api.BatchRequest(inputs=inputs, output_dir=args.output, base=convert_request(args),
                               template=args.template, recursive=args.recursive, glob=args.glob,
                               resume=args.resume, name_for_players=args.name_for_players)
    report = run_job(lambda token: api.batch(request, cancel=token), args.progress, args.quiet)
    if args.progress == "json":
        print(json.dumps(report.to_dict()))
    elif not args.quiet or report.exit_code:
        print("\n".join(report.summary_lines()), file=sys.stderr)
    return report.exit_code


def run(args: argparse.Namespace) -> int:
    """Convert with a progress bar; say what was written."""
    inputs = tuple(args.input)
    if api.is_batch(inputs, args.as_sequence, args.as_batch):
        return run_batch(args, inputs)
    given = [f"--{name.replace('_', '-')}" for name in _BATCH_ONLY if getattr(args, name)]
    if given:
        raise api.UsageError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for batches",
                             hint="Give several inputs or a folder of clips, with -o an output folder")
    args.input = inputs[0] if inputs else None
    if args.name_for_players:
        args.output = api.player_name(args.output, args.layout, args.vr180)
    request = convert_request(args)
    if args.auto_grade is not None:
        api.budget_for(args.auto_grade)  # an unknown screen is refused before any work
        project = run_job(lambda token: api.auto_grade(request, args.auto_grade, cancel=token), args.progress,
                          args.quiet)
        request = replace(request, project=project, clip=None)  # the graded project has the one clip
    run_job(lambda token: api.convert(request, cancel=token), args.progress, args.quiet)
    if not args.quiet and args.progress != "json":
        print("wrote " + " and ".join(str(p) for p in api.output_paths(request.output, request.layout)),
              file=sys.stderr)
    return 0
