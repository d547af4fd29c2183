"""The forward-backward pair builder: the paper's self-supervised training data, as a resumable job.

From each monocular clip (the source is the LEFT, reference view x1): per-shot normalised depth
(:class:`engine.jobs.convert.DepthStage`, with the depth cache), a disparity graded with the clip's
divergence D (drawn from the request's range by a per-clip RNG whose seed is recorded), the right
view rendered and inpainted to x2 (temporally by :class:`engine.dvg.TemporalStereo`, else
spatially), and x2 rendered back to the reference view with its occlusion mask m1
(:func:`engine.dvg.forward_backward`). Every frame's images, masks, depth and flow confidence
are written as files under ``<output>/clips/<index>_<stem>/``; ``manifest.json`` (schema
``PairDataset.1``) lists the complete clips. docs/pair_dataset.md is the exact on-disk format.

Resumability: a clip is built in a hidden staging folder and renamed into place only when its
``clip.json`` says complete, and the manifest is rewritten atomically after each clip, so a crash
or a cancel leaves a consistent dataset; a rerun reuses every complete clip whose source content
hash (and therefore seed) still matches and redoes the rest. Memory is flat in clip length: frames
stream through the depth cache, a K-frame DVG window and a bounded writer queue.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from engine import __version__
from engine.cache import media_fingerprint
from engine.depth.protocol import DepthConfig
from engine.depth.stabilise import StabiliseConfig
from engine.device import resolve_device
from engine.document import StereoParams
from engine.document.schema import parse_schema, upgrade, upgrade_to_current
from engine.dvg import DvgConfig, TemporalStereo, forward_backward, pair_flow
from engine.errors import InputError, InvalidProject, MediaError, OutputError, UsageError
from engine.fileio import Landing, atomic_write_json, land_together, refuse_inputs_as_outputs
from engine.flow import FlowEstimator, to_gray, working_size
from engine.grading.render import graded_disparity
from engine.jobs.convert import DepthStage, Segment, eye_image, segments_for, shot_cuts, to_image, to_tensor
from engine.jobs.export_depth import nearness, nearness_to_png16
from engine.jobs.plan import RenderPlan, eye_size_for
from engine.jobs.request import ConvertRequest
from engine.jobs.stream import Sink, closing_iter, prefetch
from engine.media import MediaInfo, MediaReader, is_still_path, open_media, probe
from engine.opencv import cv2
from engine.progress import CancelToken, Progress
from engine.shots import ShotDetectConfig

DATASET_SCHEMA = "PairDataset"
DATASET_VERSION = 1
CLIP_SCHEMA = "PairClip"
CLIP_VERSION = 1
MANIFEST_NAME = "manifest.json"
CLIP_NAME = "clip.json"
CLIPS_DIR = "clips"
SCALE = 1.0  # right view from the left reference: x_R = x_L - d
FRAME_FOLDERS = ("ref", "target", "target_mask", "back", "back_mask", "depth", "confidence")
DISPARITY_FOLDER = "disparity"
MAX_NOTES_SHOWN = 3  # DVG notes per clip said as Progress notes; all of them go to clip.json
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class PairRequest:
    """What `make_pairs` builds; the CLI, the studio and the farm build one of these.

    Attributes:
        inputs: video files and/or folders (a folder's files are taken sorted by name, not recursively;
            hidden files are ignored).
        output: the dataset folder (created when missing; an existing dataset is resumed).
        divergence_range: (low, high) % of eye width; each clip's D is drawn uniformly from it.
        convergence: c, the normalised depth of the screen plane (the same for every clip).
        seed: the dataset seed; a clip's seed is derived from it and the clip's content hash.
        max_width: cap on one eye's width in pixels (aspect kept); None = source width.
        max_frames: at most this many frames per clip, from its first; None = all.
        temporal: inpaint x2 with the temporal DVG renderer (else the spatial fill).
        dvg: DVG settings (the temporal fill and the flow confidence).
        write_disparity: also write each frame's pixel disparity as float32 .npy.
        depth_config, stabilise, shots, shot_detect, device, cache_dir, use_cache: as in ConvertRequest
            (`shots` is 'auto' or 'off' here).
        overwrite: delete an existing dataset in `output` and build it again from scratch.
    """

    inputs: tuple[Path, ...]
    output: Path
    divergence_range: tuple[float, float] = (1.5, 5.0)
    convergence: float = 1.0 / 3.0
    seed: int = 0
    max_width: int | None = 960
    max_frames: int | None = None
    temporal: bool = True
    dvg: DvgConfig = field(default_factory=DvgConfig)
    write_disparity: bool = False
    depth_config: DepthConfig = field(default_factory=DepthConfig)
    stabilise: StabiliseConfig = field(default_factory=StabiliseConfig)
    shots: str = "auto"
    shot_detect: ShotDetectConfig = field(default_factory=ShotDetectConfig)
    device: str = "auto"
    cache_dir: Path | None = None
    use_cache: bool = True
    overwrite: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(Path(p) for p in self.inputs))
        object.__setattr__(self, "output", Path(self.output))
        low, high = (float(v) for v in self.divergence_range)
        object.__setattr__(self, "divergence_range", (low, high))
        if not self.inputs:
            raise UsageError("no input given", hint="Pass one or more video files or folders")
        if not 0.0 <= low <= high <= 20.0:
            raise UsageError(f"--divergence-range {low:g} {high:g}: need 0 <= A <= B <= 20 (% of eye width)")
        if not 0.0 <= self.convergence <= 1.0:
            raise UsageError(f"--convergence {self.convergence:g} is outside 0..1")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise UsageError(f"--seed {self.seed} must be a non-negative integer")
        if self.max_width is not None and self.max_width < 16:
            raise UsageError(f"--max-width {self.max_width} is too small (16 px at least)")
        if self.max_frames is not None and self.max_frames < 1:
            raise UsageError(f"--max-frames {self.max_frames} must be at least 1")
        if self.shots not in ("auto", "off"):
            raise UsageError(f"shots must be 'auto' or 'off' for make-pairs, not {self.shots!r}")


@dataclass(frozen=True)
class SkippedInput:
    """An input that is not a usable video, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class PairReport:
    """What `make_pairs` did (the generator's return value).

    Attributes:
        output: the dataset folder.
        built, reused: clip folder names (under clips/) made by this run / kept from an earlier one.
        frames_built: frames written by this run.
        skipped: inputs that were not usable videos, in input order.
        orphans: clip folders in clips/ that belong to none of this run's inputs (left in place,
            not in the manifest).
    """

    output: Path
    built: tuple[str, ...]
    reused: tuple[str, ...]
    frames_built: int
    skipped: tuple[SkippedInput, ...]
    orphans: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------ pure pieces


