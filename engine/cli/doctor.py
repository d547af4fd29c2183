"""`spatialdreamer doctor`: what this machine can do (encoders, devices, OpenGL, models)."""

from __future__ import annotations

import argparse

from engine import api
from engine.cli.options import common_options

NAME = "doctor"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `doctor` to `subparsers`."""
    return subparsers.add_parser(NAME, help="check encoders, devices, OpenGL and models", parents=[common_options()])


def run(args: argparse.Namespace) -> int:
    """One line per check; exit 1 when a required check fails."""
    ok = True
    for check in api.doctor_checks(models_dir=args.models_dir):
        ok &= check.ok or not check.required
        mark = "ok  " if check.ok else ("FAIL" if check.required else "--  ")
        print(f"[{mark}] {check.name}: {check.detail}")
    return 0 if ok else 1
