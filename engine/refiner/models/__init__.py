"""The refiner's networks: denoiser (SVD UNet + stereo embedding), RefinerNet (UNet2D), the fixed autoencoder.

:func:`build_components` makes every module of a config with random weights (``tiny``, ``small``, and the
svd-xt architecture for counting); :mod:`engine.refiner.models.loading` initialises svd-xt from local
base weights instead.
"""

from __future__ import annotations

from engine.refiner.configs import RefinerConfig
from engine.refiner.models.autoencoder import PatchAutoencoder
from engine.refiner.models.denoiser import SpatialDreamerUNet, expand_conv_in, stereo_strength
from engine.refiner.models.refiner_net import RefinerNet


def denoiser_kwargs(config: RefinerConfig) -> dict:
    """SpatialDreamerUNet keyword arguments: the config's plus in/out channels from the latent size."""
    c = config.latent_channels
    return {**config.denoiser, "in_channels": 2 * c + 1, "out_channels": c}


def refiner_net_kwargs(config: RefinerConfig) -> dict:
    """RefinerNet keyword arguments: the config's plus in/out channels from the latent size."""
    c = config.latent_channels
    return {**config.refiner_net, "in_channels": c, "out_channels": c}


def build_image_encoder(config: RefinerConfig):
    """A random CLIPVisionModelWithProjection for a dict config (tests), None when the config has none."""
    spec = config.image_encoder
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError(f"config {config.name!r}: image encoder {spec!r} comes from base weights")
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    return CLIPVisionModelWithProjection(CLIPVisionConfig(**spec))


def build_vae(config: RefinerConfig):
    """The config's autoencoder with random (svd) or no (patch) weights."""
    if config.autoencoder == "patch":
        return PatchAutoencoder(patch_size=config.patch_size)
    from diffusers import AutoencoderKLTemporalDecoder

    return AutoencoderKLTemporalDecoder(**(config.vae or {}))


def build_scheduler(config: RefinerConfig):
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(**config.scheduler)


def build_components(config: RefinerConfig) -> dict:
    """Every pipeline module of `config`, randomly initialised (the stereo embedding's projections zero)."""
    denoiser = SpatialDreamerUNet(**denoiser_kwargs(config))
    return {
        "vae": build_vae(config),
        "image_encoder": build_image_encoder(config),
        "denoiser": denoiser,
        "refiner_net": RefinerNet(**refiner_net_kwargs(config)),
        "scheduler": build_scheduler(config),
    }


def parameter_count(module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "PatchAutoencoder",
    "RefinerNet",
    "SpatialDreamerUNet",
    "build_components",
    "denoiser_kwargs",
    "expand_conv_in",
    "parameter_count",
    "refiner_net_kwargs",
    "stereo_strength",
]