def _note(message: str) -> Progress:
    return Progress("note", 0, 0, message=message)


def clip_seed(dataset_seed: int, content_hash: str) -> int:
    """A clip's RNG seed: the first 6 bytes (big-endian) of BLAKE2b-48 of ``"<dataset_seed>:<content_hash>"``.

    48 bits, so it survives JSON readers that hold numbers as doubles. It depends on the clip's
    content, not its position, so adding or reordering inputs leaves every other clip's seed as is.
    """
    digest = hashlib.blake2b(f"{dataset_seed}:{content_hash}".encode("ascii"), digest_size=6).digest()
    return int.from_bytes(digest, "big")


def draw_divergence(seed: int, divergence_range: tuple[float, float]) -> float:
    """D for a clip: ``numpy.random.default_rng(seed).uniform(low, high)`` (`low` when low == high)."""
    low, high = divergence_range
    return float(low) if low == high else float(np.random.default_rng(seed).uniform(low, high))


def clip_folder_name(index: int, source: Path) -> str:
    """``<index:04d>_<stem>``, the stem with anything but letters, digits, '.', '_', '-' as '_' (60 chars)."""
    stem = _UNSAFE.sub("_", source.stem).strip("._") or "clip"
    return f"{index:04d}_{stem[:60]}"


def frame_path(clip: Path, folder: str, index: int) -> Path:
    """The file of frame `index` in one of a clip's folders: ``<clip>/<folder>/<index:06d>.png`` (``.npy`` for
    disparity). The one naming rule shared by the writer and every reader (the refiner's data loader)."""
    return clip / folder / f"{index:06d}.{'npy' if folder == DISPARITY_FOLDER else 'png'}"


def mask_image(mask: torch.Tensor) -> np.ndarray:
    """(1, 1, H, W) bool -> (H, W) uint8, 255 where True, else 0."""
    return mask[0, 0].cpu().numpy().astype(np.uint8) * np.uint8(255)


def confidence_image(confidence: np.ndarray) -> np.ndarray:
    """(H, W) float in [0, 1] -> (H, W) uint8 round(255 · C)."""
    return np.rint(np.clip(confidence, 0.0, 1.0) * 255.0).astype(np.uint8)


