"""The fixed, non-learned autoencoder of the CPU configs: space-to-depth on p×p patches.

A learned VAE cannot be trained in a CPU hour, and a random one cannot reconstruct anything, so the
``tiny`` and ``small`` configs work in "patch space": each p×p×3 block of the image (mapped to [-1, 1])
becomes 3·p² channels of one latent cell (``torch.nn.functional.pixel_unshuffle``). It is orthonormal
and exactly invertible, so decode(encode(x)) == x and the denoiser learns everything. It has the
encode/decode surface the pipeline uses for SVD's VAE (``latent_dist.mode()``, ``decode(z, num_frames)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import Tensor


@dataclass
class _Posterior:
    """A deterministic "distribution": the latent itself (mode == sample)."""

    latent: Tensor

    def mode(self) -> Tensor:
        return self.latent

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        return self.latent


@dataclass
class _EncoderOutput:
    latent_dist: _Posterior


@dataclass
class _DecoderOutput:
    sample: Tensor


class PatchAutoencoder(ModelMixin, ConfigMixin):
    """Lossless space-to-depth "autoencoder" with a diffusers config (``patch_size``, ``scaling_factor``).

    encode: (N, 3, H, W) in [-1, 1] -> (N, 3·p², H/p, W/p); decode inverts it exactly. H and W must be
    multiples of p (the pipeline pads). ``scaling_factor`` is 1: the latent already has unit-scale values.
    """

    @register_to_config
    def __init__(self, patch_size: int = 4, in_channels: int = 3, scaling_factor: float = 1.0) -> None:
        super().__init__()
        if patch_size < 1:
            raise ValueError(f"patch_size must be >= 1, got {patch_size}")
        # A weight-free module still needs one tensor for save/load round trips and for .dtype / .device.
        self.register_buffer("scale", torch.ones(1), persistent=True)

    @property
    def latent_channels(self) -> int:
        return self.config.in_channels * self.config.patch_size**2

    def _check(self, x: Tensor) -> None:
        p = self.config.patch_size
        if x.ndim != 4 or x.shape[1] != self.config.in_channels or x.shape[-1] % p or x.shape[-2] % p:
            raise ValueError(f"PatchAutoencoder.encode wants (N, {self.config.in_channels}, H, W) with H, W "
                             f"multiples of {p}, got {tuple(x.shape)}")

    def encode(self, x: Tensor, return_dict: bool = True):
        self._check(x)
        z = F.pixel_unshuffle(x, self.config.patch_size) * self.scale.to(x.dtype)
        return _EncoderOutput(_Posterior(z)) if return_dict else (_Posterior(z),)

    def decode(self, z: Tensor, num_frames: int | None = None, return_dict: bool = True):
        x = F.pixel_shuffle(z / self.scale.to(z.dtype), self.config.patch_size)
        return _DecoderOutput(x) if return_dict else (x,)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x).latent_dist.mode()).sample
