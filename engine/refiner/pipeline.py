"""`SpatialDreamerPipeline`: the refiner as a diffusers pipeline (save/load, dtype, device like any other).

Input per clip: the reference view (the source eye), the geometric render of the target view (DVG output,
holes filled) and its occlusion mask. Per temporal window (``engine.refiner.tiling``):

1. encode — reference latents z_ref (scaled), conditioning latent of the warped view with its holes
   blacked out (plus SVD's noise augmentation), the mask area-downsampled to latent size, and the stereo
   deviation strength s = |E(geometric) − z_ref| (the editor's divergence keyframes set the geometric
   render, hence s);
2. RefinerNet once per tile on the clean reference (timestep 0) fills the reference bank (TIL inside);
3. Euler (v-prediction) denoising of the target latents from noise seeded by (seed, shot start, window
   start); each step predicts v for every tile (reading that tile's bank) and averages the tiles;
   classifier-free guidance on the reference when guidance > 1 (unconditional = no reference features,
   zero image embedding; the warped view and mask stay, they are the geometry);
4. decode; overlapping windows are blended with linear ramps.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.utils import BaseOutput
from torch import Tensor

from engine.errors import UsageError
from engine.refiner.attention import ReferenceBank, install_reference_attention
from engine.refiner.losses import plain_v, residual_clean, residual_input
from engine.refiner.models.denoiser import stereo_strength
from engine.refiner.tiling import WindowBlender, plan_tiles, plan_windows, tile_weight, window_weights

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class SpatialDreamerPipelineOutput(BaseOutput):
    """frames: (F, 3, H, W) float in [0, 1] (``output_type="pt"``) or (F, H, W, 3) numpy (``"np"``)."""

    frames: object


# ----------------------------------------------------------------------------- shared with training


def vae_scale(vae) -> int:
    """Pixels per latent cell of `vae` (p for the patch autoencoder, 2^(blocks − 1) for a KL VAE)."""
    if hasattr(vae.config, "patch_size"):
        return int(vae.config.patch_size)
    return 2 ** (len(vae.config.block_out_channels) - 1)


def encode(vae, images: Tensor, scaled: bool = True) -> Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, C, h, w) latents (the posterior mode; × scaling_factor when `scaled`)."""
    z = vae.encode(images.to(vae.dtype) * 2.0 - 1.0).latent_dist.mode()
    return z * vae.config.scaling_factor if scaled else z


def decode(vae, latents: Tensor, num_frames: int, chunk: int = 8) -> Tensor:
    """(N, C, h, w) scaled latents -> (N, 3, H, W) float32 in [0, 1], `chunk` frames at a time."""
    z = latents / vae.config.scaling_factor
    out = []
    for i in range(0, z.shape[0], chunk):
        part = z[i:i + chunk]
        out.append(vae.decode(part.to(vae.dtype), num_frames=part.shape[0]).sample.float())
    return ((torch.cat(out) + 1.0) / 2.0).clamp(0.0, 1.0)


def mask_latent(mask: Tensor, size: tuple[int, int]) -> Tensor:
    """(N, 1, H, W) bool/float occlusion mask -> (N, 1, h, w) fraction of hole pixels per latent cell."""
    return F.interpolate(mask.float(), size=size, mode="area")


def image_embeddings(image_encoder, images: Tensor, dim: int) -> Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, 1, dim) CLIP image embeddings; zeros when there is no encoder."""
    if image_encoder is None:
        return images.new_zeros((images.shape[0], 1, dim))
    size = image_encoder.config.image_size
    x = F.interpolate(images.float(), size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    x = ((x.clamp(0, 1) - mean) / std).to(image_encoder.dtype)
    return image_encoder(x).image_embeds.unsqueeze(1)


def added_time_ids(fps_id: int, motion_bucket_id: int, noise_aug: float, batch: int, device, dtype) -> Tensor:
    """(batch, 3) SVD's added time ids."""
    return torch.tensor([[fps_id, motion_bucket_id, noise_aug]], device=device, dtype=dtype).repeat(batch, 1)