def depth_image(delta: torch.Tensor) -> np.ndarray:
    """(1, 1, H, W) normalised depth δ -> (H, W) uint16 nearness round((1 − δ) · 65535) (NaN -> 0)."""
    return nearness_to_png16(nearness(delta[0, 0].cpu().numpy()))


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of (H, W, 3) RGB uint8 or (H, W) grey uint8/uint16."""
    data = np.ascontiguousarray(image[..., ::-1] if image.ndim == 3 else image)
    ok, buf = cv2.imencode(".png", data)
    if not ok:
        raise OutputError(f"OpenCV could not encode a {image.shape} {image.dtype} PNG")
    return buf.tobytes()


# ------------------------------------------------------------------------------------ flow confidence


class FlowConfidence:
    """Per-frame forward-backward flow confidence of a shot, lag one frame.

    C_t(x) = max(C_{t->t-1}(x), C_{t->t+1}(x)): the graded consistency (1 / (1 + r²), 0.5 at the
    threshold, :func:`engine.flow.fb_confidence`) of pixel x's flow to the previous and to the next
    frame — the two neighbours DVG propagates the occlusion mask from — computed at the flow's
    working size with the DVG alpha / beta and bilinearly resized to the eye size. A neighbour across
    a cut (pair matched fraction below ``min_confident_fraction``, as DVG decides) contributes 0, so a
    single-frame shot is all 0.
    """

    def __init__(self, config: DvgConfig) -> None:
        self.config = config
        self._estimator = FlowEstimator(config.flow)
        self.reset()

    def reset(self) -> None:
        self._prev: tuple[int, np.ndarray, np.ndarray] | None = None  # index, grey, C to its predecessor
        self._size: tuple[int, int] | None = None

    def _grey(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        self._size = (w, h)
        small = working_size(w, h, self.config.flow.working_width)
        grey = to_gray(image)
        return grey if small == (w, h) else cv2.resize(grey, small, interpolation=cv2.INTER_AREA)

    def _full(self, conf: np.ndarray) -> np.ndarray:
        if (conf.shape[1], conf.shape[0]) == self._size:
            return conf
        return np.clip(cv2.resize(conf, self._size, interpolation=cv2.INTER_LINEAR), 0.0, 1.0)

    def push(self, index: int, image: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Add frame `index` ((H, W, 3) RGB); return [(index - 1, (H, W) float32 C)] once it is known."""
        grey = self._grey(image)
        if self._prev is None:
            self._prev = (index, grey, np.zeros_like(grey, dtype=np.float32))
            return []
        c = self.config
        prev_index, prev_grey, prev_back = self._prev
        pair = pair_flow(self._estimator, prev_grey, grey, c.alpha, c.beta, True)
        linked = pair.matched_fraction >= c.min_confident_fraction
        forward = pair.conf_forward if linked else np.zeros_like(prev_back)
        backward = pair.conf_backward if linked else np.zeros_like(prev_back)
        self._prev = (index, grey, backward)
        return [(prev_index, self._full(np.maximum(prev_back, forward)))]

    def flush(self) -> list[tuple[int, np.ndarray]]:
        """End of shot: the last frame's confidence (to its predecessor only), then reset."""
        out = [] if self._prev is None else [(self._prev[0], self._full(self._prev[2]))]
        self.reset()
        return out


# ------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class ClipPlan:
    """One usable input, fixed before any frame is rendered."""

    index: int
    source: Path
    name: str
    content_hash: str
    seed: int
    divergence: float
    frames: int
    fps: Fraction
    source_size: tuple[int, int]
    eye_size: tuple[int, int]


def expand_inputs(inputs: tuple[Path, ...], output: Path) -> list[Path]:
    """Files to consider, in order: each file as given, each folder's non-hidden files sorted by name.

    The output folder (and anything inside it) is never an input. A path that does not exist is an
    InputError (exit 3) before any work.
    """
    out = output.resolve()
    found: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found += sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")),
                            key=lambda p: p.name)
        elif path.is_file():
            found.append(path)
        else:
            raise InputError("input not found", path=path, hint="Check the path")
    unique: dict[Path, Path] = {}
    for p in found:
        if out not in p.resolve().parents:
            unique.setdefault(p.resolve(), p)  # the same file twice: its first place counts
    return list(unique.values())


def _unusable(path: Path) -> tuple[MediaInfo | None, str | None]:
    """(info, None) for a video with frames, else (None, why it is skipped)."""
    if is_still_path(path):
        return None, "a still image (pairs are made from video)"
    try:
        info = probe(path)
    except MediaError as exc:
        return None, exc.message
    if info.is_still:
        return None, "a still image (pairs are made from video)"
    if info.video.frame_count < 1:
        return None, "no decodable video frames"
    return info, None


