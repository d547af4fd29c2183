"""The one reader of PairDataset.1 folders (``make-pairs``) for training the refiner.

Schema handling is the pair builder's own (:func:`engine.jobs.pairs.load_manifest` / ``load_clip``, which
upgrade older manifests and refuse newer ones; :func:`engine.jobs.pairs.frame_path` names the files).

A training example is the paper's self-supervised pair, seen from the right view: the **reference** is x2
(``target/``, the right view the pair builder rendered and inpainted), the **geometric input** is x2
rendered back to the left view (``back/``, black in its holes m1 = ``back_mask/``), and the **ground truth**
is the real left frame x1 (``ref/``). So the model learns to fill exactly the regions a render leaves open,
against real pixels. The left/right swap (a horizontal mirror of every image of the clip, probability
``swap_probability``) turns that right→left task into the left→right one used at inference, so both
directions are learned.

Examples are drawn deterministically: example n comes from ``numpy.random.default_rng([seed, n])`` (which
window of which clip, the crop, the swap), so a resumed run sees exactly the examples the uninterrupted
run would have seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from engine.errors import InputError, InvalidProject
from engine.jobs.pairs import MANIFEST_NAME, frame_path, load_clip, load_manifest
from engine.opencv import cv2

REFERENCE, GEOMETRIC, MASK, TRUTH, DEPTH = "target", "back", "back_mask", "ref", "depth"
BACK_SCALE = -1.0  # the back render is the left view made from the right one: x_L = x_R + d (scale −1)


@dataclass(frozen=True)
class PairClip:
    """One complete clip of a pair dataset: where it is and which windows of consecutive frames it offers."""

    folder: Path
    name: str
    frames: tuple[int, ...]
    shots: tuple[tuple[int, int], ...]
    eye_size: tuple[int, int]
    divergence: float = 0.0
    convergence: float = 0.0

    def disparity(self, depth_png: np.ndarray) -> np.ndarray:
        """(H, W) float32 px disparity of the reference view from its ``depth/`` nearness PNG (uint16):
        d = D/100 · W · (c − (1 − nearness)) (docs/pair_dataset.md)."""
        nearness = depth_png.astype(np.float32) / 65535.0
        return (self.divergence / 100.0 * self.eye_size[0] * (self.convergence - (1.0 - nearness))).astype(np.float32)

    def windows(self, length: int) -> list[int]:
        """First frames of every `length`-frame window inside one shot (and inside this clip's frames)."""
        have = set(self.frames)
        starts = []
        for a, b in self.shots:
            starts += [s for s in range(a, b - length + 1) if s in have and s + length - 1 in have]
        return starts

    def tail(self, frames: int) -> tuple[PairClip, PairClip]:
        """(all but the last `frames` frames, the last `frames` frames) as two clips."""
        cut = self.frames[-frames]
        head = tuple(f for f in self.frames if f < cut)
        rest = tuple(f for f in self.frames if f >= cut)
        return (replace(self, frames=head),
                replace(self, name=f"{self.name} (last {frames} frames)", frames=rest))


def open_datasets(paths: list[Path] | tuple[Path, ...]) -> list[PairClip]:
    """Every complete clip of the given PairDataset folders, in order.

    Raises:
        InvalidProject: a folder is not a pair dataset, is of an unknown/newer schema, or a listed clip is
            missing or incomplete.
        InputError: no clip at all.
    """
    clips: list[PairClip] = []
    for root in map(Path, paths):
        if not (root / MANIFEST_NAME).is_file():
            raise InvalidProject("not a pair dataset (no manifest.json)", path=root,
                                 hint="Build one with `spatialdreamer make-pairs VIDEO… -o DIR`")
        manifest = load_manifest(root)
        if manifest.get("schema") != "PairDataset.1":
            raise InvalidProject(f"holds a {manifest.get('schema')} manifest, not PairDataset.1", path=root)
        for entry in manifest.get("clips", []):
            clips.append(_clip(root, entry))
    if not clips:
        raise InputError("no complete clip in the pair dataset(s)", path=", ".join(map(str, paths)),
                         hint="Build or finish the dataset with `spatialdreamer make-pairs`")
    return clips


def _clip(root: Path, entry: dict) -> PairClip:
    folder = root / str(entry.get("folder"))
    record = load_clip(folder)
    if record.get("status") != "complete":
        raise InvalidProject("clip is not complete (the dataset is being built or was damaged)", path=folder,
                             hint="Resume `make-pairs` on the dataset first")
    start, end = record["frame_range"]
    shots = tuple((int(a), int(b)) for a, b in record.get("shots") or [[start, end]])
    return PairClip(folder, record["folder"], tuple(range(start, end)), shots, tuple(record["eye_size"]),
                    float(record.get("divergence", 0.0)), float(record.get("convergence", 0.0)))


def split_clips(clips: list[PairClip], window: int) -> tuple[list[PairClip], list[PairClip], list[str]]:
    """(training clips, held-out validation clips, notes).

    With two or more clips the last one (in dataset order) is held out; with one clip its last
    max(window, 10 %) frames are, when what remains still holds a window; otherwise validation runs on
    the training clip (said in the notes).
    """
    if len(clips) >= 2:
        return clips[:-1], clips[-1:], [f"validation on held-out clip {clips[-1].name}"]
    only = clips[0]
    n = max(window, math.ceil(0.1 * len(only.frames)))
    if len(only.frames) >= n + window:
        head, tail = only.tail(n)
        if head.windows(window) and tail.windows(window):
            return [head], [tail], [f"one clip: validation on its last {n} frames, held out of training"]
    return clips, clips, ["one short clip: validation runs on the training clip (not held out)"]


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidProject("missing or unreadable frame image", path=path, hint="Rebuild the dataset")
    return image[..., ::-1]


def read_mask(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 2:
        raise InvalidProject("missing or unreadable mask image", path=path, hint="Rebuild the dataset")
    return image > 127


def read_depth(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 2 or image.dtype != np.uint16:
        raise InvalidProject("missing or unreadable depth image (16-bit grey PNG)", path=path,
                             hint="Rebuild the dataset")
    return image


def _fit(image: np.ndarray, height: int, width: int, nearest: bool) -> np.ndarray:
    """Upscale so both sides are at least the crop (aspect kept); no-op when already large enough."""
    h, w = image.shape[:2]
    scale = max(height / h, width / w)
    if scale <= 1.0:
        return image
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    source = image if image.dtype == np.float32 else image.astype(np.uint8)
    out = cv2.resize(source, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR)
    return out.astype(image.dtype)


def load_window(clip: PairClip, start: int, frames: int, crop: tuple[int, int] | None = None,
                offset: tuple[float, float] = (0.5, 0.5), mirror: bool = False) -> dict[str, Tensor]:
    """One training window as tensors.

    Args:
        crop: (height, width) in pixels, or None for the whole frame.
        offset: where the crop sits, as fractions of the free room (0.5, 0.5 = centred).
        mirror: the left/right swap (every image flipped horizontally).
    Returns:
        reference, geometric, truth: (F, 3, h, w) float in [0, 1]; mask: (F, 1, h, w) float 0/1;
        disparity: (F, 1, h, w) float32 px of the geometric (reference-eye) view at the crop's scale, NaN in
        the mask (what a render knows: nothing there); scale: () the render's splat scale as the images are
        oriented (−1, or +1 when mirrored), for the background-side fill.
    """
    out: dict[str, list[np.ndarray]] = {"reference": [], "geometric": [], "truth": [], "mask": [], "disparity": []}
    for index in range(start, start + frames):
        mask = read_mask(frame_path(clip.folder, MASK, index))
        disparity = clip.disparity(read_depth(frame_path(clip.folder, DEPTH, index)))
        disparity[mask] = np.nan
        images = {"reference": read_rgb(frame_path(clip.folder, REFERENCE, index)),
                  "geometric": read_rgb(frame_path(clip.folder, GEOMETRIC, index)),
                  "truth": read_rgb(frame_path(clip.folder, TRUTH, index)),
                  "mask": mask.astype(np.uint8), "disparity": disparity}
        for key, image in images.items():
            if crop is not None:
                width = image.shape[1]
                image = _fit(image, *crop, nearest=key in ("mask", "disparity"))
                if key == "disparity":
                    image = image * (image.shape[1] / width)
                h, w = image.shape[:2]
                y, x = round((h - crop[0]) * offset[0]), round((w - crop[1]) * offset[1])
                image = image[y:y + crop[0], x:x + crop[1]]
            out[key].append(image[:, ::-1] if mirror else image)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(np.stack(v))) for k, v in out.items()}
    result = {k: tensors[k].permute(0, 3, 1, 2).float() / 255.0 for k in ("reference", "geometric", "truth")}
    result["mask"] = tensors["mask"][:, None].float()
    result["disparity"] = tensors["disparity"][:, None].float()
    result["scale"] = torch.tensor(-BACK_SCALE if mirror else BACK_SCALE)
    return result


class PairWindows(torch.utils.data.Dataset):
    """Training examples: example n is a random window, crop and swap drawn from ``default_rng([seed, n])``.

    ``len`` is nominal (the sampler decides how many are drawn); every index is valid.
    """

    def __init__(self, clips: list[PairClip], frames: int, crop: tuple[int, int], seed: int,
                 swap_probability: float) -> None:
        self.items = [(clip, s) for clip in clips for s in clip.windows(frames)]
        if not self.items:
            longest = max(len(c.frames) for c in clips)
            raise InputError(f"every training clip is shorter than the {frames}-frame temporal window "
                             f"(the longest has {longest} frames in one shot)",
                             hint="Build pairs from longer clips, or use a config with fewer frames")
        self.frames, self.crop, self.seed, self.swap = frames, crop, seed, swap_probability

    def __len__(self) -> int:
        return 2**31 - 1

    def __getitem__(self, n: int) -> dict[str, Tensor]:
        rng = np.random.default_rng([self.seed, int(n)])
        clip, start = self.items[int(rng.integers(len(self.items)))]
        offset = (float(rng.random()), float(rng.random()))
        mirror = bool(rng.random() < self.swap)
        return load_window(clip, start, self.frames, self.crop, offset, mirror)


class StepSampler(torch.utils.data.Sampler):
    """Example numbers for optimiser steps start, start + 1, …: step s, process r takes
    ``(s · world + r) · batch + j`` for j < batch (the same examples whatever the restarts)."""

    def __init__(self, start_step: int, batch: int, rank: int = 0, world: int = 1) -> None:
        self.start, self.batch, self.rank, self.world = start_step, batch, rank, world

    def __iter__(self):
        step = self.start
        while True:
            base = (step * self.world + self.rank) * self.batch
            yield from range(base, base + self.batch)
            step += 1

    def __len__(self) -> int:
        return 2**31 - 1


def validation_windows(clips: list[PairClip], frames: int, count: int) -> list[tuple[PairClip, int]]:
    """Up to `count` fixed windows spread evenly over the held-out clips' windows."""
    items = [(clip, s) for clip in clips for s in clip.windows(frames)]
    if len(items) <= count:
        return items
    picks = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in dict.fromkeys(picks.tolist())]


__all__ = [
    "PairClip",
    "PairWindows",
    "StepSampler",
    "load_window",
    "open_datasets",
    "split_clips",
    "validation_windows",
]
