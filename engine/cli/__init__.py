"""`spatialdreamer …` / `python -m engine …`: argparse -> engine.api, progress, exit codes.

One module per command (``NAME``, ``add_parser(subparsers)``, ``run(args) -> int``), shared
options as argparse parents in :mod:`engine.cli.options`; the commands reach the engine only
through ``engine.api`` (an import-linter contract), which is lazy, so ``--help`` starts no torch.

Exit codes (CONVENTIONS.md): 0 ok · 1 internal error · 2 usage · 3 bad input · 4 output problem ·
5 model missing · 130 cancelled (Ctrl-C) · 143 terminated (SIGTERM) · 129 hung up (SIGHUP).
Errors are one line on stderr; -v adds detail, --debug the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from engine import api  # lazy (PEP 562): costs nothing until a name is used
from engine.cli import (
    convert,
    doctor,
    evaluate,
    frame,
    models,
    pairs,
    probe,
    project,
    qc,
    render,
    shots,
    train_refiner,
)
from engine.cli.signals import GUARD, Interrupted

COMMANDS = (convert, render, frame, probe, doctor, shots, project, evaluate, qc, pairs, train_refiner, models)
"""Command modules, in `--help` order. A new command is a module here with NAME, add_parser and run."""


def build_parser() -> argparse.ArgumentParser:
    """The whole parser: every command of :data:`COMMANDS` (light: no heavy import)."""
    parser = argparse.ArgumentParser(prog="spatialdreamer",
                                     description="Monocular video to stereo 3D masters (SpatialDreamer).")
    parser.add_argument("--version", action="version", version=f"spatialdreamer {api.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub).set_defaults(run=command.run)
    return parser


def _cancel_message(code: int) -> str:
    what = {143: "terminated (SIGTERM)", 129: "hung up (SIGHUP)"}.get(code, "cancelled")
    return f"{what}: partial output removed"


def _report(exc: BaseException, args: argparse.Namespace | None) -> int:
    """One line on stderr for `exc` (a traceback too with --debug); returns the exit code."""
    debug, verbose = bool(getattr(args, "debug", False)), bool(getattr(args, "verbose", False))
    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, api.Cancelled):
        code = GUARD.exit_code
        print(_cancel_message(code), file=sys.stderr)
        return code
    if isinstance(exc, api.SpatialDreamerError):
        print(f"error: {exc.one_line()}", file=sys.stderr)
        if verbose and exc.__cause__ is not None:
            print(f"  detail: {type(exc.__cause__).__name__}: {exc.__cause__}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, Interrupted | KeyboardInterrupt):
        code = exc.exit_code if isinstance(exc, Interrupted) else 130
        print(_cancel_message(code), file=sys.stderr)
        return code
    print(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug and report it)", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default sys.argv[1:]), run the command, map every failure to an exit code."""
    args = None
    with GUARD.installed():
        try:
            args = build_parser().parse_args(argv)
            return args.run(args)
        except (Exception, Interrupted, KeyboardInterrupt) as exc:  # SystemExit (argparse) passes through
            return _report(exc, args)


if __name__ == "__main__":
    sys.exit(main())