def scan_inputs(request: PairRequest, candidates: list[Path], cancel: CancelToken,
                ) -> Generator[Progress, None, tuple[list[ClipPlan], list[SkippedInput]]]:
    """Probe and hash every candidate (from :func:`expand_inputs`); plan the usable videos, skip the rest
    with a note each."""
    plans: list[ClipPlan] = []
    skipped: list[SkippedInput] = []
    for i, path in enumerate(candidates):
        cancel.check()
        info, reason = _unusable(path)
        if reason is not None:
            skipped.append(SkippedInput(path, reason))
            yield _note(f"skipped {path}: {reason}")
        else:
            digest = media_fingerprint(path, cancel=cancel)
            seed = clip_seed(request.seed, digest)
            count = info.video.frame_count
            frames = count if request.max_frames is None else min(count, request.max_frames)
            n, video = len(plans), info.video
            divergence = draw_divergence(seed, request.divergence_range)
            plans.append(ClipPlan(n, path, clip_folder_name(n, path), digest, seed, divergence, frames,
                                  Fraction(video.fps), (video.width, video.height),
                                  eye_size_for(info, request.max_width)))
        yield Progress("scan", i + 1, len(candidates))
    if not plans:
        raise InputError(f"no usable video among the {len(candidates)} input file(s)",
                         hint="Pass video files (.mp4, .mov, .mkv …) or folders holding them")
    return plans, skipped


# ------------------------------------------------------------------------------------ dataset files


def dataset_settings(request: PairRequest) -> dict:
    """The settings that shape the dataset's content, as JSON values (compared when resuming)."""
    r = request
    settings = {"divergence_range": list(r.divergence_range), "convergence": r.convergence, "seed": r.seed,
                "max_width": r.max_width, "max_frames": r.max_frames, "temporal": r.temporal,
                "dvg": asdict(r.dvg), "depth_model": r.depth_config.model, "stabilise": asdict(r.stabilise),
                "shots": r.shots, "shot_detect": asdict(r.shot_detect), "disparity_files": r.write_disparity}
    return json.loads(json.dumps(settings))


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidProject("file not found", path=path) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidProject(f"not a readable JSON file ({exc})", path=path) from exc
    if not isinstance(data, dict):
        raise InvalidProject("does not hold a JSON object", path=path)
    return data


def load_manifest(folder: str | Path) -> dict:
    """A dataset's manifest.json, upgraded to PairDataset.1 in memory (what a trainer should call).

    Raises:
        InvalidProject: missing or unreadable, not a PairDataset, or from a newer version.
    """
    path = Path(folder) / MANIFEST_NAME
    return upgrade_to_current(_read_json(path), DATASET_SCHEMA, DATASET_VERSION, path=str(path))


def load_clip(folder: str | Path) -> dict:
    """One clip's clip.json (schema PairClip.1). Raises InvalidProject like :func:`load_manifest`."""
    path = Path(folder) / CLIP_NAME
    return upgrade_to_current(_read_json(path), CLIP_SCHEMA, CLIP_VERSION, path=str(path))


@upgrade(DATASET_SCHEMA, 0)
def _pair_dataset_0_to_1(data: dict) -> dict:
    """PairDataset.0 (the prototype): top-level divergence_range / convergence, clips without seeds or
    hashes, no reference / target keys, no clip.json files. Its divergences stay readable; they are
    not reproducible (seed null), and a resume rebuilds its clips (nothing to verify them against)."""
    unknown = dict.fromkeys(("seed", "max_width", "max_frames", "temporal", "dvg", "depth_model", "stabilise",
                             "shots", "shot_detect", "disparity_files"))
    convergence = data.pop("convergence", None)
    data["settings"] = {"divergence_range": data.pop("divergence_range", None), "convergence": convergence,
                        **unknown}
    data.setdefault("created_by", "unknown")
    data["reference"], data["target"] = "left", "right"
    data["clips"] = [{"folder": c.get("folder"), "source": c.get("source"), "content_hash": None,
                      "seed": None, "divergence": c.get("divergence"), "convergence": convergence,
                      "frames": c.get("frames"), "eye_size": None, "fps": None}
                     for c in data.get("clips", [])]
    data["skipped"] = []
    data["status"] = "partial"
    return data


def _settings_differences(old: dict, new: dict) -> list[str]:
    """'key: old -> new' for every known setting that changed (an unknown old value, null, matches any)."""
    return [
        f"{k}: {json.dumps(old.get(k))} -> {json.dumps(v)}"
        for k, v in new.items()
        if old.get(k) is not None and old.get(k) != v
    ]


