"""`spatialdreamer models list|get`: what is in the models folder; fetch a model from the Hugging Face Hub.

``models get NAME`` is the product's only network access and runs only when asked (engine.models.hub).
"""

from __future__ import annotations

import argparse
import sys

from engine import api
from engine.cli.options import common_options
from engine.cli.progress import run_job

NAME = "models"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `models` to `subparsers`."""
    p = subparsers.add_parser(NAME, help="learned models: list the models folder, or get one from the Hub",
                              parents=[common_options()])
    p.add_argument("action", choices=("list", "get"))
    p.add_argument("name", nargs="?", help="for get: da2-small|da2-base|da2-large|marigold|svd-xt|sd21")
    p.add_argument("--accept-licence", "--accept-license", action="store_true", dest="accept_licence",
                   help="accept the model's licence without asking (scripts)")
    p.add_argument("--token", default=None, help="Hugging Face token for gated models (default: HF_TOKEN or "
                                                 "`hf auth login`)")
    return p


def _confirm(text: str) -> bool:
    print(text, file=sys.stderr)
    if not sys.stdin.isatty():
        return False
    answer = input("Accept this licence and download? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    folder, source = api.resolve_models_dir(args.models_dir)
    if args.action == "list":
        print(f"models folder: {folder}  (from {source})")
        print("depth models (--depth-model):")
        print(api.format_models_table(api.scan_models(folder)))
        print("refiner base weights (train-refiner --config svd-xt):")
        print(api.format_models_table(api.scan_base_weights(folder)))
        refiners = api.scan_refiners(folder)
        print("refiners (convert --refiner NAME):")
        print(api.format_models_table(refiners) if refiners else
              "  none installed (train one with `spatialdreamer train-refiner --out DIR`, then put DIR in the "
              "models folder or pass --refiner DIR)")
        return 0
    if not args.name:
        raise api.UsageError("models get needs a model name", hint=f"one of: {', '.join(api.HUB_MODEL_NAMES)}")
    run_job(lambda token: api.download_model(args.name, folder, accept_licence=args.accept_licence,
                                             confirm=_confirm, token=args.token, cancel=token),
            args.progress, args.quiet)
    print(f"installed {args.name} in {folder / args.name}")
    return 0
