"""Self-supervised training of the refiner on PairDataset.1 folders, with Hugging Face Accelerate.

``train_refiner(TrainRequest)`` is a generator of Progress (the CLI's ``train-refiner`` drives it; multi-GPU
and multi-node runs go through ``accelerate launch -m engine train-refiner …``). Per optimiser step:

1. a batch of windows (:mod:`engine.refiner.data`; example numbers fixed by the step, so a resumed run
   sees the same examples), encoded by the frozen autoencoder / image encoder;
2. σ from the log-normal, z_σ = z₀ + σε; RefinerNet on the reference latents (timestep 0) writes the
   reference bank, the denoiser reads it and predicts v (bf16 autocast on CUDA);
3. l = l_v + λ_d·l_d; AdamW (gradient clipping, warm-up), EMA of the weights;
4. one CSV row (raw loss), a resumable checkpoint every ``checkpoint_every`` steps and at the end, a
   validation pass (EMA weights, PSNR/SSIM on the hole pixels of held-out clips) every ``validate_every``.

A non-finite loss stops the run before the optimiser step (the last good checkpoint stays). Cancelling
(Ctrl-C) writes a checkpoint of the current step first.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from engine import __version__
from engine.device import resolve_device
from engine.errors import Cancelled, OutputError, TrainingError, UsageError
from engine.fileio import atomic_write_json
from engine.progress import CancelToken, Progress
from engine.refiner import checkpoints as ck
from engine.refiner.configs import RefinerConfig, get_config, with_train
from engine.refiner.data import PairWindows, StepSampler, load_window, open_datasets, split_clips, validation_windows
from engine.refiner.evaluation import HoleScore, geometric_fill
from engine.refiner.losses import (
    continuous_timestep,
    hole_weights,
    noise_input,
    refiner_loss,
    residual_input,
    stratified_sigmas,
)
from engine.refiner.models import build_components
from engine.refiner.models.denoiser import stereo_strength
from engine.refiner.pipeline import (
    SpatialDreamerPipeline,
    added_time_ids,
    drain,
    encode,
    image_embeddings,
    mask_latent,
)

VALIDATION_SEED = 1234  # fixed noise for every validation pass, so passes compare


@dataclass(frozen=True)
class TrainRequest:
    """What ``train-refiner`` does.

    Attributes:
        config: a config name (tiny, small, svd-xt) or a JSON file.
        data: PairDataset.1 folders.
        output: the run folder (created; an existing run there is resumed).
        max_steps: optimiser steps to reach (None = the config's).
        models_dir: where ``svd-xt/`` and ``sd21/`` are (configs with base weights).
        device: ``auto|cpu|cuda[:N]`` (under ``accelerate launch`` the launcher's device wins).
        seed: run seed (initial weights, example order, noise).
        batch_size, learning_rate, mixed_precision, checkpoint_every, validate_every: overrides of the config.
        max_minutes: stop cleanly (with a checkpoint) after this much wall time; None = no limit.
        num_workers: DataLoader workers reading PNGs.
    """

    config: str
    data: tuple[Path, ...]
    output: Path
    max_steps: int | None = None
    models_dir: Path | None = None
    device: str = "auto"
    seed: int = 0
    batch_size: int | None = None
    learning_rate: float | None = None
    mixed_precision: str | None = None
    checkpoint_every: int | None = None
    validate_every: int | None = None
    max_minutes: float | None = None
    num_workers: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", tuple(Path(p) for p in self.data))
        object.__setattr__(self, "output", Path(self.output))
        if not self.data:
            raise UsageError("no pair dataset given", hint="Pass --data PAIRS_DIR (from `spatialdreamer make-pairs`)")
        if self.max_steps is not None and self.max_steps < 1:
            raise UsageError(f"--max-steps {self.max_steps} must be at least 1")
        if self.mixed_precision not in (None, "bf16", "no"):
            raise UsageError(f"--mixed-precision {self.mixed_precision!r}: use bf16 or no")


@dataclass
class TrainReport:
    """What a run did (the generator's return value)."""

    output: Path
    steps: int
    resumed_from: int
    first_loss: float | None = None
    last_loss: float | None = None
    validation: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def effective_config(request: TrainRequest) -> RefinerConfig:
    """The request's config with its overrides applied."""
    config = get_config(request.config)
    changes = {k: v for k, v in (("batch_size", request.batch_size), ("learning_rate", request.learning_rate),
                                 ("mixed_precision", request.mixed_precision),
                                 ("checkpoint_every", request.checkpoint_every),
                                 ("validate_every", request.validate_every)) if v is not None}
    return with_train(config, **changes) if changes else config


def make_pipeline(config: RefinerConfig, components: dict) -> SpatialDreamerPipeline:
    """A SpatialDreamerPipeline of `components` carrying the config's TIL settings and inference defaults."""
    i = config.inference
    return SpatialDreamerPipeline(
        **components, til_lambda=config.til_lambda, til_neighbours=config.til_neighbours,
        min_frames=1, default_steps=i.steps, default_guidance=i.guidance, default_window=i.window,
        default_window_overlap=i.window_overlap, default_tile=i.tile, default_tile_overlap=i.tile_overlap,
        fps_id=i.fps_id, motion_bucket_id=i.motion_bucket_id, noise_aug_strength=i.noise_aug_strength,
        residual_sigma=config.residual_sigma, config_name=config.name)


def initial_components(config: RefinerConfig, models_dir: Path | None, seed: int) -> dict:
    """Base weights (``svd-xt+sd21``) from the models folder, else a seeded random initialisation.

    A random residual config starts with the denoiser's output convolution zero, so the untrained model is
    exactly the Gaussian-prior denoiser around the geometric render (ẑ₀ = b + c_skip·(z_σ − b)): training
    starts from the geometric path, and the loss curve measures what is learnt beyond it.
    """
    if config.base is not None:
        from engine.models import resolve_models_dir
        from engine.refiner.models.loading import components_from_base

        folder, _ = resolve_models_dir(models_dir)
        return components_from_base(config, folder)
    torch.manual_seed(seed)
    components = build_components(config)
    if config.residual_sigma is not None:
        nn.init.zeros_(components["denoiser"].conv_out.weight)
        nn.init.zeros_(components["denoiser"].conv_out.bias)
    return components


class RefinerTraining(nn.Module):
    """The trainable part as one module (what Accelerate wraps): RefinerNet writes, the denoiser reads.

    forward(...) -> (B, F, C, h, w) v prediction. One module so DDP sees every parameter that the loss
    reaches through the reference bank.
    """

    def __init__(self, pipe: SpatialDreamerPipeline) -> None:
        super().__init__()
        self.denoiser, self.refiner_net = pipe.denoiser, pipe.refiner_net
        self.bank = pipe.bank

    def forward(self, scaled: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor,
                reference: torch.Tensor, strength: torch.Tensor, frame_embeds: torch.Tensor,
                clip_embed: torch.Tensor, time_ids: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, f = scaled.shape[:2]
        with self.bank.writing(f):
            self.refiner_net.encode_reference(reference.flatten(0, 1), frame_embeds)
        sample = torch.cat([scaled, cond, mask], dim=2)
        with self.bank.reading(keep.repeat_interleave(f)):
            return self.denoiser(sample, timestep, clip_embed, time_ids, stereo_strength=strength,
                                 return_dict=False)[0]


def step_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    """The RNG of one optimiser step of one process (noise, σ, reference dropout)."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int.from_bytes(f"{seed}:{step}:{rank}".encode(), "big") % (2**63))
    return gen


@torch.no_grad()
def encode_batch(pipe: SpatialDreamerPipeline, batch: dict, gen: torch.Generator, config: RefinerConfig,
                 batch_index: int) -> dict:
    """Latents and conditioning of a batch ((B, F, …) tensors on the pipeline's device); `batch_index` is the
    batch's number, step · processes + rank (its noise levels follow from it: :func:`stratified_sigmas`)."""
    t, i = config.train, config.inference
    device = pipe.denoiser.device
    ref, geo, truth, mask = (batch[k].to(device) for k in ("reference", "geometric", "truth", "mask"))
    b, f = ref.shape[:2]

    def enc(x, scaled=True):
        return encode(pipe.vae, x.flatten(0, 1), scaled).unflatten(0, (b, f)).float()

    aug = torch.randn(geo.shape, generator=gen).to(device)
    z0, z_ref = enc(truth), enc(ref)
    residual = config.residual_sigma is not None
    base = enc(filled_geometric(batch).to(device)) if residual else None
    cond = enc(geo * (1.0 - mask) + i.noise_aug_strength * aug, scaled=False)
    holes = mask_latent(mask.flatten(0, 1), tuple(z0.shape[-2:])).unflatten(0, (b, f))
    frame_embeds = image_embeddings(pipe.image_encoder, ref.flatten(0, 1), pipe.cross_attention_dim).float()
    keep = torch.rand(b, generator=gen) >= t.reference_drop
    clip_embed = frame_embeds.unflatten(0, (b, f)).mean(dim=1) * keep.to(device).view(-1, 1, 1)
    sigma = stratified_sigmas(batch_index, b, t.sigma_mean, t.sigma_std).to(device)
    noise = torch.randn(z0.shape, generator=gen).to(device)
    noisy, scaled = noise_input(z0, noise, sigma)
    if residual:
        scaled = residual_input(noisy, base, sigma, config.residual_sigma)
    return {"z0": z0, "z_ref": z_ref, "base": base, "noise": noise, "noisy": noisy, "sigma": sigma,
            "weights": hole_weights(holes, t.hole_share), "inputs": {
        "scaled": scaled, "timestep": continuous_timestep(sigma), "cond": cond, "mask": holes,
        "reference": z_ref, "strength": stereo_strength(z0, z_ref), "frame_embeds": frame_embeds,
        "clip_embed": clip_embed, "keep": keep.to(device),
        "time_ids": added_time_ids(i.fps_id, i.motion_bucket_id, i.noise_aug_strength, b, device, torch.float32)}}


def filled_geometric(batch: dict) -> torch.Tensor:
    """(B, F, 3, H, W) the batch's geometric views with their holes filled as the geometric path fills them
    (the prior b of residual models, and the validation baseline)."""
    geo, mask, disp = batch["geometric"], batch["mask"], batch["disparity"]
    b, f = geo.shape[:2]
    scale = batch["scale"].reshape(-1).repeat_interleave(f)
    filled = geometric_fill(geo.flatten(0, 1), mask.flatten(0, 1) > 0.5, disp.flatten(0, 1), scale)
    return filled.unflatten(0, (b, f))


def batch_loss(module: nn.Module, encoded: dict, config: RefinerConfig):
    v = module(**encoded["inputs"])
    return refiner_loss(v, encoded["z0"], encoded["noise"], encoded["noisy"], encoded["sigma"], encoded["z_ref"],
                        config.train.lambda_d, encoded["base"], config.residual_sigma or 1.0, encoded["weights"])


def hole_offset(clip, start: int, t) -> tuple[float, float]:
    """Crop offset (fractions of the free room) that centres a validation crop on the first frame's holes."""
    from engine.jobs.pairs import frame_path
    from engine.refiner.data import MASK, read_mask

    mask = read_mask(frame_path(clip.folder, MASK, start))
    h, w = mask.shape
    if not mask.any() or (h <= t.height and w <= t.width):
        return 0.5, 0.5
    ys, xs = mask.nonzero()
    fy = (ys.mean() - t.height / 2) / max(1, h - t.height) if h > t.height else 0.5
    fx = (xs.mean() - t.width / 2) / max(1, w - t.width) if w > t.width else 0.5
    return float(min(1, max(0, fy))), float(min(1, max(0, fx)))


@torch.no_grad()
def validate(pipe: SpatialDreamerPipeline, module: nn.Module, windows: list, config: RefinerConfig) -> dict:
    """Validation figures with the current (EMA) weights: loss at fixed noise, and PSNR/SSIM on the hole
    pixels of the refined view vs the real frame, next to the geometric baseline (the geometric path's
    background fill, :func:`filled_geometric`)."""
    t = config.train
    refined, geometric, losses = HoleScore(), HoleScore(), []
    for k, (clip, start) in enumerate(windows):
        window = load_window(clip, start, t.num_frames, (t.height, t.width), hole_offset(clip, start, t))
        gen = step_generator(VALIDATION_SEED, k, 0, pipe.denoiser.device)
        batch = {key: v[None] for key, v in window.items()}
        losses.append(float(batch_loss(module, encode_batch(pipe, batch, gen, replace(
            config, train=replace(t, reference_drop=0.0)), k), config).total))
        filled = filled_geometric(batch)[0]
        gen = torch.Generator().manual_seed(VALIDATION_SEED + k)
        out = drain(pipe.denoise_window(window["reference"], filled, window["mask"] > 0.5, steps=t.validation_steps,
                                        guidance=1.0, generator=gen, tile=0, tile_overlap=0))
        refined.add_frames(out, window["truth"], window["mask"])
        geometric.add_frames(filled, window["truth"], window["mask"])
    return {"val_loss": sum(losses) / max(1, len(losses)), "val_psnr_hole": refined.psnr,
            "val_ssim_hole": refined.ssim, "geo_psnr_hole": geometric.psnr, "geo_ssim_hole": geometric.ssim}


class _Run:
    """Everything one training run holds (kept out of the generator's locals for readability)."""

    def __init__(self, request: TrainRequest) -> None:
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs
        from diffusers.optimization import get_scheduler
        from diffusers.training_utils import EMAModel

        self.request, self.config = request, effective_config(request)
        t = self.config.train
        self.max_steps = request.max_steps or t.max_steps
        self.out = request.output
        device = resolve_device(request.device)
        self.notes: list[str] = []
        mixed = t.mixed_precision if device.type == "cuda" else "no"
        if mixed != t.mixed_precision:
            self.notes.append(f"{t.mixed_precision} mixed precision needs CUDA: training in fp32 on {device.type}")
        tb = importlib.util.find_spec("tensorboard") is not None
        self.accelerator = Accelerator(
            mixed_precision=mixed, cpu=device.type == "cpu", log_with="tensorboard" if tb else None,
            project_dir=str(self.out), kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
        clips = open_datasets(request.data)
        train_clips, val_clips, split_notes = split_clips(clips, t.num_frames)
        self.notes += split_notes
        self.dataset = PairWindows(train_clips, t.num_frames, (t.height, t.width), request.seed, t.swap_probability)
        self.val_windows = validation_windows(val_clips, t.num_frames, t.validation_clips)
        self.pipe = make_pipeline(self.config, initial_components(self.config, request.models_dir, request.seed))
        self.pipe.to(self.accelerator.device)
        for frozen in (self.pipe.vae, self.pipe.image_encoder):
            if frozen is not None:
                frozen.requires_grad_(False).eval()
        if t.gradient_checkpointing:
            self.pipe.denoiser.enable_gradient_checkpointing()
            self.pipe.refiner_net.enable_gradient_checkpointing()
        module = RefinerTraining(self.pipe)
        params = [p for p in module.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=t.learning_rate, weight_decay=t.weight_decay)
        schedule = get_scheduler(t.lr_schedule, optimizer, num_warmup_steps=t.warmup_steps,
                                 num_training_steps=self.max_steps)
        self.ema = EMAModel(params, decay=t.ema_decay, use_ema_warmup=True, power=t.ema_power)
        self.module, self.optimizer, self.schedule = self.accelerator.prepare(module, optimizer, schedule)
        self.accelerator.register_for_checkpointing(self.ema)
        self.params = params
        if tb:
            self.accelerator.init_trackers("refiner")

    # -- state on disk ----------------------------------------------------------------------

    def resume(self) -> int:
        """Load the newest complete checkpoint; return its step (0 when starting fresh)."""
        ck.clean_staging(self.out)
        found = ck.latest_checkpoint(self.out)
        if found is None:
            return 0
        step, folder = found
        state = json.loads((folder / ck.TRAINER_STATE).read_text(encoding="utf-8"))
        if state.get("config") != self.config.to_dict():
            raise UsageError(f"{self.out} holds a run of another config or settings; its checkpoints would mix",
                             path=self.out, hint="Use the same --config and overrides, or another --out")
        self.accelerator.load_state(str(folder))
        return step

    def record(self, step: int, validation: dict) -> dict:
        return {"schema": ck.TRAINING_SCHEMA, "created_by": f"spatialdreamer {__version__}",
                "config": self.config.to_dict(), "data": [str(p) for p in self.request.data],
                "seed": self.request.seed, "step": step, "max_steps": self.max_steps, "validation": validation,
                "notes": self.notes}

    def save(self, step: int, validation: dict) -> None:
        """Resumable checkpoint of `step`, then the EMA pipeline on top of the output folder."""
        staging = self.out / ck.CHECKPOINTS / f".{ck.checkpoint_name(step)}.partial"
        if self.accelerator.is_main_process:
            ck.staging_folder(self.out, step)
        self.accelerator.wait_for_everyone()
        self.accelerator.save_state(str(staging))
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            ck.finish_checkpoint(self.out, staging, step, {"config": self.config.to_dict()},
                                 self.config.train.keep_checkpoints)
            self.export(step, validation)

    def export(self, step: int, validation: dict) -> None:
        staged = self.out / f".pipeline-{step:06d}.partial"
        self.ema.store(self.params)
        self.ema.copy_to(self.params)
        try:
            self.pipe.save_pretrained(str(staged))
        finally:
            self.ema.restore(self.params)
        ck.install_pipeline(self.out, staged)
        atomic_write_json(self.out / ck.TRAINING_RECORD, self.record(step, validation))

    def validation(self) -> dict:
        if not self.val_windows:
            return {}
        self.ema.store(self.params)
        self.ema.copy_to(self.params)
        self.module.eval()
        try:
            return validate(self.pipe, self.module, self.val_windows, self.config)
        finally:
            self.module.train()
            self.ema.restore(self.params)


def _check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError("is a file; train-refiner writes a folder", path=out, hint="Choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / ck.CHECKPOINTS).is_dir() \
            and not (out / ck.TRAINING_RECORD).is_file():
        raise OutputError("folder is not empty and holds no refiner training run", path=out,
                          hint="Choose a new or empty folder; nothing in it was changed")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder ({exc.strerror or exc})", path=out) from exc


def _loader(run: _Run, start: int):
    t = run.config.train
    sampler = StepSampler(start, t.batch_size, run.accelerator.process_index, run.accelerator.num_processes)
    loader = torch.utils.data.DataLoader(run.dataset, batch_size=t.batch_size, sampler=sampler,
                                         num_workers=run.request.num_workers)
    return iter(loader)


def _optimiser_step(run: _Run, step: int, batch: dict, last_good: int) -> dict:
    """One optimiser step; returns its CSV row. Raises TrainingError on a non-finite loss (nothing applied)."""
    t = run.config.train
    gen = step_generator(run.request.seed, step, run.accelerator.process_index, run.accelerator.device)
    index = step * run.accelerator.num_processes + run.accelerator.process_index
    encoded = encode_batch(run.pipe, batch, gen, run.config, index)
    with run.accelerator.autocast():
        terms = batch_loss(run.module, encoded, run.config)
    value = float(terms.total.detach())
    if not math.isfinite(value):
        raise TrainingError(f"loss became {value} at step {step + 1}; stopped before the update",
                            path=run.out, hint=f"The last good checkpoint (step {last_good}) is kept; resume from it "
                                               "with a lower --learning-rate, or check the pair dataset")
    run.accelerator.backward(terms.total)
    if run.accelerator.sync_gradients:
        run.accelerator.clip_grad_norm_(run.params, t.max_grad_norm)
    run.optimizer.step()
    run.schedule.step()
    run.optimizer.zero_grad(set_to_none=True)
    run.ema.step(run.params)
    return {"step": step + 1, "loss": value, "loss_v": float(terms.v.detach()), "loss_d": float(terms.stereo.detach()),
            "lr": run.schedule.get_last_lr()[0], "sigma": float(encoded["sigma"].mean())}


def train_refiner(request: TrainRequest, cancel: CancelToken | None = None) -> Generator[Progress, None, TrainReport]:
    """Train (or resume training) a refiner; a generator of Progress returning a :class:`TrainReport`.

    Stages: "note" messages, "train" (optimiser steps, with the raw loss as ``preview``), "validate".

    Raises:
        UsageError: bad settings, or an output folder holding a run of another config.
        InvalidProject / InputError: a pair dataset of the wrong schema, empty, or too short for the window.
        ModelNotFound: base weights missing for a config that starts from them.
        TrainingError: the loss became NaN/inf (the last good checkpoint is kept).
        OutputError: the output folder cannot be written.
    """
    cancel = cancel or CancelToken()
    _check_output(request.output)
    run = _Run(request)
    for note in run.notes:
        yield Progress("note", 0, 0, message=note)
    start = run.resume()
    if start:
        yield Progress("note", 0, 0, message=f"resuming from the checkpoint of step {start}")
    report = TrainReport(request.output, start, start, notes=list(run.notes))
    log = ck.LossLog(request.output, start)
    t, began, validation = run.config.train, time.monotonic(), {}
    batches = _loader(run, start)
    step, last_good = start, start
    run.module.train()
    try:
        while step < run.max_steps:
            if cancel.cancelled:
                run.save(step, validation)
                raise Cancelled(f"training cancelled at step {step}; a checkpoint was written")
            row = _optimiser_step(run, step, next(batches), last_good)
            step = row["step"]
            row["seconds"] = time.monotonic() - began
            report.first_loss = row["loss"] if report.first_loss is None else report.first_loss
            report.last_loss = row["loss"]
            if step % t.validate_every == 0 or step == run.max_steps:
                yield Progress("validate", 0, len(run.val_windows))
                validation = run.validation()
                row.update(validation)
            log.write(row)
            run.accelerator.log({k: v for k, v in row.items() if isinstance(v, float)}, step=step)
            yield Progress("train", step, run.max_steps, preview={"loss": row["loss"]})
            budget_over = request.max_minutes is not None and row["seconds"] > 60.0 * request.max_minutes
            if step % t.checkpoint_every == 0 or step == run.max_steps or budget_over:
                run.save(step, validation)
                last_good = step
            if budget_over:
                yield Progress("note", 0, 0, message=f"time budget of {request.max_minutes:g} min reached at "
                                                     f"step {step}; rerun to continue")
                break
    finally:
        log.close()
        run.accelerator.end_training()
    report.steps, report.validation = step, validation
    return report


__all__ = ["RefinerTraining", "TrainReport", "TrainRequest", "effective_config", "make_pipeline", "train_refiner"]