def _clear_dataset(folder: Path) -> None:
    try:
        if (folder / CLIPS_DIR).exists():
            shutil.rmtree(folder / CLIPS_DIR)
        (folder / MANIFEST_NAME).unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"could not remove the old dataset ({exc.strerror or exc})", path=folder) from exc


def open_dataset(request: PairRequest) -> Iterator[Progress]:
    """Make `request.output` ready: new, resumed (same settings), or cleared (overwrite).

    Raises:
        OutputError: a file where the folder should be, a non-empty folder that is not a dataset, unwritable.
        InvalidProject: a manifest from a newer or unknown schema.
        UsageError: a dataset built with other settings (without `overwrite`).
    """
    out = request.output
    if out.exists() and not out.is_dir():
        raise OutputError("is a file; the pair dataset needs a folder", path=out, hint="Choose another -o")
    if (out / MANIFEST_NAME).exists():
        yield from _resume_checks(request)
    elif out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir()):
        raise OutputError("folder is not empty and holds no manifest.json (not a pair dataset)", path=out,
                          hint="Choose a new or empty folder; nothing in it was changed")
    try:
        (out / CLIPS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the dataset folder ({exc.strerror or exc})", path=out) from exc
    if not os.access(out / CLIPS_DIR, os.W_OK | os.X_OK):
        raise OutputError("dataset folder is not writable", path=out, hint="Choose a folder you can write to")
    for stale in (out / CLIPS_DIR).glob(".*.partial"):  # a crashed run's staging folders
        shutil.rmtree(stale, ignore_errors=True)
    if not (out / MANIFEST_NAME).exists():  # from now on the folder says what it is, even if cancelled
        write_manifest(request, [], [], complete=False)


def _resume_checks(request: PairRequest) -> Iterator[Progress]:
    out = request.output
    raw = _read_json(out / MANIFEST_NAME)
    if request.overwrite:
        name, _ = parse_schema(raw.get("schema"), path=str(out / MANIFEST_NAME))
        if name != DATASET_SCHEMA:
            raise OutputError(f"holds a {name} manifest, not a pair dataset; --overwrite will not delete it",
                              path=out, hint="Choose another -o folder")
        refuse_inputs_as_outputs((), request.inputs, replaced_folders=(out / CLIPS_DIR,))
        _clear_dataset(out)
        yield _note(f"{out}: old dataset removed (--overwrite)")
        return
    old_version = parse_schema(raw.get("schema"), path=str(out / MANIFEST_NAME))[1]
    manifest = load_manifest(out)
    if old_version < DATASET_VERSION:
        yield _note(f"{out}: upgraded from {DATASET_SCHEMA}.{old_version}; clips "
                    "without a recorded seed and source hash are rebuilt")
    diffs = _settings_differences(manifest.get("settings") or {}, dataset_settings(request))
    if diffs:
        raise UsageError(f"this dataset was built with other settings ({'; '.join(diffs)}); its clips and "
                         "new ones would mix", path=out,
                         hint="Rerun with the same settings to resume, choose another -o folder, or pass "
                              "--overwrite to rebuild it from scratch")


def manifest_entry(record: dict) -> dict:
    """A clip's line in manifest.json, from its clip.json."""
    keys = ("source", "content_hash", "seed", "divergence", "convergence", "frames", "eye_size", "fps")
    return {"folder": f"{CLIPS_DIR}/{record['folder']}", **{k: record[k] for k in keys}}


def write_manifest(request: PairRequest, records: list[dict], skipped: list[SkippedInput],
                   complete: bool) -> None:
    """Rewrite manifest.json atomically: every complete clip so far, in input order."""
    atomic_write_json(request.output / MANIFEST_NAME, {
        "schema": f"{DATASET_SCHEMA}.{DATASET_VERSION}", "created_by": f"spatialdreamer {__version__}",
        "reference": "left", "target": "right", "scale": SCALE, "settings": dataset_settings(request),
        "status": "complete" if complete else "partial",
        "clips": [manifest_entry(r) for r in sorted(records, key=lambda r: r["index"])],
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in skipped]})


def reusable_clip(folder: Path, plan: ClipPlan) -> dict | None:
    """The clip.json of a complete clip made from the same content with the same seed, else None."""
    try:
        record = load_clip(folder)
    except InvalidProject:
        return None
    same = (record.get("status") == "complete" and record.get("content_hash") == plan.content_hash
            and record.get("seed") == plan.seed and record.get("frames") == plan.frames)
    return {**record, "index": plan.index, "folder": plan.name} if same else None


