"""Which torch device and compute dtype to run on, from the user's ``--device`` / precision words.

Shared by every torch user in the engine (depth models, refiner, ops on GPU).
Kept tiny on purpose: parsing and checking, no policy beyond CONVENTIONS.md
(``--device auto|cpu|cuda[:N]``; precision ``auto`` = fp16 on CUDA, fp32 on CPU).
"""

from __future__ import annotations

import re

import torch

from engine.errors import UsageError

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(spec: str) -> torch.device:
    """Turn ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` into a checked :class:`torch.device`.

    ``auto`` is CUDA device 0 when CUDA is available, else the CPU.

    Raises:
        UsageError: unknown word, or CUDA asked for but absent / index out of range.
    """
    match = _DEVICE_RE.match(spec.strip().lower())
    if match is None or (match.group(1) != "cuda" and match.group(2) is not None):
        raise UsageError(f"unknown device '{spec}'", hint="Use --device auto, cpu, cuda or cuda:N")
    kind, index = match.group(1), match.group(2)
    if kind == "auto":
        return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UsageError(
            f"--device {spec} asked for CUDA, but no CUDA GPU is available to torch",
            hint="Use --device cpu (or auto), or install a CUDA build of torch",
        )
    n = int(index or 0)
    if n >= torch.cuda.device_count():
        raise UsageError(
            f"--device {spec}: there is no CUDA device {n} (found {torch.cuda.device_count()})",
            hint=f"Use cuda:0 .. cuda:{torch.cuda.device_count() - 1}",
        )
    return torch.device("cuda", n)


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """Turn ``auto`` | ``fp32`` | ``fp16`` | ``bf16`` into a torch dtype for ``device``.

    ``auto`` is float16 on CUDA and float32 elsewhere.

    Raises:
        UsageError: unknown precision word.
    """
    word = precision.strip().lower()
    if word == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if word not in _DTYPES:
        raise UsageError(f"unknown precision '{precision}'", hint="Use auto, fp32, fp16 or bf16")
    return _DTYPES[word]
