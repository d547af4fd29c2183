"""`spatialdreamer frame INPUT --at T -o STILL`: one graded frame, fast (a look before the render)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine import api
from engine.cli.options import common_options, convert_request, render_options

NAME = "frame"
EXAMPLES = """example:
  spatialdreamer frame shot.mp4 --at 00:00:04.000 -o look.png
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `frame` (render and common options) to `subparsers`."""
    p = subparsers.add_parser(NAME, help="render one graded frame to a still (fast preview)", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              parents=[render_options(), common_options()])
    p.add_argument("input", type=Path, nargs="?", help="source video or still (default: the --project clip's media)")
    p.add_argument("--at", required=True, metavar="T", help="which frame (seconds, clock, timecode, 123f)")
    p.add_argument("-o", "--output", type=Path, required=True)
    return p


def run(args: argparse.Namespace) -> int:
    paths = api.render_preview(convert_request(args), args.at)
    if not args.quiet:
        print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0
