"""The refiner as a stage of the render assembly (`convert --refiner NAME|PATH`).

After the geometric path (splat + DVG) hands out a frame's eyes, each synthesised eye goes to the
SpatialDreamer pipeline with the source view as its reference and the eye's occlusion mask; frames come
back once the temporal windows covering them have run (:class:`engine.refiner.pipeline.ClipStream`),
window by window per shot, each window's noise seeded from (seed, shot start, window start) so a
chunked farm render equals a single one. The refined eye is composited into the geometric one over the
mask grown and feathered (``blend="composite"``, the default) or replaces it (``"full"``).

Before any work: the refiner folder is found (CONVENTIONS.md "Models": a NAME is a sub-folder of the
models folder, then a model shipped in ``resources/refiner/``; a PATH is a folder ``train-refiner --out``
wrote), checked (every module's config and weights, shapes against the config), loaded, and its memory
need at the job's eye size and window/tile settings compared with what the device has free
(:func:`memory_need`): a job that would not fit stops with one line saying what to change.

diffusers loads only when a request has a refiner (this module imports it lazily).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from engine.errors import ModelNotFound, UsageError
from engine.ops import StereoViews
from engine.progress import CancelToken, Progress
from engine.refiner.composite import BLENDS

STAGE = "refine"


@dataclass(frozen=True)
class RefinerSpec:
    """`convert --refiner …`: which refiner and how it runs (None = the model's saved defaults).

    Attributes:
        model: a name (models folder, then the package's shipped refiners) or a folder path.
        steps, guidance: Euler steps per window; classifier-free guidance on the reference (1 = off).
        seed: the base of every window's noise seed.
        window, window_overlap: frames per temporal window, frames shared by neighbouring windows.
        tile, tile_overlap: spatial tile size and overlap in pixels (0 = whole frame).
        blend: ``composite`` (refined pixels only over the dilated, feathered occlusion mask) or ``full``.
    """

    model: str
    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    window: int | None = None
    window_overlap: int | None = None
    tile: int | None = None
    tile_overlap: int | None = None
    blend: str = "composite"

    def __post_init__(self) -> None:
        if self.blend not in BLENDS:
            raise UsageError(f"--refiner-blend {self.blend!r}: use one of {', '.join(BLENDS)}")


# ----------------------------------------------------------------------------- where the refiner is


def looks_like_path(text: str) -> bool:
    """A `--refiner` value naming a folder (has a separator, or starts with . or ~) rather than a name."""
    return os.sep in text or "/" in text or text.startswith((".", "~"))


def refiner_candidates(model: str, models_dir: Path) -> list[Path]:
    """Where `model` is looked for, in order (one folder for a PATH)."""
    from engine.models import shipped_refiners

    if looks_like_path(model):
        return [Path(model).expanduser()]
    return [models_dir / model, *(root / model for root in shipped_refiners())]


def find_refiner(model: str, models_dir: Path) -> Path:
    """The folder of the refiner `model` (the first candidate holding a model_index.json).

    Raises:
        ModelNotFound: none of the candidates has one (all listed).
    """
    candidates = refiner_candidates(model, models_dir)
    for folder in candidates:
        if (folder / "model_index.json").is_file():
            return folder
    if len(candidates) == 1 and candidates[0].is_dir():
        return candidates[0]  # a folder with something in it: check_pipeline_folder says what is missing
    raise ModelNotFound(f"refiner {model!r} not found (looked in {', '.join(str(c) for c in candidates)})",
                        hint="Train one with `spatialdreamer train-refiner --out DIR` and pass --refiner DIR, "
                             "or put it in the models folder under that name (`spatialdreamer models list`)")


def inference_dtype(device: torch.device) -> torch.dtype:
    """bf16 on CUDA (fp16 where the GPU has no bf16), fp32 elsewhere."""
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextmanager
def quiet_diffusers() -> Iterator[None]:
    """diffusers' loading bars and info messages off for the block (the job reports its own progress)."""
    from diffusers.utils import logging as diffusers_logging

    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    try:
        yield
    finally:
        diffusers_logging.enable_progress_bar()
        diffusers_logging.set_verbosity(level)


def load_refiner(folder: Path, dtype: torch.dtype):
    """The checked pipeline of `folder`, on the CPU, in `dtype` (every module's files checked first)."""
    from engine.refiner.models.loading import check_pipeline_folder
    from engine.refiner.pipeline import SpatialDreamerPipeline

    check_pipeline_folder(folder)
    with quiet_diffusers():
        pipe = SpatialDreamerPipeline.from_pretrained(str(folder), dtype=dtype)
    for module in (pipe.vae, pipe.denoiser, pipe.refiner_net, pipe.image_encoder):
        if module is not None:
            module.eval().requires_grad_(False)
    return pipe


# ----------------------------------------------------------------------------- memory


def free_memory(device: torch.device) -> int | None:
    """Bytes free for a new allocation on `device` (CUDA: the driver's free memory; CPU: MemAvailable);
    None when it cannot be told."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type == "mps":
        return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else -1
    return pages * os.sysconf("SC_PAGE_SIZE") if pages > 0 else None


def module_bytes(module, dtype: torch.dtype) -> int:
    """Bytes of a module's parameters and buffers once cast to `dtype` (floating tensors only)."""
    size = torch.tensor([], dtype=dtype).element_size()
    return sum(t.numel() * (size if t.is_floating_point() else t.element_size())
               for t in (*module.parameters(), *module.buffers()))


MEMORY_FACTOR = 1.25  # measured peaks ran 1.15–1.64× the plain sum of the terms (allocator slack, temporaries)
MEMORY_RUNTIME = 150 * 2**20  # bytes the first window adds whatever its size (thread pools, arenas, workspaces)


def memory_need(pipe, eye_size: tuple[int, int], settings, dtype: torch.dtype) -> int:
    """Bytes one window of refinement needs at `eye_size` ((W, H)) with `settings` (RefineSettings).

    weights (every module in `dtype`) + the reference bank (RefinerNet's attention inputs for every
    paired layer, all tiles, the whole window) + the denoiser's activations for one tile and one
    guidance branch pair (8 feature maps of the first resolution's width kept alive at once: skip
    connections, the attention's [own ‖ reference] keys and values, the feed-forward's 4× hidden
    layer — with memory-efficient attention, which torch's SDPA uses on CUDA and CPU) + the decoder
    (8 frames at a time, 4 maps of its full-resolution channel count) + the window's frames.
    That sum, times :data:`MEMORY_FACTOR`, plus :data:`MEMORY_RUNTIME` (thread pools, allocator arenas and
    kernel workspaces the first window brings). Calibrated by ``bench/bench_refiner.py --memory``
    (bench/results/refiner_memory.json): on the CPU the peak-RSS growth of one window of tiny (320×180,
    640×360) and small (480×270, 960×540 in 256-px tiles) was 455 / 1360 / 454 / 1043 MB, against which
    this estimate is 1.10–1.42× (the plain sum was 0.61–0.87×, too low). It grows with window, size and tile
    as the real peak does.
    """
    size = torch.tensor([], dtype=dtype).element_size()
    weights = sum(module_bytes(m, dtype) for m in (pipe.vae, pipe.denoiser, pipe.refiner_net, pipe.image_encoder)
                  if m is not None)
    m, ls = pipe.spatial_multiple, pipe.latent_scale
    width, height = (-(-v // m) * m for v in eye_size)
    tile = settings.tile
    tile_w, tile_h = (min(tile, width), min(tile, height)) if tile else (width, height)
    tiles = (1 if not tile else -(-width // max(1, tile - settings.tile_overlap))
             * -(-height // max(1, tile - settings.tile_overlap)))
    frames = settings.window
    c0 = pipe.denoiser.config.block_out_channels[0]
    cells = tile_w // ls * (tile_h // ls)
    bank = len(pipe.paired_layers) * frames * cells * c0 * size * tiles
    branches = 2 if settings.guidance > 1.0 else 1
    activations = 8 * branches * frames * cells * c0 * size * 4
    vae_width = getattr(pipe.vae.config, "block_out_channels", [3])[0]  # the decoder's full-resolution width
    decoder = 4 * min(8, frames) * width * height * vae_width * size
    clip = 8 * frames * width * height * 4
    return int(MEMORY_FACTOR * (weights + bank + activations + decoder + clip) + MEMORY_RUNTIME)


def check_memory(pipe, device: torch.device, eye_size: tuple[int, int], settings, dtype: torch.dtype,
                 free: int | None = None) -> None:
    """Refuse, before any work, a refinement that would not fit the device's free memory.

    Raises:
        UsageError: the estimate exceeds what is free (says both, and what to change).
    """
    free = free_memory(device) if free is None else free
    need = memory_need(pipe, eye_size, settings, dtype)
    if free is None or need <= free:
        return
    hint = ("Use --refiner-tile 512 (or smaller) to refine in spatial tiles" if not settings.tile else
            f"Use a smaller --refiner-tile than {settings.tile}")
    raise UsageError(f"the refiner needs about {need / 2**30:.1f} GiB at {eye_size[0]}x{eye_size[1]} with "
                     f"{settings.window}-frame windows, but {device} has {free / 2**30:.1f} GiB free",
                     hint=f"{hint}, a shorter --refiner-window than {settings.window}, or a smaller "
                          f"--max-width")


# ----------------------------------------------------------------------------- the stage


def refined_eyes(synthesize: str) -> tuple[str, ...]:
    """The eyes the geometric path synthesises (and the refiner regenerates)."""
    return {"both": ("left", "right"), "right": ("right",), "left": ("left",)}[synthesize]


class RefineStage:
    """The refiner between the stereo renderer and packing: feed each shot's frames in order.

    :meth:`begin_shot` at each shot, :meth:`add_source` with each frame's source view as it goes into
    the stereo renderer, :meth:`push` with whatever the renderer hands out (a generator of per-step
    Progress returning the frames now refined), :meth:`finish_shot` once the shot's last frame is out.
    """

    def __init__(self, spec: RefinerSpec, synthesize: str, eye_size: tuple[int, int], device: torch.device,
                 models_dir: Path | None, cancel: CancelToken | None = None, free: int | None = None) -> None:
        from engine.models import resolve_models_dir

        self.spec, self.eyes, self.cancel = spec, refined_eyes(synthesize), cancel or CancelToken()
        self.folder = find_refiner(spec.model, resolve_models_dir(models_dir)[0])
        self.dtype = inference_dtype(device)
        pipe = load_refiner(self.folder, self.dtype)
        self.settings = pipe.settings(spec.steps, spec.guidance, spec.window, spec.window_overlap, spec.tile,
                                      spec.tile_overlap)
        check_memory(pipe, device, eye_size, self.settings, self.dtype, free)
        self.pipe = pipe.to(device)
        self.streams: dict[str, object] = {}
        self.sources: dict[int, Tensor] = {}
        self.waiting: dict[int, StereoViews] = {}
        self.refined: dict[int, dict[str, Tensor]] = {}
        self.done, self.total = 0, 0

    def plan(self, shot_lengths: list[int]) -> None:
        """Start counting steps for Progress: the total of these shots' lengths (a job's, or a chunk's)."""
        from engine.refiner.tiling import plan_windows

        s = self.settings
        self.done = 0
        self.total = sum(len(plan_windows(n, s.window, s.overlap)) for n in shot_lengths) * s.steps * len(self.eyes)

    def begin_shot(self, start: int, end: int) -> None:
        """A new shot of source frames [start, end): fresh windows seeded from `start`."""
        from engine.refiner.pipeline import ClipStream

        self.shot = (start, end)
        self.streams = {eye: ClipStream(self.pipe, end - start, self.settings, seed=self.spec.seed, shot_start=start)
                        for eye in self.eyes}
        self.sources.clear()
        self.waiting.clear()
        self.refined.clear()

    def add_source(self, index: int, image: Tensor) -> None:
        """The source (reference) view of frame `index`: (1, 3, H, W) float in [0, 1]."""
        self.sources[index] = image

    def push(self, ready: list[tuple[int, StereoViews]]) -> Generator[Progress, None, list[tuple[int, StereoViews]]]:
        """Refine the synthesised eyes of `ready` frames; return the frames whose every eye is refined."""
        out: list[tuple[int, StereoViews]] = []
        for index, views in ready:
            self.waiting[index] = views
            reference = self.sources.pop(index)
            for eye in self.eyes:
                mask = getattr(views, f"{eye}_holes")
                run = self.streams[eye].push(reference[0], getattr(views, eye)[0], mask[0])
                for shot_frame, frame in (yield from self._steps(run)):
                    self.refined.setdefault(self.shot[0] + shot_frame, {})[eye] = frame
            out += self._complete()
        return out

    def finish_shot(self) -> None:
        """Check the shot's every frame went through."""
        for stream in self.streams.values():
            stream.finish()

    def _steps(self, run: Generator) -> Generator[Progress, None, list]:
        while True:
            try:
                next(run)
            except StopIteration as stop:
                return stop.value
            self.cancel.check()
            self.done += 1
            yield Progress(STAGE, self.done, self.total)

    def _complete(self) -> list[tuple[int, StereoViews]]:
        from engine.refiner.composite import composite_refined

        out = []
        for index in sorted(i for i, eyes in self.refined.items() if len(eyes) == len(self.eyes)):
            views, eyes = self.waiting.pop(index), self.refined.pop(index)
            changes = {}
            for eye, frame in eyes.items():
                geometric = getattr(views, eye)
                changes[eye] = composite_refined(geometric, frame[None].to(geometric.device, geometric.dtype),
                                                 getattr(views, f"{eye}_holes"), self.spec.blend)
            out.append((index, replace(views, **changes)))
        return out


__all__ = ["BLENDS", "RefineStage", "RefinerSpec", "check_memory", "find_refiner", "memory_need", "refined_eyes"]
