"""`spatialdreamer qc INPUT|PROJECT --screen S -o report.html`: stereo QC against a screen's comfort budget.

Exit code 6 when a limit is broken (CONVENTIONS.md): a frame outside the budget (beyond a brief
excursion), divergence past 65 mm on the screen, swapped eyes, a "master" whose eyes do not match;
window violations only with ``--fail-on windows``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from engine import api
from engine.cli.options import common_options, frame_rate, positive_int
from engine.cli.progress import run_job

NAME = "qc"
PROJECT_SUFFIXES = (".sdproj", ".json")
FAIL_ON = ("windows",)

EXAMPLES = """examples:
  spatialdreamer qc shot.mp4 --screen tv65 -o qc.html                 # the default conversion, checked
  spatialdreamer qc film.sdproj --screen cinema -o qc.html --json qc.json
  spatialdreamer qc master_sbs.mp4 --layout sbs-full --screen headset -o qc.html   # a master, from its pixels
  spatialdreamer qc master.mkv --screen desktop --budget -1 2.5 --fail-on windows  # CI gate: exit 6 on failure
  spatialdreamer qc shot.mp4 --screen tv65 --suggest graded.sdproj    # write the suggested per-shot grades
  spatialdreamer qc plates/sh010.%06d.exr --fps 24 -o qc.html     # a plate sequence, as convert renders it

A file that declares stereo packing (Matroska StereoMode, H.264 frame packing) is checked as a
master; pass --layout for one that does not. Anything else is a mono source, checked as `convert`
would render it (same depth, shots and grade flags). Budgets are screen parallax in % of the
image width (negative = in front of the screen).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `qc` sub-command (with the common flags) to `subparsers`."""
    p = subparsers.add_parser(NAME, help="stereo QC: parallax budget, windows, suggestions, HTML report",
                              epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                              parents=[common_options()])
    p.add_argument("input", type=Path, help="a source video or image sequence, a project (.sdproj) or a stereo master")
    p.add_argument("--screen", default="tv65", metavar="|".join(api.SCREEN_NAMES),
                   help="screen preset whose budget and geometry apply (default tv65)")
    p.add_argument("--budget", type=float, nargs=2, metavar=("MIN", "MAX"),
                   help="custom budget: screen parallax %% of width (e.g. -1 2)")
    p.add_argument("-o", "--output", type=Path, metavar="REPORT.html", help="write the HTML report")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON (QcReport.1)")
    p.add_argument("--layout", choices=api.QC_MASTER_LAYOUTS, help="the input is a master packed this way")
    p.add_argument("--swap-eyes", action="store_true", help="the master carries the right eye first")
    p.add_argument("--fail-on", choices=FAIL_ON, action="append", default=[],
                   help="also fail (exit 6) on window violations")
    p.add_argument("--smooth-convergence", action="store_true",
                   help="suggestions smooth convergence across cuts (smaller depth jumps)")
    p.add_argument("--suggest", type=Path, metavar="OUT.sdproj",
                   help="write a project with the suggested per-shot grades and floating windows")
    p.add_argument("--overwrite", action="store_true", help="replace existing report files")
    g = p.add_argument_group("how a source is converted (ignored for a master)")
    defaults = api.StereoParams()
    g.add_argument("--divergence", type=float, default=defaults.divergence, metavar="PCT")
    g.add_argument("--convergence", type=float, default=defaults.convergence, metavar="0..1")
    g.add_argument("--max-width", type=positive_int, metavar="PX", help="eye width of the master")
    g.add_argument("--depth-model", choices=api.MODEL_NAMES, default="auto")
    g.add_argument("--stabilise", choices=api.STABILISE_MODES, default="align")
    g.add_argument("--shots", default="auto", metavar="auto|off|FILE")
    g.add_argument("--bars", choices=("auto", "off"), default="auto",
                   help="auto: letterbox/pillarbox bars as convert finds them (d = 0, left out of the check)")
    q = p.add_argument_group("image sequences (INPUT plate.%%06d.exr, plate.####.dpx or a folder of one numbered run)")
    q.add_argument("--fps", type=frame_rate, metavar="RATE",
                   help="frame rate of an image-sequence input (required for sequences): 24, 23.976, 24000/1001")
    q.add_argument("--fill-gaps", choices=("fail", "hold"), default="fail",
                   help="a gap in the numbering: fail (default) or hold (repeat the frame before the gap)")
    return p


def _source_settings(args: argparse.Namespace, media: Path, project) -> api.ConvertRequest:
    try:
        params = api.StereoParams(args.divergence, args.convergence)
    except ValueError as exc:
        raise api.UsageError(str(exc)) from exc
    return api.ConvertRequest(
        input=media, params=params, project=project, max_width=args.max_width, shots=args.shots,
        depth_config=api.DepthConfig(model=args.depth_model, models_dir=args.models_dir, device=args.device),
        stabilise=api.StabiliseConfig(mode=args.stabilise), device=args.device, cache_dir=args.cache_dir,
        use_cache=not args.no_cache, bars=args.bars, fps=args.fps, fill_gaps=args.fill_gaps)


def request_from_args(args: argparse.Namespace) -> api.QcRequest:
    """The one place this sub-command's Namespace becomes an api.QcRequest."""
    if args.output is None and args.json is None and args.suggest is None and args.quiet:
        raise api.UsageError("nothing to report: -q without -o, --json or --suggest")
    project, media = None, args.input
    if args.input.suffix.lower() in PROJECT_SUFFIXES:
        project = api.load_project(args.input)
        media = Path(project.clip().media)
    return api.QcRequest(media, screen=args.screen, budget=tuple(args.budget) if args.budget else None,
                         layout=args.layout, swap_eyes=args.swap_eyes, project=project,
                         convert=_source_settings(args, media, project), report=args.output, json=args.json,
                         fail_on_windows="windows" in args.fail_on, smooth_convergence=args.smooth_convergence,
                         overwrite=args.overwrite)


