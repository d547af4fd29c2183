"""Loading Hugging Face weights from a local folder: offline, quiet, and with typed errors.

Nothing here reaches the network: the hub is put in offline mode before
transformers / diffusers are first imported, every ``from_pretrained`` gets a
local folder and ``local_files_only=True``. Any failure while loading a folder
becomes :class:`engine.errors.ModelNotFound` naming the folder and what to do.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import torch

from engine.errors import ModelNotFound
from engine.models import ModelSpec

T = TypeVar("T")
_INSTALL_HINT = "Install the model extras: pip install 'spatialdreamer-studio[models]'"


def import_offline(library: str, spec: ModelSpec) -> ModuleType:
    """Import transformers / diffusers with the hub offline; ModelNotFound if not installed."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        return importlib.import_module(library)
    except ImportError as exc:
        raise ModelNotFound(
            f"the {spec.name} model needs the Python package '{library}', which is not installed ({exc})",
            hint=_INSTALL_HINT,
        ) from exc


@contextmanager
def quiet(libraries: tuple[ModuleType, ...]) -> Iterator[None]:
    """Silence the libraries' progress bars and warnings while loading; restore them after."""
    logs = [lib.utils.logging for lib in libraries]
    saved = [(log.get_verbosity(), log.is_progress_bar_enabled()) for log in logs]
    for log in logs:
        log.set_verbosity_error()
        log.disable_progress_bar()
    try:
        yield
    finally:
        for log, (verbosity, bars) in zip(logs, saved, strict=True):
            log.set_verbosity(verbosity)
            if bars:
                log.enable_progress_bar()


def damaged(spec: ModelSpec, folder: Path, what: str) -> ModelNotFound:
    """The error for a folder whose files are present but unusable."""
    return ModelNotFound(
        f"cannot load the {spec.name} model: {what}",
        path=folder,
        hint=f"The files are damaged or from another model; re-download {spec.repo_id} into {folder}",
    )


def check_loading_info(info: Mapping[str, Any], spec: ModelSpec, folder: Path) -> None:
    """Refuse weights that leave parameters missing or of the wrong shape (they would be random)."""
    missing = sorted(info.get("missing_keys") or ())
    mismatched = sorted(str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys") or ())
    if missing or mismatched:
        keys = (missing or mismatched)[:3]
        kind = "missing from the weights" if missing else "of the wrong shape"
        count = len(missing) + len(mismatched)
        raise damaged(spec, folder, f"{count} parameters {kind} (e.g. {', '.join(keys)})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def guarded_load(spec: ModelSpec, folder: Path, load: Callable[[], T]) -> T:
    """Run ``load``; any library error becomes ModelNotFound naming ``folder``.

    Out-of-memory errors pass through unchanged (they are not a damaged folder).
    """
    try:
        return load()
    except (ModelNotFound, MemoryError, torch.cuda.OutOfMemoryError):
        raise
    except Exception as exc:  # a third-party loader can fail many ways; all mean "this folder is unusable"
        raise damaged(spec, folder, f"{type(exc).__name__}: {_first_line(exc)}") from exc


def weights_variant(folder: Path, stems: tuple[str, ...]) -> str | None:
    """``fp16`` when a component folder holds only fp16-variant weights, else None.

    Args:
        folder: the component folder (``unet/``, ``text_encoder/`` ...).
        stems: weight file stems to look for (``diffusion_pytorch_model``; ``model``, ``pytorch_model``).
    """
    names = [f"{stem}{v}.{ext}" for stem in stems for v in ("", ".fp16") for ext in ("safetensors", "bin")]
    found = [name for name in names if (folder / name).is_file()]
    return "fp16" if found and all(".fp16." in name for name in found) else None