# ------------------------------------------------------------------------------------ one clip


@dataclass
class _Frame:
    """A decoded frame waiting for its target view and its confidence."""

    image: np.ndarray  # (H, W, 3) eye-size RGB as decoded
    x1: torch.Tensor  # (1, 3, H, W) float
    delta: torch.Tensor  # (1, 1, H, W) δ
    disparity: torch.Tensor  # (1, 1, H, W) px
    target: torch.Tensor | None = None
    confidence: np.ndarray | None = None


class ClipWriter:
    """Writes one clip's frame files into its (staging) folder on a background thread."""

    def __init__(self, folder: Path, write_disparity: bool) -> None:
        self.folder = folder
        self.write_disparity = write_disparity
        names = FRAME_FOLDERS + ((DISPARITY_FOLDER,) if write_disparity else ())
        for name in names:
            (folder / name).mkdir(parents=True, exist_ok=True)
        self.frames = 0
        self.hole_sum = {"target_mask": 0.0, "back_mask": 0.0}
        self._sink: Sink = Sink(self._write, maxsize=4, name="write-pairs")

    def _write(self, item: tuple[int, dict[str, np.ndarray]]) -> None:
        index, files = item
        for name, array in files.items():
            path = frame_path(self.folder, name, index)
            try:
                if name == DISPARITY_FOLDER:
                    np.save(path, array)
                else:
                    path.write_bytes(encode_png(array))
            except OSError as exc:
                raise OutputError(f"could not write ({exc.strerror or exc})", path=path,
                                  hint="Check free disk space and permissions") from exc

    def put(self, index: int, frame: _Frame, fb) -> None:
        """Queue frame `index`'s files (x1, x2, m2, back, m1, depth, confidence[, disparity])."""
        ref = frame.image if frame.image.dtype == np.uint8 else to_image(frame.x1, 8)
        files = {"ref": ref, "target": to_image(fb.target, 8), "target_mask": mask_image(fb.target_holes),
                 "back": to_image(fb.reference, 8), "back_mask": mask_image(fb.reference_holes),
                 "depth": depth_image(frame.delta), "confidence": confidence_image(frame.confidence)}
        if self.write_disparity:
            files[DISPARITY_FOLDER] = frame.disparity[0, 0].cpu().numpy().astype(np.float32)
        self.hole_sum["target_mask"] += float(fb.target_holes.float().mean())
        self.hole_sum["back_mask"] += float(fb.reference_holes.float().mean())
        self.frames += 1
        self._sink.put((index, files))

    def close(self) -> None:
        self._sink.close()

    def abandon(self) -> None:
        self._sink.abandon()


class _ClipRenderer:
    """The render pass of one clip: frames in, forward-backward pairs out to a ClipWriter."""

    def __init__(self, request: PairRequest, plan: ClipPlan, device: torch.device,
                 writer: ClipWriter) -> None:
        self.params = StereoParams(plan.divergence, request.convergence)
        self.stereo = TemporalStereo(request.dvg, "right", device) if request.temporal else None
        self.confidence = FlowConfidence(request.dvg)
        self.writer = writer
        self.eye_size = plan.eye_size
        self.device = device
        self.pending: dict[int, _Frame] = {}

    def push(self, index: int, image: np.ndarray, delta: torch.Tensor) -> int:
        """Add one source frame with its δ; write every frame now complete; return how many were written."""
        x1 = to_tensor(image, self.device)
        self.pending[index] = _Frame(image, x1, delta, graded_disparity(delta, self.params))
        for i, conf in self.confidence.push(index, image):
            self.pending[i].confidence = conf
        if self.stereo is not None:
            for i, views in self.stereo.push(index, x1, self.pending[index].disparity):
                self.pending[i].target = views.right
        return self._emit()

    def end_shot(self) -> int:
        for i, conf in self.confidence.flush():
            self.pending[i].confidence = conf
        if self.stereo is not None:
            for i, views in self.stereo.flush():
                self.pending[i].target = views.right
        written = self._emit()
        if self.pending:  # never: both stages flush everything they hold
            raise RuntimeError(f"frames {sorted(self.pending)} were not completed at the end of the shot")
        return written

    def _emit(self) -> int:
        written = 0
        while self.pending:
            index = min(self.pending)
            frame = self.pending[index]
            if frame.confidence is None or (self.stereo is not None and frame.target is None):
                break
            del self.pending[index]
            fb = forward_backward(frame.x1, frame.disparity, SCALE, target=frame.target)
            self.writer.put(index, frame, fb)
            written += 1
        return written

    def notes(self) -> list[str]:
        notes = [] if self.stereo is None else list(dict.fromkeys(self.stereo.notes))
        if self.stereo is not None:
            self.stereo.notes.clear()
        return notes


