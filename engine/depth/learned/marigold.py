"""Marigold (diffusers) as a depth provider: affine-invariant depth per frame.

Marigold depth models predict depth up to scale and shift with larger = farther,
so the output kind is ``relative`` (a checkpoint whose ``prediction_type`` is
``disparity`` yields ``inverse``). Each component (unet, vae, text encoder) is
loaded on its own so that missing or mis-shaped weights are refused rather than
silently re-initialised. Every frame starts from the same seeded noise (one CPU
generator per frame and ensemble member), so a frame's depth does not depend on
how frames were batched, nor on the device's random generator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor

from engine.depth.learned.frames import (
    batched,
    fit_long_side,
    frames_to_tensor,
    resize_depth,
    resize_images,
    to_numpy_maps,
)
from engine.depth.learned.loading import (
    check_loading_info,
    damaged,
    guarded_load,
    import_offline,
    quiet,
    weights_variant,
)
from engine.depth.protocol import DepthConfig
from engine.device import resolve_device, resolve_dtype
from engine.errors import UsageError
from engine.models import ModelSpec

_KIND_BY_PREDICTION = {"depth": "relative", "disparity": "inverse"}
_WEIGHT_STEMS = {"diffusers": ("diffusion_pytorch_model",), "transformers": ("model", "pytorch_model")}
_MODEL_COMPONENTS = ("unet", "vae", "text_encoder")


@dataclass(frozen=True)
class MarigoldSettings:
    """How Marigold runs.

    Attributes:
        num_inference_steps: denoising steps; None = the model's default (1 for v1-1, 4 for LCM).
        processing_resolution: long side the frame is processed at, a multiple of 8;
            0 = the frame's own size; None = the model's default (768).
        ensemble_size: predictions averaged per frame (1 = none; >= 3 to be worth it).
        seed: seed of every frame's starting noise.
    """

    num_inference_steps: int | None = None
    processing_resolution: int | None = None
    ensemble_size: int = 1
    seed: int = 0


def _load_component(
    libs: dict[str, ModuleType],
    index: dict[str, Any],
    key: str,
    folder: Path,
    spec: ModelSpec,
    dtype: torch.dtype,
):
    """Load one model component named in ``model_index.json`` in ``dtype``, refusing incomplete weights."""
    entry = index.get(key)
    if not isinstance(entry, list) or len(entry) != 2 or entry[0] not in libs:
        raise damaged(spec, folder, f"model_index.json has no usable '{key}' entry ({entry!r})")
    library, class_name = entry
    cls = getattr(libs[library], class_name, None)
    if cls is None:
        raise damaged(spec, folder, f"model_index.json names an unknown class {library}.{class_name}")
    variant = weights_variant(folder / key, _WEIGHT_STEMS[library])
    model, info = cls.from_pretrained(
        folder, subfolder=key, variant=variant, local_files_only=True, output_loading_info=True
    )
    check_loading_info(info, spec, folder / key)
    return model.to(dtype)  # cast here, the same way whatever each library's dtype keyword is called


def load_marigold_pipeline(folder: Path, spec: ModelSpec, dtype: torch.dtype = torch.float32):
    """A ``MarigoldDepthPipeline`` from a local folder, on the CPU, its models in ``dtype``.

    Raises:
        ModelNotFound: diffusers / transformers missing, or the files cannot be loaded.
    """
    libs = {name: import_offline(name, spec) for name in ("diffusers", "transformers")}

    def load():
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
        with quiet(tuple(libs.values())):
            parts = {key: _load_component(libs, index, key, folder, spec, dtype) for key in _MODEL_COMPONENTS}
            pipeline_class = libs["diffusers"].MarigoldDepthPipeline
            pipe = pipeline_class.from_pretrained(folder, local_files_only=True, **parts)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    return guarded_load(spec, folder, load)


def _check_settings(steps: int | None, ensemble: int, resolution: int | None, factor: int) -> None:
    if steps is None or resolution is None:
        raise UsageError(
            "this Marigold checkpoint sets no default steps / processing resolution",
            hint="Pass MarigoldSettings(num_inference_steps=..., processing_resolution=...)",
        )
    if steps < 1 or ensemble < 1:
        raise UsageError(f"Marigold steps and ensemble size must be >= 1 (got {steps}, {ensemble})")
    if resolution < 0 or resolution % factor:
        raise UsageError(
            f"Marigold processing resolution must be 0 or a multiple of {factor} (got {resolution})"
        )


class MarigoldProvider:
    """Marigold depth on local weights; yields per-frame affine-invariant depth in [0, 1].

    Stateless across frames (every frame starts from the same seeded noise), so
    :meth:`reset` has nothing to clear.
    """

    def __init__(
        self,
        pipe,
        *,
        name: str,
        device: torch.device,
        batch_size: int,
        settings: MarigoldSettings | None = None,
    ) -> None:
        if batch_size < 1:
            raise UsageError(f"batch size must be >= 1, got {batch_size}")
        prediction = pipe.config.get("prediction_type") or "depth"
        if prediction not in _KIND_BY_PREDICTION:
            raise UsageError(f"Marigold prediction type '{prediction}' is not depth or disparity")
        self.name = name
        self.output_kind = _KIND_BY_PREDICTION[prediction]
        self.pipe = pipe.to(device)
        self.device = device
        self.dtype = pipe.dtype
        self.batch_size = batch_size
        self.settings = settings = settings or MarigoldSettings()
        self.steps = settings.num_inference_steps or pipe.default_denoising_steps
        resolution = settings.processing_resolution
        self.resolution = pipe.default_processing_resolution if resolution is None else resolution
        _check_settings(self.steps, settings.ensemble_size, self.resolution, pipe.vae_scale_factor)

    @classmethod
    def from_folder(
        cls, folder: Path, spec: ModelSpec, config: DepthConfig, settings: MarigoldSettings | None = None
    ) -> MarigoldProvider:
        """Load ``folder`` (a checked models sub-folder) for ``config.device`` / ``config.precision``.

        ``config.input_size`` is Depth Anything's short side and is not used here;
        Marigold's processing resolution comes from ``settings`` or the checkpoint.
        """
        device = resolve_device(config.device)
        dtype = resolve_dtype(config.precision, device)
        pipe = load_marigold_pipeline(folder, spec, dtype)
        return cls(pipe, name=spec.name, device=device, batch_size=config.batch_size, settings=settings)

    def _generators(self, count: int) -> list[torch.Generator]:
        """One CPU generator per (frame, ensemble member), frame-major as the pipeline expects."""
        seeds = [self.settings.seed + e for e in range(self.settings.ensemble_size)]
        return [torch.Generator("cpu").manual_seed(seed) for _ in range(count) for seed in seeds]

    def predict(self, images: Tensor) -> Tensor:
        """Depth for a batch already on the device.

        Args:
            images: (B, 3, H, W) float in [0, 1].
        Returns:
            (B, H, W) float32 affine-invariant depth in [0, 1] at the input size.
        """
        count, height, width = images.shape[0], images.shape[-2], images.shape[-1]
        size = fit_long_side(height, width, self.resolution) if self.resolution else (height, width)
        with torch.inference_mode():
            # Resized here in float32 (the pipeline would resize in its own dtype, which
            # CPU antialiasing lacks for fp16/bf16), then processed at that native size.
            output = self.pipe(
                resize_images(images, size).to(self.dtype),
                num_inference_steps=self.steps,
                ensemble_size=self.settings.ensemble_size,
                processing_resolution=0,
                batch_size=count * self.settings.ensemble_size,
                generator=self._generators(count),
                output_type="pt",
            )
            return resize_depth(output.prediction, (height, width))

    def estimate(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """(H, W, 3) RGB frames -> (H, W) float32 depth, batched by ``batch_size``."""
        for batch in batched(frames, self.batch_size):
            yield from to_numpy_maps(self.predict(frames_to_tensor(batch, self.device)))

    def reset(self) -> None:
        """Nothing to forget: every frame is predicted from the same seeded noise."""