def _pct(x: float) -> str:
    return f"{x:+.2f}" if math.isfinite(x) else "  –  "


def summary(report) -> str:
    """Per-shot lines and the verdict, for the terminal."""
    b = report.budget
    lines = [f"{report.input}: {report.mode}, screen {b.screen.name}, budget {b.low:g} .. {b.high:g} % of width"]
    for i, row in enumerate(report.shots, 1):
        c, s = row.check, row.suggestion
        sug = f"  suggest D {s.divergence:.2f} c {s.convergence:.3f}" if s is not None else ""
        lines.append(f"  shot {i:3d} [{c.start}-{c.end - 1}]  p01 {_pct(c.p01)} %  p99 {_pct(c.p99)} %  "
                     f"{'pass' if c.passes else 'FAIL'}{sug}")
    lines += [f"  fail: {f}" for f in report.failures] + [f"  warn: {w}" for w in report.warnings]
    lines.append("PASS" if report.passed else f"FAIL (exit {report.exit_code})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Check args.input; write the report files; exit 6 when a limit is broken."""
    request = request_from_args(args)
    if args.suggest is not None and request.layout is not None:
        raise api.UsageError("--suggest needs a source or a project, not a master", path=args.input)
    if args.suggest is not None and args.suggest.exists() and not args.overwrite:
        raise api.OutputError("output already exists", path=args.suggest, hint="Pass --overwrite to replace it")
    report = run_job(lambda token: api.qc(request, cancel=token), args.progress, args.quiet)
    if args.suggest is not None:
        if report.master is not None:
            raise api.UsageError("--suggest needs a source or a project; this file was checked as a master",
                                 path=args.input, hint="Check its source instead")
        api.save_project(report.suggested_project(request.project, media=str(request.input)), args.suggest)
    if not args.quiet:
        print(summary(report))
        for path in (args.output, args.json, args.suggest):
            if path is not None:
                print(f"wrote {path}", file=sys.stderr)
    return report.exit_code
