"""`spatialdreamer convert INPUT -o OUTPUT`: a video or still into a stereo master."""

from __future__ import annotations

import argparse
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
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `convert` (render, encode and common options) to `subparsers`."""
    p = subparsers.add_parser(NAME, help="convert a video or still into a stereo master", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              parents=[render_options(), encode_options(), refiner_options(), common_options()])
    p.add_argument("input", type=Path, nargs="?", help="source video or still (default: the --project clip's media)")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--name-for-players", action="store_true",
                   help="name the master as players detect its packing: OUTPUT's stem + _LR (sbs-half), _LRF "
                        "(sbs-full), _TB (tb-half) or _TBF (tb-full)")
    p.add_argument("--auto-grade", metavar="|".join(api.SCREEN_NAMES),
                   help="grade every shot for this screen first (qc's suggestions: divergence, convergence and "
                        "floating windows inside 90 %% of its budget), then render")
    return p


def run(args: argparse.Namespace) -> int:
    """Convert with a progress bar; say what was written."""
    if args.name_for_players:
        args.output = api.player_name(args.output, args.layout)
    request = convert_request(args)
    if args.auto_grade is not None:
        api.budget_for(args.auto_grade)  # an unknown screen is refused before any work
        project = run_job(lambda token: api.auto_grade(request, args.auto_grade, cancel=token), args.progress,
                          args.quiet)
        request = replace(request, project=project, clip=None)  # the graded project has the one clip
    run_job(lambda token: api.convert(request, cancel=token), args.progress, args.quiet)
    if not args.quiet and args.progress != "json":
        print(f"wrote {request.output}" if request.layout != "pair" else
              f"wrote {request.output.stem}_L / _R{request.output.suffix}", file=sys.stderr)
    return 0
