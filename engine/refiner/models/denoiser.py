"""The SpatialDreamer denoiser: SVD's spatio-temporal UNet with the stereo-deviation-strength embedding.

:class:`SpatialDreamerUNet` *is* a ``UNetSpatioTemporalConditionModel`` (same modules, same state-dict keys,
so SVD img2vid-xt weights load into it) with one extra sub-module, ``stereo_embedding``: the stereo
deviation strength map s = |z − z_ref| (channel mean, latent size) is encoded with Fourier features and a
small conv stem, average-pooled to each resolution, projected by a zero-initialised 1×1 conv per residual
block and added to the hidden states entering every ``SpatioTemporalResBlock`` — a positional embedding
at each resolution. Zero-initialised, so a freshly loaded SVD behaves exactly like SVD.

The embedding reaches the residual blocks through forward pre-hooks registered once in ``__init__``
(public torch API; no ``forward`` is replaced) and a per-call context set by :meth:`forward`. The context
stays set after the call so gradient checkpointing can recompute the blocks in the backward pass.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import register_to_config

# DiffusionPipeline.from_pretrained finds a custom component's load method by looking its base class up
# by name in the component's module, so ModelMixin must be importable from here.
from diffusers.models.modeling_utils import ModelMixin  # noqa: F401
from diffusers.models.resnet import SpatioTemporalResBlock
from diffusers.models.unets.unet_spatio_temporal_condition import UNetSpatioTemporalConditionModel
from torch import Tensor, nn

FOURIER_BANDS = 4  # s -> [s, sin(2^k π s), cos(2^k π s)] for k < FOURIER_BANDS


def stereo_strength(latent: Tensor, reference: Tensor) -> Tensor:
    """s(z) = |z − z_ref| averaged over channels.

    Args:
        latent, reference: (..., C, h, w) latents of the target view and of the reference view.
    Returns:
        (..., 1, h, w) the stereo deviation strength map.
    """
    if latent.shape != reference.shape:
        raise ValueError(f"stereo_strength: shapes differ, {tuple(latent.shape)} vs {tuple(reference.shape)}")
    return (latent - reference).abs().mean(dim=-3, keepdim=True)


def fourier_features(s: Tensor, bands: int = FOURIER_BANDS) -> Tensor:
    """(N, 1, h, w) -> (N, 1 + 2·bands, h, w): the map and its sines/cosines at octave frequencies."""
    freqs = (2.0 ** torch.arange(bands, device=s.device, dtype=s.dtype)) * math.pi
    angles = s * freqs.view(1, -1, 1, 1)
    return torch.cat([s, torch.sin(angles), torch.cos(angles)], dim=1)


def _key(name: str) -> str:
    return name.replace(".", "__")


class StereoStrengthEmbedding(nn.Module):
    """s map -> one additive embedding per residual block (zero at initialisation).

    Args:
        embed_dim: channels of the shared stem.
        targets: residual block name -> its input channels.
    """

    def __init__(self, embed_dim: int, targets: dict[str, int]) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1 + 2 * FOURIER_BANDS, embed_dim, 3, padding=1), nn.SiLU(),
            nn.Conv2d(embed_dim, embed_dim, 3, padding=1), nn.SiLU(),
        )
        self.proj = nn.ModuleDict({_key(name): nn.Conv2d(embed_dim, channels, 1) for name, channels in targets.items()})
        for conv in self.proj.values():
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def features(self, s: Tensor) -> Tensor:
        """(N, 1, h, w) s -> (N, embed_dim, h, w) stem features."""
        return self.stem(fourier_features(s))

    def at(self, name: str, features: Tensor, size: tuple[int, int]) -> Tensor:
        """The embedding of block `name` at spatial `size`: pooled stem features through its projection."""
        if tuple(features.shape[-2:]) != tuple(size):
            features = F.adaptive_avg_pool2d(features, size)
        return self.proj[_key(name)](features)


class _StereoContext:
    """The per-call state the residual-block hooks read (set by SpatialDreamerUNet.forward)."""

    def __init__(self) -> None:
        self.features: Tensor | None = None


class SpatialDreamerUNet(UNetSpatioTemporalConditionModel):
    """UNetSpatioTemporalConditionModel + the stereo deviation strength embedding (``stereo_embed_dim``).

    ``in_channels`` is noisy latent + warped-view latent + occlusion mask (4 + 4 + 1 = 9 with SVD's VAE).
    """

    @register_to_config
    def __init__(
        self,
        sample_size: int | None = None,
        in_channels: int = 9,
        out_channels: int = 4,
        down_block_types: tuple[str, ...] = (
            "CrossAttnDownBlockSpatioTemporal",
            "CrossAttnDownBlockSpatioTemporal",
            "CrossAttnDownBlockSpatioTemporal",
            "DownBlockSpatioTemporal",
        ),
        up_block_types: tuple[str, ...] = (
            "UpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
            "CrossAttnUpBlockSpatioTemporal",
        ),
        block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280),
        addition_time_embed_dim: int = 256,
        projection_class_embeddings_input_dim: int = 768,
        layers_per_block: int | tuple[int] = 2,
        cross_attention_dim: int | tuple[int] = 1024,
        transformer_layers_per_block: int | tuple[int, tuple[tuple]] = 1,
        num_attention_heads: int | tuple[int, ...] = (5, 10, 20, 20),
        num_frames: int = 25,
        stereo_embed_dim: int = 128,
    ) -> None:
        super().__init__(
            sample_size=sample_size, in_channels=in_channels, out_channels=out_channels,
            down_block_types=tuple(down_block_types), up_block_types=tuple(up_block_types),
            block_out_channels=tuple(block_out_channels), addition_time_embed_dim=addition_time_embed_dim,
            projection_class_embeddings_input_dim=projection_class_embeddings_input_dim,
            layers_per_block=layers_per_block, cross_attention_dim=cross_attention_dim,
            transformer_layers_per_block=transformer_layers_per_block, num_attention_heads=num_attention_heads,
            num_frames=num_frames,
        )
        blocks = residual_blocks(self)
        targets = {name: block.spatial_res_block.in_channels for name, block in blocks.items()}
        self.stereo_embedding = StereoStrengthEmbedding(stereo_embed_dim, targets)
        self._stereo = _StereoContext()
        for name, block in blocks.items():
            block.register_forward_pre_hook(self._stereo_hook(name))

    def _stereo_hook(self, name: str):
        def hook(module: nn.Module, args: tuple) -> tuple | None:
            features = self._stereo.features
            if features is None:
                return None
            hidden = args[0]
            embedding = self.stereo_embedding.at(name, features, tuple(hidden.shape[-2:]))
            return (hidden + embedding.to(hidden.dtype), *args[1:])

        return hook

    def forward(
        self,
        sample: Tensor,
        timestep: Tensor | float | int,
        encoder_hidden_states: Tensor,
        added_time_ids: Tensor,
        stereo_strength: Tensor | None = None,
        return_dict: bool = True,
    ):
        """UNetSpatioTemporalConditionModel.forward plus the stereo deviation strength.

        Args:
            sample: (B, F, in_channels, h, w) noisy latent ‖ warped latent ‖ mask.
            stereo_strength: (B, F, 1, h, w) s map, or None (no embedding: plain SVD behaviour).
        """
        if stereo_strength is None:
            self._stereo.features = None
        else:
            if stereo_strength.shape[:2] != sample.shape[:2] or stereo_strength.shape[-2:] != sample.shape[-2:]:
                raise ValueError(f"stereo_strength {tuple(stereo_strength.shape)} does not match the sample "
                                 f"{tuple(sample.shape)}: want (B, F, 1, h, w)")
            s = stereo_strength.flatten(0, 1).to(self.conv_in.weight.dtype)
            self._stereo.features = self.stereo_embedding.features(s)
        return super().forward(sample, timestep, encoder_hidden_states, added_time_ids, return_dict=return_dict)


def residual_blocks(unet: nn.Module) -> dict[str, SpatioTemporalResBlock]:
    """Every SpatioTemporalResBlock of the UNet by module name (down, mid and up paths)."""
    return {name: m for name, m in unet.named_modules() if isinstance(m, SpatioTemporalResBlock)}


def expand_conv_in(weight: Tensor, in_channels: int) -> Tensor:
    """SVD's conv_in weight (C, 8, 3, 3) -> (C, in_channels, 3, 3), the extra input channels zero.

    SVD's 8 channels are noisy latent (4) + conditioning image latent (4); ours keep that order with the
    warped view's latent in the image slot, then the occlusion mask.
    """
    out = weight.new_zeros((weight.shape[0], in_channels, *weight.shape[2:]))
    n = min(in_channels, weight.shape[1])
    out[:, :n] = weight[:, :n]
    return out
