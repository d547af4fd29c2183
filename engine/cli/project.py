"""`spatialdreamer project new MEDIA -o P.sdproj` and `spatialdreamer project show P.sdproj`: make and
inspect projects from the command line (farm users, scripts) without the studio."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine import api
from engine.cli.options import common_options
from engine.cli.progress import run_job

NAME = "project"
EXAMPLES = """examples:
  spatialdreamer project new reel.mov -o reel.sdproj                 # shots detected, default grades
  spatialdreamer project new reel.mov -o reel.sdproj --shots reel.edl
  spatialdreamer project show reel.sdproj
  spatialdreamer project show reel.sdproj --json
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `project new|show` to `subparsers`."""
    p = subparsers.add_parser(NAME, help="make or inspect a project (.sdproj) without the studio", epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common_options()])
    sub = p.add_subparsers(dest="project_command", required=True, metavar="new|show")
    new = sub.add_parser("new", help="a project for MEDIA: shots detected (or from an edit), default grades",
                         parents=[common_options()])
    new.add_argument("media", type=Path)
    new.add_argument("-o", "--output", type=Path, required=True, metavar="P.sdproj")
    new.add_argument("--shots", default="auto", metavar="auto|off|EDIT.otio|EDIT.edl",
                     help="auto: detect cuts (default); off: one shot; a file: its cuts (and our OTIO's grades)")
    new.add_argument("--name", default="", help="project name (default: the media's stem)")
    new.add_argument("--overwrite", action="store_true", help="replace an existing project file")
    show = sub.add_parser("show", help="shots, grades and render settings of a project",
                          parents=[common_options()])
    show.add_argument("project", type=Path)
    show.add_argument("--json", action="store_true", help="ProjectSummary.1 JSON on stdout")
    return p


def _check_output(args: argparse.Namespace) -> None:
    out = args.output
    if out.suffix.lower() != ".sdproj":
        raise api.UsageError(f"{out}: a project file ends in .sdproj", hint="Name it like reel.sdproj")
    if out.exists() and out.resolve() == args.media.resolve():
        raise api.OutputError("the project would overwrite its own media", path=out)
    if out.exists() and not args.overwrite:
        raise api.OutputError("the project file exists", path=out, hint="Pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise api.OutputError("the folder does not exist", path=out.parent)


def run(args: argparse.Namespace) -> int:
    """`new`: detect shots and save; `show`: print the summary table or JSON."""
    if args.project_command == "new":
        _check_output(args)
        project = run_job(lambda token: api.new_project(args.media, args.shots, args.name, cancel=token),
                          args.progress, args.quiet)
        api.save_project(project, args.output)
        if not args.quiet:
            shots = project.clips[0].shots
            print(f"wrote {args.output}: {len(shots)} shot{'s' if len(shots) != 1 else ''}, "
                  f"{project.clips[0].frame_count} frames", file=sys.stderr)
        return 0
    summary = api.project_summary(api.load_project(args.project))
    print(json.dumps(summary, indent=2) if args.json else api.format_project_summary(summary))
    return 0
