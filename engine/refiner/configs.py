"""Named refiner configurations: ``tiny`` (tests), ``small`` (trainable on a CPU), ``svd-xt`` (the paper's scale).

Pure data (no torch, no diffusers): the CLI can list configs and the docs can quote them without loading
anything heavy. A config names the architecture of every module (diffusers keyword arguments), the
training recipe and the inference defaults. ``train-refiner --config NAME|FILE.json`` takes a name from
:data:`CONFIGS` or a JSON file holding the same fields (see :func:`config_from_dict`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from engine.errors import InputError, UsageError

CONFIG_SCHEMA = "RefinerConfig.1"
AUTOENCODERS = ("svd", "patch")
LR_SCHEDULES = ("constant_with_warmup", "cosine")


@dataclass(frozen=True)
class TrainSettings:
    """How a config is trained (``train-refiner`` flags override some of these).

    Attributes:
        num_frames: frames per training clip (the temporal window the model learns).
        height, width: training crop in pixels (random crop of the pair frames, resized first when smaller).
        batch_size: clips per optimiser step and process.
        learning_rate, warmup_steps, weight_decay, max_grad_norm: AdamW with linear warm-up and gradient
            clipping.
        lr_schedule: after the warm-up, ``constant_with_warmup`` (constant) or ``cosine`` (cosine decay to
            0 at ``max_steps`` / ``--max-steps``; diffusers' get_scheduler).
        ema_decay: EMA of the trainable weights (the shipped weights); ``ema_power`` its warm-up (diffusers EMAModel).
        sigma_mean, sigma_std: log-normal noise-level distribution, log σ ~ N(mean, std) (EDM / SVD fine-tuning).
        reference_drop: probability of training a clip without the reference (RefinerNet features and image
            embedding dropped) so classifier-free guidance works at inference.
        swap_probability: probability of the left/right swap (a horizontal mirror of every image of the clip).
        lambda_d: weight of the stereo-aware loss l_d.
        hole_share: share of the loss given to the latent cells of the (dilated) holes, the rest going to
            the other cells (:func:`engine.refiner.losses.hole_weights`); 0 = the plain mean over all cells.
        mixed_precision: ``bf16`` (used on CUDA; CPU runs fall back to fp32) or ``no``.
        gradient_checkpointing: recompute activations in the backward pass (needed at svd-xt scale).
        checkpoint_every, validate_every: optimiser steps between resumable checkpoints / validation passes.
        keep_checkpoints: how many resumable checkpoints to keep (oldest deleted first).
        validation_steps: denoising steps of the validation pass.
        validation_clips: at most this many held-out windows per validation.
        max_steps: default ``--max-steps``.
    """

    num_frames: int
    height: int
    width: int
    batch_size: int = 1
    learning_rate: float = 1e-4
    warmup_steps: int = 100
    lr_schedule: str = "constant_with_warmup"
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    ema_decay: float = 0.999
    ema_power: float = 0.75
    sigma_mean: float = 0.7
    sigma_std: float = 1.6
    reference_drop: float = 0.1
    swap_probability: float = 0.5
    lambda_d: float = 0.1
    hole_share: float = 0.0
    mixed_precision: str = "bf16"
    gradient_checkpointing: bool = False
    checkpoint_every: int = 500
    validate_every: int = 500
    keep_checkpoints: int = 2
    validation_steps: int = 8
    validation_clips: int = 4
    max_steps: int = 10000

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise UsageError(f"lr_schedule {self.lr_schedule!r}: use one of {', '.join(LR_SCHEDULES)}")
        if not 0.0 <= self.hole_share < 1.0:
            raise UsageError(f"hole_share {self.hole_share} must be in [0, 1)")


@dataclass(frozen=True)
class InferenceSettings:
    """Inference defaults (``convert --refiner`` options override them).

    Attributes:
        steps: Euler denoising steps. guidance: classifier-free guidance scale on the reference (1 = off).
        window, window_overlap: frames per temporal window and frames shared by neighbouring windows.
        tile, tile_overlap: spatial tile size and overlap in pixels (tile 0 = whole frame).
        fps_id, motion_bucket_id, noise_aug_strength: SVD's added time ids (noise_aug is also the
            Gaussian noise added to the warped view before it is encoded, as SVD does with its image).
    """

    steps: int = 25
    guidance: float = 1.0
    window: int = 25
    window_overlap: int = 4
    tile: int = 0
    tile_overlap: int = 64
    fps_id: int = 6
    motion_bucket_id: int = 127
    noise_aug_strength: float = 0.02


@dataclass(frozen=True)
class RefinerConfig:
    """One refiner configuration.

    Attributes:
        name: the config's name (``tiny``, ``small``, ``svd-xt`` or a user file's stem).
        autoencoder: ``svd`` (SVD's AutoencoderKLTemporalDecoder, loaded from ``svd-xt/vae`` or built from
            ``vae``) or ``patch`` (the fixed, non-learned space-to-depth autoencoder of ``patch_size``).
        patch_size: the patch autoencoder's factor (latent channels 3·p², size H/p × W/p).
        vae: AutoencoderKLTemporalDecoder keyword arguments when ``autoencoder`` is ``svd`` and no base weights.
        denoiser: SpatialDreamerUNet keyword arguments (UNetSpatioTemporalConditionModel's plus
            ``stereo_embed_dim``); ``in_channels``/``out_channels`` are derived from the latent channels.
        refiner_net: RefinerNet (UNet2DConditionModel) keyword arguments; in/out channels derived likewise.
        image_encoder: ``clip`` (CLIPVisionModelWithProjection from ``svd-xt/image_encoder``), a dict of
            CLIPVisionConfig keyword arguments (random, for tests), or None (zero image embedding).
        base: ``svd-xt+sd21`` to initialise from the local base weights (models folder ``svd-xt/`` and
            ``sd21/``), or None (random initialisation).
        til_lambda, til_neighbours: Temporal Interaction Learning λ and N_r.
        residual_sigma: None for the paper's plain v-prediction; else the denoiser predicts the v of the
            *residual* over the geometric render's latent b (EDM preconditioning with this data scale σ_d,
            :mod:`engine.refiner.losses`), so even an untrained model stays near the geometric render.
            For the from-scratch CPU configs, which cannot learn to reproduce images in a CPU hour; svd-xt
            keeps the paper's plain v-prediction (SVD's weights already know images).
        scheduler: EulerDiscreteScheduler keyword arguments (v-prediction, continuous time as SVD).
    """

    name: str
    autoencoder: str
    denoiser: dict
    refiner_net: dict
    train: TrainSettings
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    patch_size: int = 4
    vae: dict | None = None
    image_encoder: str | dict | None = None
    base: str | None = None
    til_lambda: float = 0.5
    til_neighbours: int = 2
    residual_sigma: float | None = None
    scheduler: dict = field(default_factory=lambda: dict(SVD_SCHEDULER))

    def __post_init__(self) -> None:
        if self.autoencoder not in AUTOENCODERS:
            raise UsageError(f"refiner config {self.name!r}: autoencoder must be one of {', '.join(AUTOENCODERS)}")
        if not 0.0 <= self.til_lambda <= 1.0:
            raise UsageError(f"refiner config {self.name!r}: til_lambda {self.til_lambda} is outside 0..1")
        if self.til_neighbours < 0:
            raise UsageError(f"refiner config {self.name!r}: til_neighbours must be >= 0")
        if self.base not in (None, "svd-xt+sd21"):
            raise UsageError(f"refiner config {self.name!r}: base must be null or 'svd-xt+sd21'")

    @property
    def latent_channels(self) -> int:
        """Channels of one latent (4 for SVD's VAE, 3·p² for the patch autoencoder)."""
        if self.autoencoder == "patch":
            return 3 * self.patch_size**2
        return int((self.vae or {}).get("latent_channels", 4))

    def to_dict(self) -> dict:
        return {"schema": CONFIG_SCHEMA, **json.loads(json.dumps(asdict(self)))}


# EulerDiscreteScheduler as Stable Video Diffusion img2vid-xt ships it (v-prediction, EDM-style continuous time).
SVD_SCHEDULER = {
    "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "interpolation_type": "linear",
    "num_train_timesteps": 1000, "prediction_type": "v_prediction", "sigma_max": 700.0, "sigma_min": 0.002,
    "steps_offset": 1, "timestep_spacing": "leading", "timestep_type": "continuous", "use_karras_sigmas": True,
}

# The architectures of SVD img2vid-xt's UNet and SD 2.1's UNet (their config.json), for building the svd-xt
# config without weights (parameter count, the GPU check) and checking base weights against it.
SVD_XT_UNET = {
    "down_block_types": ["CrossAttnDownBlockSpatioTemporal"] * 3 + ["DownBlockSpatioTemporal"],
    "up_block_types": ["UpBlockSpatioTemporal"] + ["CrossAttnUpBlockSpatioTemporal"] * 3,
    "block_out_channels": [320, 640, 1280, 1280], "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 768, "layers_per_block": 2, "cross_attention_dim": 1024,
    "transformer_layers_per_block": 1, "num_attention_heads": [5, 10, 20, 20], "num_frames": 25,
    "stereo_embed_dim": 128,
}
SD21_UNET = {
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2, "cross_attention_dim": 1024,
    "attention_head_dim": [5, 10, 20, 20], "use_linear_projection": True, "upcast_attention": True,
    "sample_size": 96,
}
SVD_VAE = {
    "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4,
    "latent_channels": 4, "layers_per_block": 2, "in_channels": 3, "out_channels": 3, "scaling_factor": 0.18215,
}

def cpu_unets(attention: tuple[bool, ...], channels: tuple[int, ...], heads: tuple[int, ...], time_dim: int,
              stereo_dim: int, frames: int, cross_dim: int = 32) -> tuple[dict, dict]:
    """The denoiser's and RefinerNet's keyword arguments of a from-scratch CPU config: the same levels (with or
    without attention, from the top), widths and heads for both, spatio-temporal blocks for the denoiser."""
    def blocks(kind: str, suffix: str) -> tuple[list[str], list[str]]:
        down = [f"{'CrossAttn' if a else ''}Down{kind}{suffix}" for a in attention]
        up = [f"{'CrossAttn' if a else ''}Up{kind}{suffix}" for a in reversed(attention)]
        return down, up

    shared = {"block_out_channels": list(channels), "layers_per_block": 1, "cross_attention_dim": cross_dim}
    (down_st, up_st), (down_2d, up_2d) = blocks("Block", "SpatioTemporal"), blocks("Block", "2D")
    denoiser = {"down_block_types": down_st, "up_block_types": up_st, **shared, "num_attention_heads": list(heads),
                "addition_time_embed_dim": time_dim, "projection_class_embeddings_input_dim": 3 * time_dim,
                "num_frames": frames, "stereo_embed_dim": stereo_dim}
    refiner_net = {"down_block_types": down_2d, "up_block_types": up_2d, **shared, "attention_head_dim": list(heads),
                   "norm_num_groups": 32}
    return denoiser, refiner_net


# The CPU configs' residual data scale σ_d: the RMS of (real − geometric fill) over the hole pixels of the
# pairs the shipped small refiner trains on (0.08–0.35 per clip, in the latents' [-1, 1] units; see
# resources/refiner/make_small.py), and their noise levels in units of it: ln σ ~ N(ln σ_d, 1.2) (EDM's
# spread) for training, σ_max = 20 σ_d for sampling (beyond that the residual is invisible in the noise).
CPU_SIGMA_DATA = 0.2
CPU_SIGMA_MEAN, CPU_SIGMA_STD = math.log(CPU_SIGMA_DATA), 1.2
CPU_SIGMA_MAX = 20 * CPU_SIGMA_DATA


def cpu_config(name: str, patch_size: int, unets: tuple[dict, dict], train: TrainSettings,
               inference: InferenceSettings) -> RefinerConfig:
    """A from-scratch CPU config: the patch autoencoder, no image encoder, the residual parametrisation
    (σ_d = :data:`CPU_SIGMA_DATA`) and SVD's scheduler with σ_max = 20 σ_d (see the package docstring)."""
    return RefinerConfig(name=name, autoencoder="patch", patch_size=patch_size, denoiser=unets[0],
                         refiner_net=unets[1], image_encoder=None, til_neighbours=2, residual_sigma=CPU_SIGMA_DATA,
                         scheduler={**SVD_SCHEDULER, "sigma_max": CPU_SIGMA_MAX}, train=train, inference=inference)


TINY = cpu_config(
    "tiny", 2, cpu_unets((True, False), (32, 64), (2, 4), time_dim=8, stereo_dim=16, frames=4),
    TrainSettings(num_frames=4, height=32, width=32, batch_size=2, learning_rate=2e-3, warmup_steps=5,
                  sigma_mean=CPU_SIGMA_MEAN, sigma_std=CPU_SIGMA_STD, hole_share=0.1, ema_decay=0.99,
                  mixed_precision="no", checkpoint_every=20, validate_every=20,
                  keep_checkpoints=2, validation_steps=4, validation_clips=2, max_steps=60),
    InferenceSettings(steps=4, guidance=1.0, window=4, window_overlap=1, tile=0, tile_overlap=16),
)

SMALL = cpu_config(
    "small", 4, cpu_unets((False, True, True), (32, 64, 64), (1, 2, 2), time_dim=16, stereo_dim=32, frames=4),
    TrainSettings(num_frames=4, height=128, width=128, batch_size=2, learning_rate=1e-3, warmup_steps=50,
                  lr_schedule="cosine", sigma_mean=CPU_SIGMA_MEAN, sigma_std=CPU_SIGMA_STD, hole_share=0.1,
                  ema_decay=0.995, mixed_precision="no", checkpoint_every=200, validate_every=200,
                  keep_checkpoints=2, validation_steps=8, validation_clips=4, max_steps=1500),
    InferenceSettings(steps=8, guidance=1.0, window=8, window_overlap=2, tile=256, tile_overlap=32),
)

SVD_XT = RefinerConfig(
    name="svd-xt",
    autoencoder="svd",
    vae=SVD_VAE,
    denoiser=SVD_XT_UNET,
    refiner_net=SD21_UNET,
    image_encoder="clip",
    base="svd-xt+sd21",
    til_neighbours=2,
    train=TrainSettings(num_frames=25, height=576, width=1024, batch_size=1, learning_rate=1e-5,
                        warmup_steps=500, ema_decay=0.9999, mixed_precision="bf16", gradient_checkpointing=True,
                        checkpoint_every=1000, validate_every=1000, keep_checkpoints=3, validation_steps=25,
                        validation_clips=4, max_steps=30000),
    inference=InferenceSettings(steps=25, guidance=2.0, window=25, window_overlap=4, tile=0, tile_overlap=128),
)

CONFIGS: dict[str, RefinerConfig] = {c.name: c for c in (TINY, SMALL, SVD_XT)}


def config_from_dict(data: dict, name: str) -> RefinerConfig:
    """A RefinerConfig from JSON values (``schema`` RefinerConfig.1; unknown keys are an error)."""
    data = dict(data)
    schema = data.pop("schema", CONFIG_SCHEMA)
    if schema != CONFIG_SCHEMA:
        raise InputError(f"refiner config schema {schema!r} is not {CONFIG_SCHEMA}",
                         hint="Write the config with this version's fields")
    try:
        train = TrainSettings(**data.pop("train"))
        inference = InferenceSettings(**data.pop("inference", {}))
        return RefinerConfig(**{"name": name, **data, "train": train, "inference": inference})
    except (KeyError, TypeError) as exc:
        raise InputError(f"refiner config {name!r} has missing or unknown fields ({exc})",
                         hint="Start from `RefinerConfig.to_dict()` of a named config") from exc


def get_config(name_or_path: str | Path) -> RefinerConfig:
    """A named config (``tiny``, ``small``, ``svd-xt``) or one read from a JSON file.

    Raises:
        UsageError: an unknown name that is not a file either.
        InputError: an unreadable or malformed JSON file.
    """
    key = str(name_or_path)
    if key in CONFIGS:
        return CONFIGS[key]
    path = Path(key)
    if not path.is_file():
        raise UsageError(f"unknown refiner config {key!r}",
                         hint=f"Use one of {', '.join(CONFIGS)} or a JSON file written like them")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a readable refiner config ({exc})", path=path) from exc
    if not isinstance(data, dict):
        raise InputError("refiner config must be a JSON object", path=path)
    return config_from_dict(data, data.pop("name", path.stem))


def with_train(config: RefinerConfig, **changes) -> RefinerConfig:
    """`config` with some training settings replaced (``--batch-size``, ``--learning-rate`` …)."""
    return replace(config, train=replace(config.train, **changes))


__all__ = [
    "CONFIGS",
    "CONFIG_SCHEMA",
    "InferenceSettings",
    "RefinerConfig",
    "TrainSettings",
    "config_from_dict",
    "get_config",
    "with_train",
]
