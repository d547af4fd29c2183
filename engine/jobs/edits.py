"""Depth edits in a render: the clip's strokes applied to δ by the per-frame assembly's edit hook.

:class:`ClipEditor` is the :class:`engine.jobs.frame.DepthEditor` that convert, the session and the
farm hand to :class:`engine.jobs.frame.FrameAssembly`, so every front end applies the same edits. The
first time a shot with strokes is asked for, its pair flows are computed in one sequential decode of
the shot (:class:`ShotFlows`) and kept in the depth & flow cache (kind ``edit-flow``, keyed by the
media's content hash, the eye size and the flow settings: another edit, another depth model or another
session reads them back instead of recomputing); each stroke is then carried once
(:class:`engine.edits.ShotEdits`, memoised per stroke), and every frame is a cheap pull + apply.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor

from engine.cache import ArrayCache, params_fingerprint
from engine.depth.imported import depth_source_files, read_depth_image
from engine.document import Clip, Shot, Stroke
from engine.dvg.fields import PairFlow, pair_flow
from engine.edits import ShotEdits
from engine.errors import InputError
from engine.flow import FlowConfig, FlowEstimator, to_gray, working_size
from engine.opencv import cv2
from engine.progress import CancelToken, Progress

FLOW_KIND = "edit-flow"


@dataclass(frozen=True)
class EditFlowConfig:
    """How strokes are carried: DIS flow at a working width and the forward-backward test.

    Attributes:
        flow: DIS preset and working width (the DVG's defaults: ``medium`` at 480 px).
        alpha, beta: forward-backward tolerances (relative; absolute in working px²); soft confidence.
    """

    flow: FlowConfig = field(default_factory=lambda: FlowConfig(preset="medium", working_width=480))
    alpha: float = 0.01
    beta: float = 0.5


def _pack(pair: PairFlow) -> np.ndarray:
    """(h, w, 6) float32: forward u, v, backward u, v, their confidences."""
    return np.dstack([pair.forward, pair.backward, pair.conf_forward, pair.conf_backward]).astype(np.float32)


def _unpack(values: np.ndarray, matched: float) -> PairFlow:
    v = np.ascontiguousarray(values, np.float32)
    return PairFlow(np.ascontiguousarray(v[..., 0:2]), np.ascontiguousarray(v[..., 2:4]),
                    np.ascontiguousarray(v[..., 4]), np.ascontiguousarray(v[..., 5]), matched)


class ShotFlows:
    """Pair flows j -> j + 1 of a shot's frames, from the cache or computed in one sequential pass.

    Args:
        reader: the clip's :class:`engine.media.MediaReader`.
        start, end: the shot's source frames [start, end).
        eye_size: (W, H) the frames are resized to first (as the render sees them).
        config: flow settings.
        cache: the job's :class:`ArrayCache` (None or disabled: kept in memory, float16 as the cache would).
        media_hash: the source's content hash (needed with an enabled cache).
    """

    def __init__(self, reader, start: int, end: int, eye_size: tuple[int, int], config: EditFlowConfig,
                 cache: ArrayCache | None = None, media_hash: str | None = None) -> None:
        self.reader, self.start, self.end = reader, int(start), int(end)
        self.eye_size, self.config = (int(eye_size[0]), int(eye_size[1])), config
        self.small = working_size(self.eye_size[0], self.eye_size[1], config.flow.working_width)
        self.store = None
        if cache is not None and cache.enabled and media_hash is not None:
            key = params_fingerprint({"edit_flow": asdict(config), "eye_size": list(self.eye_size)})
            self.store = cache.namespace(FLOW_KIND, media_hash, key)
        self._memory: dict[int, tuple[np.ndarray, float]] = {}
        self._matched: dict[int, float] = {}
        self._complete = False
        self._lock = threading.Lock()
        self.computed = 0

    def _meta_key(self) -> str:
        return f"matched-{self.start:08d}-{self.end:08d}"

    def _gray(self, image: np.ndarray) -> np.ndarray:
        eye = image if (image.shape[1], image.shape[0]) == self.eye_size else \
            cv2.resize(image, self.eye_size, interpolation=cv2.INTER_AREA)
        gray = to_gray(eye)
        if (gray.shape[1], gray.shape[0]) != self.small:
            gray = cv2.resize(gray, self.small, interpolation=cv2.INTER_AREA)
        return gray

    def ready(self) -> bool:
        """Every pair of the shot is at hand (memory or cache)."""
        if self.end - self.start < 2:
            return True
        if not self._matched and self.store is not None:
            meta = self.store.get_meta(self._meta_key())
            if meta is not None and len(meta.get("matched", [])) == self.end - self.start - 1:
                self._matched = {self.start + i: float(m) for i, m in enumerate(meta["matched"])}
        pairs = range(self.start, self.end - 1)
        if self.store is not None:
            return len(self._matched) == len(pairs) and self.store.has_all(pairs)
        return all(j in self._memory for j in pairs)

    def compute(self, cancel: CancelToken | None = None) -> Iterator[Progress]:
        """Decode the shot once and compute every pair flow (a generator of Progress, cancellable)."""
        if self.ready():
            self._complete = True
            return
        estimator = FlowEstimator(self.config.flow)
        total, prev = self.end - self.start - 1, None
        for frame in self.reader.frames(self.start, self.end):
            if cancel is not None:
                cancel.check()
            gray = self._gray(frame.image)
            if prev is not None:
                j = frame.index - 1
                pair = pair_flow(estimator, prev, gray, self.config.alpha, self.config.beta, True)
                self._keep(j, pair)
                yield Progress("edit-flow", j - self.start + 1, total)
            prev = gray
        if self.store is not None:
            matched = [self._matched[j] for j in range(self.start, self.end - 1)]
            self.store.put_meta(self._meta_key(), {"matched": matched})
        self._complete = True

    def _keep(self, j: int, pair: PairFlow) -> None:
        self.computed += 1
        self._matched[j] = pair.matched_fraction
        packed = _pack(pair)
        if self.store is not None:
            self.store.put(j, packed)
        if self.store is None or not self.store.cache.enabled:
            self._memory[j] = (packed.astype(np.float16), pair.matched_fraction)

    def __call__(self, j: int) -> PairFlow:
        """The pair flow between frames j and j + 1 (after :meth:`compute`)."""
        hit = self._memory.get(j)
        if hit is not None:
            return _unpack(hit[0], hit[1])
        if not self._complete:  # first use: the whole shot in one sequential decode (a worker's prepare
            with self._lock:  # normally did this already)
                for _ in self.compute():
                    pass
            return self(j)
        values = None if self.store is None else self.store.get(j)
        if values is None:  # evicted meanwhile (or never computed): compute it from the two frames
            a, b = self._gray(self.reader.frame(j).image), self._gray(self.reader.frame(j + 1).image)
            pair = pair_flow(FlowEstimator(self.config.flow), a, b, self.config.alpha, self.config.beta, True)
            self._keep(j, pair)
            return pair
        return _unpack(values, self._matched[j])


def matte_weight(raw: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A matte image as a brush weight: (h, w[, c]) integers over their range or floats -> (H, W) in [0, 1]
    (first channel; NaN counts as 0), resized to `shape` (area when shrinking, bilinear when enlarging)."""
    grey = raw[..., 0] if raw.ndim == 3 else raw
    if grey.dtype.kind in "iub":
        top = 1.0 if grey.dtype.kind == "b" else float(np.iinfo(grey.dtype).max)
        values = grey.astype(np.float32) / np.float32(top)
    else:
        values = np.nan_to_num(grey.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    values = np.clip(values, 0.0, 1.0)
    if values.shape != tuple(shape):
        shrink = shape[1] < values.shape[1]
        values = cv2.resize(values, (shape[1], shape[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.clip(values, 0.0, 1.0).astype(np.float32)


class MatteFiles:
    """The imported-matte strokes' images on disk (an :class:`engine.edits.shot.MatteSource`): one image, a
    folder (natural order) or a frame-number pattern, read with the depth importer's readers (PNG 8/16-bit,
    EXR, TIFF, PFM, JPEG …). An unreadable file counts as an empty matte (the stroke is then noted as ignored)."""

    def __init__(self) -> None:
        self._files: dict[str, list] = {}
        self._lock = threading.Lock()

    def files(self, stroke: Stroke) -> list:
        with self._lock:
            if stroke.matte not in self._files:
                self._files[stroke.matte] = depth_source_files(stroke.matte)
            return self._files[stroke.matte]

    def count(self, stroke: Stroke) -> int:
        return len(self.files(stroke))

    def weight(self, stroke: Stroke, index: int, shape: tuple[int, int]) -> np.ndarray:
        try:
            raw = read_depth_image(self.files(stroke)[index])
        except (InputError, OSError, ValueError):
            return np.zeros(shape, np.float32)
        return matte_weight(raw, shape)


class ClipEditor:
    """The depth-edit hook of one clip: each shot's strokes carried by flow and applied to δ.

    Args:
        clip: the document clip (its shots carry the strokes).
        reader: the clip's media reader (frames for flow and for edge-aware strokes).
        eye_size: (W, H) of δ in the render.
        cache: the job's depth & flow cache (None: flows kept in memory for the editor's life).
        media_hash: content hash of the clip's media (with an enabled cache).
        config: flow settings.
    """

    def __init__(self, clip: Clip, reader, eye_size: tuple[int, int], cache: ArrayCache | None = None,
                 media_hash: str | None = None, config: EditFlowConfig | None = None) -> None:
        self.clip, self.reader = clip, reader
        self.eye_size = (int(eye_size[0]), int(eye_size[1]))
        self.cache, self.media_hash = cache, media_hash
        self.config = config or EditFlowConfig()
        self.source_size = (int(reader.info.video.width), int(reader.info.video.height))
        self.memo: dict = {}
        self.mattes = MatteFiles()
        self._flows: dict[tuple[int, int], ShotFlows] = {}
        self._shots: dict[tuple, ShotEdits] = {}
        self._lock = threading.RLock()  # one flow pass per shot however many threads ask

    def with_clip(self, clip: Clip) -> ClipEditor:
        """This editor for an edited clip (flows and carried strokes are shared, so only new strokes carry)."""
        other = ClipEditor.__new__(ClipEditor)
        other.__dict__.update(self.__dict__)
        other.clip, other._shots = clip, {}
        return other

    def flows(self, shot: Shot) -> ShotFlows:
        key = (shot.start, shot.end)
        if key not in self._flows:
            self._flows[key] = ShotFlows(self.reader, shot.start, shot.end, self.eye_size, self.config,
                                         self.cache, self.media_hash)
        return self._flows[key]

    def _image(self, n: int) -> np.ndarray:
        image = self.reader.frame(n).image
        if (image.shape[1], image.shape[0]) != self.eye_size:
            image = cv2.resize(image, self.eye_size, interpolation=cv2.INTER_AREA)
        return image

    def shot_edits(self, shot: Shot) -> ShotEdits:
        """The shot's :class:`ShotEdits` (pair flows are computed when a stroke is first carried)."""
        key = (shot.start, shot.end, shot.strokes)
        with self._lock:
            if key not in self._shots:  # flows are computed when a stroke is first carried (or by prepare)
                flows = self.flows(shot)
                self._shots[key] = ShotEdits(shot.start, shot.end, shot.strokes, self.source_size,
                                             (self.eye_size[1], self.eye_size[0]), flows, self._image, self.memo,
                                             self.mattes)
            return self._shots[key]

    def prepare(self, shot: Shot, cancel: CancelToken | None = None) -> Iterator[Progress]:
        """Fill the shot's pair flows (Progress per pair) and carry its strokes, so no frame waits and the
        render loop reads nothing from the reader; then one note per stroke that is ignored or stops short."""
        if not shot.strokes:
            return
        with self._lock:
            yield from self.flows(shot).compute(cancel)
        edits = self.shot_edits(shot)
        check = None if cancel is None else cancel.check
        for n, stroke in enumerate(shot.strokes):
            edits.carried(stroke, check)
            yield Progress("edit-carry", n + 1, len(shot.strokes))
        for note in edits.notes():
            yield Progress("note", 0, 0, message=note)

    def notes(self) -> list[str]:
        """Ignored strokes and strokes that stop short of their shot's ends, one line each."""
        return [n for shot in self.clip.shots if shot.strokes for n in self.shot_edits(shot).notes()]

    def apply(self, delta: Tensor, source_frame: int, image: Tensor) -> Tensor:
        """The :class:`engine.jobs.frame.DepthEditor` hook: (1, 1, H, W) δ -> edited δ (same device)."""
        shot = self.clip.shot_at(source_frame)
        if shot is None or not shot.strokes:
            return delta
        edits = self.shot_edits(shot)
        values = delta[0, 0].detach().cpu().numpy()
        guide = image[0].permute(1, 2, 0).detach().cpu().numpy()
        out = edits.apply(values, source_frame, guide)
        if out is values:
            return delta
        return torch.from_numpy(np.ascontiguousarray(out)).to(delta.device)[None, None]
