"""Depth Anything V2 (transformers) as a depth provider: relative inverse depth per frame.

Preprocessing is ours, in torch, on the model's device: RGB -> [0, 1], resize so
the short side is ``DepthConfig.input_size`` with the aspect kept and both sides
multiples of the patch size, normalise with the folder's
``preprocessor_config.json`` mean/std (ImageNet when absent). The prediction is
resized back to the frame (bilinear) and returned as float32.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from engine.depth.learned.frames import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    batched,
    frames_to_tensor,
    resize_depth,
    resize_normalise,
    to_numpy_maps,
    working_size,
)
from engine.depth.learned.loading import check_loading_info, damaged, guarded_load, import_offline, quiet
from engine.depth.protocol import DepthConfig
from engine.device import resolve_device, resolve_dtype
from engine.errors import UsageError
from engine.models import ModelSpec


def read_normalisation(folder: Path, spec: ModelSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) from ``preprocessor_config.json`` when present, else ImageNet's.

    Raises:
        ModelNotFound: the file exists but is not JSON or has malformed mean/std.
    """
    path = folder / "preprocessor_config.json"
    if not path.is_file():
        return IMAGENET_MEAN, IMAGENET_STD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not data.get("do_normalize", True):
            return (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        mean = tuple(float(v) for v in data.get("image_mean", IMAGENET_MEAN))
        std = tuple(float(v) for v in data.get("image_std", IMAGENET_STD))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise damaged(spec, folder, f"preprocessor_config.json is malformed ({exc})") from exc
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise damaged(spec, folder, f"preprocessor_config.json has bad image_mean/image_std {mean} {std}")
    return mean, std


def _patch_size(model: nn.Module) -> int:
    config = model.config
    patch = getattr(config, "patch_size", None) or getattr(config.backbone_config, "patch_size", None)
    return int(patch or 14)


class DepthAnythingProvider:
    """Depth Anything V2 on local weights; yields relative inverse depth (larger = nearer).

    Stateless across frames: each frame is predicted on its own, so :meth:`reset` has nothing to clear.
    """

    output_kind = "inverse"

    def __init__(
        self,
        model: nn.Module,
        *,
        name: str,
        device: torch.device,
        dtype: torch.dtype,
        input_size: int,
        batch_size: int,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
    ) -> None:
        if input_size < 1 or batch_size < 1:
            raise UsageError(f"input size and batch size must be >= 1 (got {input_size}, {batch_size})")
        self.name = name
        self.model = model.eval().to(device)
        self.device = device
        self.dtype = dtype
        self.patch_size = _patch_size(model)
        self.input_size = input_size
        self.batch_size = batch_size
        self.mean = mean
        self.std = std

    @classmethod
    def from_folder(cls, folder: Path, spec: ModelSpec, config: DepthConfig) -> DepthAnythingProvider:
        """Load ``folder`` (a checked models sub-folder) for ``config.device`` / ``config.precision``.

        Raises:
            ModelNotFound: transformers missing, or the folder's files cannot be loaded.
            UsageError: bad device / precision words.
        """
        device = resolve_device(config.device)
        dtype = resolve_dtype(config.precision, device)
        transformers = import_offline("transformers", spec)
        mean, std = read_normalisation(folder, spec)

        def load() -> nn.Module:
            with quiet((transformers,)):
                model, info = transformers.DepthAnythingForDepthEstimation.from_pretrained(
                    folder, local_files_only=True, output_loading_info=True, ignore_mismatched_sizes=True
                )  # mismatches are reported in `info` (with their names) and refused just below
            check_loading_info(info, spec, folder)
            return model.float()  # fp32 weights whatever the checkpoint's dtype; autocast lowers compute

        model = guarded_load(spec, folder, load)
        return cls(
            model,
            name=spec.name,
            device=device,
            dtype=dtype,
            input_size=config.input_size,
            batch_size=config.batch_size,
            mean=mean,
            std=std,
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def predict(self, images: Tensor) -> Tensor:
        """Depth for a batch already on the device.

        Args:
            images: (B, 3, H, W) float in [0, 1].
        Returns:
            (B, H, W) float32 relative inverse depth at the input size.
        """
        height, width = images.shape[-2:]
        size = working_size(height, width, self.input_size, self.patch_size)
        with torch.inference_mode():
            pixels = resize_normalise(images, size, self.mean, self.std)
            with self._autocast():
                predicted = self.model(pixel_values=pixels).predicted_depth
            return resize_depth(predicted, (height, width))

    def estimate(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """(H, W, 3) RGB frames -> (H, W) float32 inverse depth, batched by ``batch_size``."""
        for batch in batched(frames, self.batch_size):
            images = frames_to_tensor(batch, self.device)
            yield from to_numpy_maps(self.predict(images))

    def reset(self) -> None:
        """Nothing to forget: predictions do not depend on earlier frames."""