def _convert_request(request: PairRequest, source: Path) -> ConvertRequest:
    """The ConvertRequest DepthStage and shot_cuts read (input, depth, shots, device, cache)."""
    r = request
    return ConvertRequest(input=source, depth_config=r.depth_config, stabilise=r.stabilise,
                          max_width=r.max_width, device=r.device, shots=r.shots, shot_detect=r.shot_detect,
                          cache_dir=r.cache_dir, use_cache=r.use_cache, bars="off")


def _range_plan(plan: ClipPlan) -> RenderPlan:
    """The frame range [0, frames) as the RenderPlan shot_cuts reads (no outputs: nothing is encoded)."""
    return RenderPlan(0, plan.frames, plan.eye_size, plan.eye_size, (0, 0), (), None, None, False, ())


def clip_record(request: PairRequest, plan: ClipPlan, segments: list[Segment], provider: str,
                writer: ClipWriter, notes: list[str]) -> dict:
    """clip.json of a finished clip (schema PairClip.1)."""
    width = plan.eye_size[0]
    d = plan.divergence / 100.0 * width
    frames = max(writer.frames, 1)
    c = request.convergence
    return {
        "schema": f"{CLIP_SCHEMA}.{CLIP_VERSION}", "status": "complete",
        "created_by": f"spatialdreamer {__version__}",
        "index": plan.index, "folder": plan.name, "source": str(plan.source.resolve()),
        "content_hash": plan.content_hash, "frame_range": [0, plan.frames], "frames": plan.frames,
        "fps": f"{plan.fps.numerator}/{plan.fps.denominator}", "source_size": list(plan.source_size),
        "eye_size": list(plan.eye_size), "divergence": plan.divergence, "convergence": c, "seed": plan.seed,
        "disparity_range_px": [d * (c - 1.0), d * c], "reference": "left", "target": "right", "scale": SCALE,
        "shots": [[s.start, s.end] for s in segments], "depth_provider": provider,
        "temporal": request.temporal, "disparity_files": request.write_disparity,
        "hole_fraction": {k: v / frames for k, v in writer.hole_sum.items()}, "notes": notes}


def _clip_depth(request: PairRequest, plan: ClipPlan, reader: MediaReader, depth: DepthStage,
                cancel: CancelToken) -> Generator[Progress, None, list[Segment]]:
    """Shots of the clip and the depth pass over them (per-shot normalisation needs every frame first)."""
    conv = _convert_request(request, plan.source)
    cuts = yield from shot_cuts(conv, reader, _range_plan(plan), cancel)
    segments = segments_for(_range_plan(plan), cuts)
    done = 0
    for segment in segments:
        yield from depth.depth_pass(reader, segment, cancel, done, plan.frames)
        done += segment.end - segment.start
    return segments


def _render_clip(renderer: _ClipRenderer, plan: ClipPlan, reader: MediaReader, depth: DepthStage,
                 segments: list[Segment], device: torch.device, cancel: CancelToken, done: int,
                 total: int) -> Iterator[Progress]:
    """The render pass: decode → δ → grade → DVG / spatial x2 → forward-backward → files, shot by shot."""
    for segment in segments:
        decoded = prefetch(reader.frames(segment.start, segment.end), maxsize=4, name="decode-pairs")
        with closing_iter(decoded) as frames:
            for frame in frames:
                cancel.check()
                delta = depth.depth_tensor(frame.index, segment, device)
                done += renderer.push(frame.index, eye_image(frame.image, plan.eye_size), delta)
                yield Progress("pairs", done, total)
        done += renderer.end_shot()
        yield Progress("pairs", done, total)


def build_clip(request: PairRequest, plan: ClipPlan, staging: Path, device: torch.device, cancel: CancelToken,
               done: int, total: int) -> Generator[Progress, None, dict]:
    """Render every frame of `plan` into `staging`; return its clip.json record (written there too)."""
    writer = ClipWriter(staging, request.write_disparity)
    renderer = _ClipRenderer(request, plan, device, writer)
    try:
        with open_media(plan.source) as reader:
            depth = DepthStage(_convert_request(request, plan.source), plan.eye_size, reader)
            try:
                segments = yield from _clip_depth(request, plan, reader, depth, cancel)
                notes = list(dict.fromkeys(depth.notes))
                yield from depth.drain_notes()
                yield from _render_clip(renderer, plan, reader, depth, segments, device, cancel, done, total)
                provider = depth.provider.name if depth.provider is not None else "imported"
            finally:
                depth.close()
        writer.close()
    except BaseException:
        writer.abandon()
        raise
    dvg_notes = renderer.notes()
    for note in dvg_notes[:MAX_NOTES_SHOWN]:
        yield _note(f"{plan.name}: {note}")
    if len(dvg_notes) > MAX_NOTES_SHOWN:
        yield _note(f"{plan.name}: {len(dvg_notes) - MAX_NOTES_SHOWN} more DVG notes "
                    f"in {CLIPS_DIR}/{plan.name}/{CLIP_NAME}")
    record = clip_record(request, plan, segments, provider, writer, notes + dvg_notes)
    atomic_write_json(staging / CLIP_NAME, record)
    return record