def window_seed(seed: int, shot_start: int, window_start: int) -> int:
    """The noise seed of one temporal window: BLAKE2b-64 of ``"<seed>:<shot start>:<window start>"``."""
    digest = hashlib.blake2b(f"{seed}:{shot_start}:{window_start}".encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def pad_to(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int]]:
    """Replicate-pad (N, C, H, W) on the bottom/right to multiples of `multiple`; return it and (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x.float(), (0, pw, 0, ph), mode="replicate").to(x.dtype)
    return x, (h, w)


def pad_frames(x: Tensor, length: int) -> Tensor:
    """(n, …) -> (length, …), repeating the last frame (a window longer than what is left of the shot)."""
    if x.shape[0] >= length:
        return x[:length]
    return torch.cat([x, x[-1:].expand(length - x.shape[0], *x.shape[1:])])


# ----------------------------------------------------------------------------- the pipeline


@dataclass(frozen=True)
class RefineSettings:
    """One run's inference settings (see :meth:`SpatialDreamerPipeline.settings`).

    Attributes:
        steps: Euler steps per window. guidance: classifier-free guidance on the reference (1 = off).
        window, overlap: frames per temporal window and frames shared by neighbouring windows.
        tile, tile_overlap: spatial tile and overlap in pixels (tile 0 = whole frame).
    """

    steps: int
    guidance: float
    window: int
    overlap: int
    tile: int
    tile_overlap: int


class SpatialDreamerPipeline(DiffusionPipeline):
    """SpatialDreamer refiner (see the module doc). Modules: vae (SVD's or the patch autoencoder), denoiser
    (SpatialDreamerUNet), refiner_net (RefinerNet), scheduler (EulerDiscrete, v-prediction), image_encoder
    (CLIP, optional). The rest of the arguments are the inference defaults, saved in model_index.json."""

    model_cpu_offload_seq = "image_encoder->refiner_net->denoiser->vae"
    _optional_components = ["image_encoder"]
    _callback_tensor_inputs = ["latents"]

    def __init__(self, vae, denoiser, refiner_net, scheduler, image_encoder=None, til_lambda: float = 0.5,
                 til_neighbours: int = 2, min_frames: int = 1, default_steps: int = 25,
                 default_guidance: float = 1.0, default_window: int = 25, default_window_overlap: int = 4,
                 default_tile: int = 0, default_tile_overlap: int = 64, fps_id: int = 6,
                 motion_bucket_id: int = 127, noise_aug_strength: float = 0.02, residual_sigma: float | None = None,
                 config_name: str = "custom") -> None:
        super().__init__()
        self.register_modules(vae=vae, denoiser=denoiser, refiner_net=refiner_net, scheduler=scheduler,
                              image_encoder=image_encoder)
        self.register_to_config(
            til_lambda=til_lambda, til_neighbours=til_neighbours, min_frames=min_frames,
            default_steps=default_steps, default_guidance=default_guidance, default_window=default_window,
            default_window_overlap=default_window_overlap, default_tile=default_tile,
            default_tile_overlap=default_tile_overlap, fps_id=fps_id, motion_bucket_id=motion_bucket_id,
            noise_aug_strength=noise_aug_strength, residual_sigma=residual_sigma, config_name=config_name)
        self.bank = ReferenceBank()
        self.paired_layers = install_reference_attention(denoiser, refiner_net, self.bank, til_lambda, til_neighbours)

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """DiffusionPipeline.from_pretrained, then every weight copied into fresh memory.

        Weights memory-mapped from safetensors sit at arbitrary alignments, which changes the summation order
        of CPU kernels (outputs then differ in the last bits); fresh copies make a loaded pipeline's output
        bit-identical to the saved one's.
        """
        pipe = super().from_pretrained(*args, **kwargs)
        for module in (pipe.vae, pipe.denoiser, pipe.refiner_net, pipe.image_encoder):
            for tensor in [] if module is None else [*module.parameters(), *module.buffers()]:
                tensor.data = tensor.data.clone()
        return pipe

    # -- geometry ---------------------------------------------------------------------------

    @property
    def latent_scale(self) -> int:
        return vae_scale(self.vae)

    @property
    def spatial_multiple(self) -> int:
        """Frame sizes are padded to multiples of this (latent scale × the denoiser's downsampling)."""
        return self.latent_scale * 2 ** (len(self.denoiser.config.block_out_channels) - 1)

    @property
    def cross_attention_dim(self) -> int:
        dim = self.denoiser.config.cross_attention_dim
        return dim if isinstance(dim, int) else dim[0]

    # -- one window -----------------------------------------------------------------------

    def _prepare(self, reference: Tensor, geometric: Tensor, mask: Tensor, generator: torch.Generator):
        """Latents and embeddings of one window ((F, 3, H, W) views, (F, 1, H, W) mask; padded already)."""
        device, dtype = self.denoiser.device, self.denoiser.dtype
        reference, geometric, mask = reference.to(device), geometric.to(device), mask.to(device)
        holes = mask.float()
        aug = self.config.noise_aug_strength
        warped = geometric.float() * (1.0 - holes)
        noise = torch.randn(warped.shape, generator=generator, device=generator.device).to(device)
        cond = encode(self.vae, warped + aug * noise, scaled=False)
        ref_latents = encode(self.vae, reference)
        base = encode(self.vae, geometric)
        strength = stereo_strength(base, ref_latents)
        embeds = image_embeddings(self.image_encoder, reference, self.cross_attention_dim)
        size = tuple(cond.shape[-2:])
        return {
            "cond": cond.to(dtype), "mask": mask_latent(holes, size).to(dtype), "reference": ref_latents.to(dtype),
            "strength": strength.to(dtype), "frame_embeds": embeds.to(dtype), "base": base.to(dtype),
            "clip_embed": embeds.mean(dim=0, keepdim=True).to(dtype),
        }

    def _banks(self, inputs: dict, tiles: list[tuple[tuple[int, int], tuple[int, int]]]) -> list[dict]:
        """RefinerNet once per tile on the clean reference: each tile's reference features."""
        banks, frames = [], inputs["reference"].shape[0]
        for (y0, y1), (x0, x1) in tiles:
            with self.bank.writing(frames):
                self.refiner_net.encode_reference(inputs["reference"][..., y0:y1, x0:x1], inputs["frame_embeds"])
            banks.append(self.bank.features)
        return banks

    def _predict(self, scaled: Tensor, t: Tensor, inputs: dict, tiles: list, banks: list[dict],
                 guidance: float, ramp: int) -> Tensor:
        """v for the whole (1, F, C, h, w) latent: every tile predicted and ramp-averaged. Residual models see
        the noisy residual over the geometric prior and their output is turned into the plain v the scheduler
        steps with (:func:`engine.refiner.losses.residual_input`, :func:`~engine.refiner.losses.plain_v`)."""
        frames = scaled.shape[1]
        residual = self.config.residual_sigma is not None
        net_input = scaled
        if residual:  # the network sees the noisy residual over the geometric prior (losses.residual_input)
            sigma = self.scheduler.sigmas[self.scheduler.step_index].to(scaled.device).view(1)
            noisy = scaled.float() * torch.sqrt(sigma**2 + 1)
            net_input = residual_input(noisy, inputs["base"][None].float(), sigma,
                                       self.config.residual_sigma).to(scaled.dtype)
        full = torch.zeros_like(scaled, dtype=torch.float32)
        weight = torch.zeros(scaled.shape[-2:], device=scaled.device)
        cfg = guidance > 1.0
        ids = added_time_ids(self.config.fps_id, self.config.motion_bucket_id, self.config.noise_aug_strength,
                             2 if cfg else 1, scaled.device, scaled.dtype)
        embeds = inputs["clip_embed"]
        embeds = torch.cat([torch.zeros_like(embeds), embeds]) if cfg else embeds
        keep = torch.tensor([False] * frames + [True] * frames, device=scaled.device) if cfg else None
        for ((y0, y1), (x0, x1)), bank in zip(tiles, banks, strict=True):
            crop = (..., slice(y0, y1), slice(x0, x1))
            sample = torch.cat([net_input[crop], inputs["cond"][crop][None], inputs["mask"][crop][None]], dim=2)
            strength = inputs["strength"][crop][None]
            if cfg:
                sample, strength = sample.repeat(2, 1, 1, 1, 1), strength.repeat(2, 1, 1, 1, 1)
            self.bank.features = bank
            with self.bank.reading(keep):
                v = self.denoiser(sample, t, embeds, ids, stereo_strength=strength, return_dict=False)[0].float()
            if cfg:
                v = v[:1] + guidance * (v[1:] - v[:1])
            w = tile_weight((y0, y1), (x0, x1), tuple(scaled.shape[-2:]), ramp).to(scaled.device)
            full[crop] += v * w
            weight[y0:y1, x0:x1] += w
        v = full / weight
        if residual:
            clean = residual_clean(noisy, v, sigma, inputs["base"][None].float(), self.config.residual_sigma)
            v = plain_v(noisy, clean, sigma)
        return v.to(scaled.dtype)

    def denoise_window(self, reference: Tensor, geometric: Tensor, mask: Tensor, *, steps: int, guidance: float,
                       generator: torch.Generator, tile: int, tile_overlap: int,
                       callback_on_step_end: Callable | None = None,
                       callback_on_step_end_tensor_inputs: tuple[str, ...] = ("latents",),
                       ) -> Generator[int, None, Tensor]:
        """Refine one window; a generator yielding after each denoising step, returning (F, 3, H, W) in [0, 1].

        Args:
            reference, geometric: (F, 3, H, W) float in [0, 1]; mask: (F, 1, H, W) bool or float.
            generator: seeds the initial noise and the noise augmentation (see :func:`window_seed`).
            tile, tile_overlap: spatial tile size and overlap in pixels (0 = whole frame).
        """
        (reference, size), (geometric, _), (mask, _) = (pad_to(x, self.spatial_multiple)
                                                         for x in (reference, geometric, mask))
        inputs = self._prepare(reference, geometric, mask, generator)
        latent_size = tuple(inputs["cond"].shape[-2:])
        ls = self.latent_scale
        tile_l, overlap_l = (tile // ls if tile else 0), tile_overlap // ls
        tiles = [(ys, xs) for ys in plan_tiles(latent_size[0], tile_l, overlap_l)
                 for xs in plan_tiles(latent_size[1], tile_l, overlap_l)]
        banks = self._banks(inputs, tiles)
        self.scheduler.set_timesteps(steps, device=self.denoiser.device)
        shape = (1, reference.shape[0], inputs["cond"].shape[1], *latent_size)
        latents = torch.randn(shape, generator=generator, device=generator.device).to(self.denoiser.device)
        if self.config.residual_sigma is None:
            latents = (latents * self.scheduler.init_noise_sigma).to(self.denoiser.dtype)
        else:  # z_σmax = b + r + σ_max·ε with r ~ N(0, σ_d²): the prior b plus noise of both
            spread = math.sqrt(float(self.scheduler.sigmas.max()) ** 2 + self.config.residual_sigma**2)
            latents = (inputs["base"][None].float() + spread * latents).to(self.denoiser.dtype)
        for i, t in enumerate(self.scheduler.timesteps):
            scaled = self.scheduler.scale_model_input(latents, t)
            v = self._predict(scaled, t, inputs, tiles, banks, guidance, max(1, overlap_l // 2))
            latents = self.scheduler.step(v, t, latents, return_dict=False)[0].to(self.denoiser.dtype)
            if callback_on_step_end is not None:
                local = {"latents": latents}
                out = callback_on_step_end(self, i, t, {k: local[k] for k in callback_on_step_end_tensor_inputs})
                latents = (out or {}).get("latents", latents)
            yield i + 1
        self.bank.features = {}
        frames = decode(self.vae, latents[0], reference.shape[0])
        return frames[..., :size[0], :size[1]]

    # -- the whole clip ---------------------------------------------------------------------

    def settings(self, steps=None, guidance=None, window=None, overlap=None, tile=None,
                 tile_overlap=None) -> RefineSettings:
        """The run's settings: each None takes the default saved with the pipeline; checked.

        Raises:
            UsageError: a setting out of range for this model.
        """
        c = self.config
        steps = c.default_steps if steps is None else int(steps)
        guidance = c.default_guidance if guidance is None else float(guidance)
        window = c.default_window if window is None else int(window)
        overlap = c.default_window_overlap if overlap is None else int(overlap)
        tile = c.default_tile if tile is None else int(tile)
        tile_overlap = c.default_tile_overlap if tile_overlap is None else int(tile_overlap)
        if steps < 1:
            raise UsageError(f"refiner steps {steps}: need at least 1")
        if window < max(1, c.min_frames):
            raise UsageError(f"refiner window {window} is shorter than the {c.min_frames} frames this model needs")
        if not 0 <= overlap < window:
            raise UsageError(f"refiner window overlap {overlap} must be in [0, {window})")
        if tile and tile < 2 * self.spatial_multiple:
            raise UsageError(f"refiner tile {tile} px is too small (at least {2 * self.spatial_multiple} px)")
        if tile and not 0 <= tile_overlap < tile:
            raise UsageError(f"refiner tile overlap {tile_overlap} px must be in [0, {tile})")
        return RefineSettings(steps, guidance, window, overlap, tile, tile_overlap)

    def check_inputs(self, reference: Tensor, geometric: Tensor, mask: Tensor) -> None:
        if reference.ndim != 4 or reference.shape[1] != 3:
            raise UsageError(f"reference must be (F, 3, H, W), got {tuple(reference.shape)}")
        if geometric.shape != reference.shape:
            raise UsageError(f"geometric view {tuple(geometric.shape)} must match the reference "
                             f"{tuple(reference.shape)}")
        if mask.shape != (reference.shape[0], 1, *reference.shape[-2:]):
            raise UsageError(f"mask must be (F, 1, H, W) = {(reference.shape[0], 1, *reference.shape[-2:])}, "
                             f"got {tuple(mask.shape)}")

    @torch.no_grad()
    def __call__(self, reference: Tensor, geometric: Tensor, mask: Tensor, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, seed: int = 0, shot_start: int = 0, window: int | None = None,
                 window_overlap: int | None = None, tile: int | None = None, tile_overlap: int | None = None,
                 callback_on_step_end: Callable | None = None,
                 callback_on_step_end_tensor_inputs: tuple[str, ...] = ("latents",), output_type: str = "pt",
                 return_dict: bool = True):
        """Refine a clip (see the module doc).

        Args:
            reference: (F, 3, H, W) float in [0, 1], the source (reference) view.
            geometric: (F, 3, H, W) the geometric render of the target view, holes filled.
            mask: (F, 1, H, W) bool, its (propagated) occlusion mask.
            seed, shot_start: window w's noise comes from ``window_seed(seed, shot_start, shot_start + start_w)``.
            callback_on_step_end: ``f(pipe, step, timestep, {"latents": …}) -> dict`` after every step of every
                window (raise from it to cancel).
        Returns:
            SpatialDreamerPipelineOutput (or a tuple) with the refined target view.
        """
        self.check_inputs(reference, geometric, mask)
        settings = self.settings(num_inference_steps, guidance_scale, window, window_overlap, tile, tile_overlap)
        stream = ClipStream(self, reference.shape[0], settings, seed=seed, shot_start=shot_start,
                            callback_on_step_end=callback_on_step_end,
                            callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs)
        frames = []
        for k in range(reference.shape[0]):
            frames += [f for _, f in drain(stream.push(reference[k], geometric[k], mask[k]))]
        stream.finish()
        result = torch.stack(frames)
        if output_type == "np":
            result = result.permute(0, 2, 3, 1).cpu().numpy()
        self.maybe_free_model_hooks()
        return SpatialDreamerPipelineOutput(frames=result) if return_dict else (result,)


def drain(run: Generator) -> object:
    """Run a step generator to its end and return its value."""
    while True:
        try:
            next(run)
        except StopIteration as stop:
            return stop.value


class ClipStream:
    """One shot refined as its frames arrive: window by window, holding only the frames of the windows not
    yet run (what :meth:`SpatialDreamerPipeline.__call__` does for a whole clip, which is built on it).

    :meth:`push` takes the next frame and, once a window's frames are all there (the last window runs
    when the shot's last frame arrives, padded), denoises it — a generator yielding after every denoising
    step — and returns the frames no later window touches, blended, in order.
    """

    def __init__(self, pipe: SpatialDreamerPipeline, length: int, settings: RefineSettings, *, seed: int = 0,
                 shot_start: int = 0, callback_on_step_end: Callable | None = None,
                 callback_on_step_end_tensor_inputs: tuple[str, ...] = ("latents",)) -> None:
        self.pipe, self.length, self.settings = pipe, length, settings
        self.seed, self.shot_start = seed, shot_start
        self.callback = (callback_on_step_end, callback_on_step_end_tensor_inputs)
        self.windows = plan_windows(length, settings.window, settings.overlap)
        self.next_window = 0
        self.first = 0  # shot frame of self.buffer[0]
        self.buffer: list[tuple[Tensor, Tensor, Tensor]] = []
        self.blender = WindowBlender()
        self.emitted = 0

    @property
    def steps_total(self) -> int:
        """Denoising steps the whole shot takes."""
        return len(self.windows) * self.settings.steps

    def push(self, reference: Tensor, geometric: Tensor, mask: Tensor) -> Generator[int, None, list]:
        """Add the shot's next frame ((3, H, W), (3, H, W), (1, H, W)); run every window it completes.

        Returns:
            [(shot frame, (3, H, W) refined float in [0, 1])] of the frames now final.
        """
        if self.first + len(self.buffer) >= self.length:
            raise ValueError(f"the shot has {self.length} frames; no more can be pushed")
        self.buffer.append((reference, geometric, mask))
        have, out = self.first + len(self.buffer), []
        while self.next_window < len(self.windows) and have >= min(self.windows[self.next_window][1], self.length):
            out += yield from self._run(self.next_window)
            self.next_window += 1
        self.emitted += len(out)
        return out

    def finish(self) -> None:
        """Check every frame of the shot was pushed and handed out."""
        if self.emitted != self.length:
            raise ValueError(f"the shot has {self.length} frames but {self.emitted} were refined")

    def _run(self, k: int) -> Generator[int, None, list]:
        start, end = self.windows[k]
        s, pipe = self.settings, self.pipe
        frames = self.buffer[start - self.first:end - self.first]
        part = [pad_frames(torch.stack([f[i] for f in frames]), end - start) for i in range(3)]
        seed = window_seed(self.seed, self.shot_start, self.shot_start + start)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        out = yield from pipe.denoise_window(*part, steps=s.steps, guidance=s.guidance, generator=gen, tile=s.tile,
                                             tile_overlap=s.tile_overlap, callback_on_step_end=self.callback[0],
                                             callback_on_step_end_tensor_inputs=self.callback[1])
        self.blender.add(start, out, window_weights(k, self.windows, s.overlap), self.length)
        nxt = self.windows[k + 1][0] if k + 1 < len(self.windows) else self.length
        del self.buffer[:max(0, nxt - self.first)]
        self.first = max(self.first, nxt)
        return self.blender.pop_before(nxt)


def latent_tokens(pipe: SpatialDreamerPipeline, height: int, width: int) -> int:
    """Latent cells of a (height, width) frame after padding (for memory estimates)."""
    m = pipe.spatial_multiple
    ls = pipe.latent_scale
    return math.ceil(height / m) * m // ls * (math.ceil(width / m) * m // ls)


__all__ = ["ClipStream", "RefineSettings", "SpatialDreamerPipeline", "SpatialDreamerPipelineOutput", "drain",
           "window_seed"]
