"""The depth-provider protocol and the settings that choose a provider.

A provider turns a stream of RGB frames of one shot into a stream of raw depth
maps of a declared *kind* (CONVENTIONS.md: ``relative`` larger is farther,
``inverse`` larger is nearer, ``metric`` Z > 0, ``disparity-px`` pixels).
Normalisation to δ ∈ [0, 1] per shot happens downstream
(:mod:`engine.depth.normalise`), never inside a provider.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class DepthConfig:
    """Which depth provider to use and how.

    Attributes:
        model: one of :data:`MODEL_NAMES`; ``auto`` picks the best model found
            in the models folder, else ``weights-free``.
        models_dir: folder holding one Hugging Face-layout sub-folder per model
            (``da2-small/``, ``marigold/`` ...); None = resolved from the
            environment / user config.
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``.
        batch_size: frames per forward pass for learned models.
        precision: ``auto`` (fp16 on CUDA, fp32 on CPU) | ``fp32`` | ``fp16`` | ``bf16``.
        input_size: learned models' short-side working size (multiple of the patch size).
        working_width: weights-free provider's internal working width in pixels.
    """

    model: str = "auto"
    models_dir: Path | None = None
    device: str = "auto"
    batch_size: int = 4
    precision: str = "auto"
    input_size: int = 518
    working_width: int = 480


@runtime_checkable
class DepthProvider(Protocol):
    """Streams raw depth for the frames of one shot.

    ``estimate`` is lazy: it consumes frames as it yields depth and reads ahead
    by at most a small bounded window (so memory never grows with shot length).
    Call :meth:`reset` at a shot cut so no temporal state leaks across it.
    """

    name: str
    output_kind: str  # one of DEPTH_KINDS

    def estimate(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8/uint16 RGB frames -> (H, W) float32 raw depth, one per frame, in order."""
        ...

    def reset(self) -> None:
        """Forget temporal state (call at shot boundaries)."""
        ...