def _install_clip(staging: Path, final: Path) -> None:
    """Move a finished staging folder into place (replacing a stale clip folder of the same name)."""
    try:
        land_together([Landing(staging, final)])
    except OSError as exc:
        raise OutputError(f"could not move the finished clip into place ({exc.strerror or exc})",
                          path=final) from exc


# ------------------------------------------------------------------------------------ the job


def _orphans(folder: Path, names: set[str]) -> tuple[str, ...]:
    found = (p.name for p in (folder / CLIPS_DIR).iterdir() if p.is_dir() and not p.name.startswith("."))
    return tuple(sorted(name for name in found if name not in names))


def make_pairs(request: PairRequest, cancel: CancelToken | None = None,
               ) -> Generator[Progress, None, PairReport]:
    """Build (or resume) the forward-backward pair dataset of `request`.

    A generator of Progress (stages: "scan" files, "shots", "depth" frames of the current clip, "pairs"
    frames of all clips built by this run; "note" messages, one per skipped input) whose return value
    (StopIteration.value) is a :class:`PairReport`. Checks `cancel` between frames: the clip in progress
    is dropped (rebuilt next time), every finished clip stays in the manifest.

    Raises:
        InputError: a named input does not exist, or no input is a usable video.
        InvalidProject: the output holds a manifest of an unknown or newer schema.
        UsageError: the output is a dataset built with other settings (pass `overwrite` to rebuild).
        OutputError: the output cannot be written.
    """
    cancel = cancel or CancelToken()
    device = resolve_device(request.device)
    candidates = expand_inputs(request.inputs, request.output)
    yield from open_dataset(request)
    plans, skipped = yield from scan_inputs(request, candidates, cancel)
    clips_dir = request.output / CLIPS_DIR
    records, todo = [], []
    for plan in plans:
        record = reusable_clip(clips_dir / plan.name, plan)
        if record is None:
            todo.append(plan)
        else:
            records.append(record)
    reused = tuple(r["folder"] for r in records)
    write_manifest(request, records, skipped, complete=False)
    if reused:
        yield _note(f"{len(reused)} complete clip(s) kept from an earlier run")
    total, done, built = sum(p.frames for p in todo), 0, []
    for n, plan in enumerate(todo, start=1):
        yield _note(f"clip {n}/{len(todo)}: {plan.source.name} -> {plan.name} "
                    f"(D = {plan.divergence:.3f} %, {plan.frames} frames)")
        staging = clips_dir / f".{plan.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            record = yield from build_clip(request, plan, staging, device, cancel, done, total)
        except MediaError as exc:  # probed fine but does not decode: skip it like any other bad input
            shutil.rmtree(staging, ignore_errors=True)
            skipped.append(SkippedInput(plan.source, exc.message))
            yield _note(f"skipped {plan.source}: {exc.message}")
            total -= plan.frames
            continue
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _install_clip(staging, clips_dir / plan.name)
        records.append(record)
        built.append(plan.name)
        done += plan.frames
        write_manifest(request, records, skipped, complete=False)
    write_manifest(request, records, skipped, complete=True)
    orphans = _orphans(request.output, {r["folder"] for r in records})
    if orphans:
        yield _note(f"{len(orphans)} folder(s) in {clips_dir} are from none of these "
                    f"inputs and are not in the manifest: {', '.join(orphans)}")
    return PairReport(request.output, tuple(built), reused, done, tuple(skipped), orphans)


__all__ = [
    "CLIP_NAME",
    "DATASET_SCHEMA",
    "MANIFEST_NAME",
    "ClipPlan",
    "FlowConfidence",
    "PairReport",
    "PairRequest",
    "SkippedInput",
    "clip_seed",
    "draw_divergence",
    "frame_path",
    "load_clip",
    "load_manifest",
    "make_pairs",
]
