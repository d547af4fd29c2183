"""`spatialdreamer models list`: what is in the models folder, what is missing and where to get it."""

from __future__ import annotations

import argparse

from engine import api
from engine.cli.options import common_options

NAME = "models"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `models` to `subparsers`."""
    p = subparsers.add_parser(NAME, help="depth models in the models folder", parents=[common_options()])
    p.add_argument("action", choices=("list",))
    return p


def run(args: argparse.Namespace) -> int:
    folder, source = api.resolve_models_dir(args.models_dir)
    print(f"models folder: {folder}  (from {source})")
    print(api.format_models_table(api.scan_models(folder)))
    return 0
