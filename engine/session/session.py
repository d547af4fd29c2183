"""The interactive front end's view of one clip: a reader, one depth provider, the caches, the exact
per-frame render (ARCHITECTURE.md "session/").

    session = api.open_session(project, clip="c1")      # or a media path
    rgb = session.frame(120)                            # (H, W, 3) source RGB, frame-accurate, cached
    d = session.depth(120)                              # DepthFrame: δ as the master uses it, or provisional
    for p in session.analyse(session.shot_at(120)): ... # fill the depth cache of the shot, cancellable
    left, right = session.render(120)                   # both eyes by the master's path (FrameAssembly)

Threading contract. Every public method may be called from any thread. `frame`, `depth`, `render`,
`readout`, `prefetch` and `analyse` may run concurrently: decoding goes through the MediaReader's
lock, the in-memory caches have their own lock, and the depth provider (stateful, possibly a GPU
model) is used by one caller at a time under the provider lock — `analyse` holds it for the whole
shot, and a `depth(n)` that would need it meanwhile gets the fast provisional map instead of
waiting (`DepthFrame.provisional`, `.reason`). `update(project)` swaps the document atomically; work
in flight finishes with the project it started with. `close()` must not race other calls (the
studio calls it after its workers stopped). No method starts a thread: `prefetch` and `analyse`
run in the caller's (worker's) thread and honour a CancelToken between frames.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from engine.depth.cues.priors import vertical_prior
from engine.depth.normalise import ShotNormaliser
from engine.device import resolve_device
from engine.document import Clip, Project, Shot, StereoParams
from engine.errors import OutputError, UsageError
from engine.grading.qc import parallax_stats
from engine.grading.qc_screens import budget_for
from engine.grading.render import graded_disparity
from engine.jobs.convert import (
    DepthStage,
    Segment,
    depth_editor,
    job_clip,
    params_at,
    project_clip,
    windows_at,
)
from engine.jobs.edits import ClipEditor
from engine.jobs.frame import (
    FrameAssembly,
    PreparedFrame,
    depth_to_tensor,
    edited_depth,
    eye_image,
    to_image,
    to_tensor,
)
from engine.jobs.plan import RenderPlan, eye_size_for
from engine.jobs.request import ConvertRequest, media_options, with_project_media
from engine.media import MediaReader, open_media
from engine.ops import StereoViews
from engine.progress import CancelToken, Progress

PRE_EDIT_FRAMES = 8  # frames whose unedited δ stays in memory (the frame being painted re-applies edits only)
PROVISIONAL_WINDOW = 3  # frames of causal context for a provisional estimate (motion parallax)


@dataclass(frozen=True)
class DepthFrame:
    """δ of one frame at eye size.

    Attributes:
        delta: (H, W) float32 δ in [0, 1] (0 nearest; NaN unknown) after depth edits, before the curve;
            for imported `disparity-px` depth, the pixel disparity itself.
        provisional: True when the shot is not analysed yet: δ normalised over this frame alone
            (the master normalises over the whole shot), or a vertical prior while the provider is busy.
        reason: why it is provisional ("" when exact).
        is_disparity: `delta` holds pixel disparity (imported `disparity-px`), not δ.
    """

    delta: np.ndarray
    provisional: bool = False
    reason: str = ""
    is_disparity: bool = False


@dataclass(frozen=True)
class Readout:
    """The inspector's parallax readout of one frame: nearest (1st percentile) and farthest (99th).

    Attributes:
        near_pct, far_pct: screen parallax p = −d, % of the eye width (p < 0 in front of the screen).
        near_px, far_px: pixels of the full-resolution eye.
        near_mm, far_mm: millimetres on the chosen screen.
        budget: (low, high) % of that screen's budget; ok: both ends inside it (and no divergence).
        screen: the preset name; provisional: from a provisional δ.
    """

    near_pct: float
    far_pct: float
    near_px: float
    far_px: float
    near_mm: float
    far_mm: float
    budget: tuple[float, float]
    ok: bool
    screen: str
    provisional: bool


def _plan(reader: MediaReader, eye: tuple[int, int]) -> RenderPlan:
    """The whole clip as a render plan (no outputs): what job_clip reads for shot detection."""
    n = len(reader)
    return RenderPlan(0, n, eye, eye, (0, 0), (), None, None, reader.info.is_still, ())


class Session:
    """One clip of a project, open for interactive use (see the module's threading contract).

    Args:
        project: the document (a one-clip project is made for a bare media path by :func:`open_session`).
        clip: which clip (id, number or name); None = the only one.
        request: render settings (depth model, stabilisation, cache, device, layout, max width,
            synthesize, temporal …) — the same settings object convert takes; its `input` is ignored.
        frame_cache: decoded source frames kept in memory.
        depth_cache: δ maps kept in memory.
    """

    def __init__(self, project: Project, clip: str | None = None, request: ConvertRequest | None = None,
                 frame_cache: int = 32, depth_cache: int = 64) -> None:
        base = request or ConvertRequest(input=None, shots="off")
        self._request = with_project_media(replace(base, input=None, project=project, clip=clip))
        self._clip_key = clip
        self.reader = open_media(self._request.input, cache_size=frame_cache, **media_options(self._request))
        self.reader.keep_gop()  # a scrub back into a GOP decoded once converts a kept frame, no seek
        self.eye_size = eye_size_for(self.reader.info, self._request.max_width)
        self.device = resolve_device(self._request.device)
        self._depth = DepthStage(self._request, self.eye_size, self.reader)
        self._analysis_reader: MediaReader | None = None
        self._provider_lock = threading.Lock()
        self._lock = threading.RLock()
        self._ranges: dict[tuple[int, int], ShotNormaliser] = {}
        self._deltas: OrderedDict[tuple, DepthFrame] = OrderedDict()
        self._pre_edit: OrderedDict[tuple, np.ndarray] = OrderedDict()  # δ before edits, the last few frames
        self._depth_cache = depth_cache
        self._clip = project_clip(self._request)
        self._editor: ClipEditor | None = None  # depth edits: flows and carried strokes kept for the session
        self._edits_reader: MediaReader | None = None

    # ---------------------------------------------------------------- document

    @property
    def project(self) -> Project:
        return self._request.project

    @property
    def clip(self) -> Clip:
        return self._clip

    @property
    def request(self) -> ConvertRequest:
        """The settings this session renders with (the project and clip included)."""
        return self._request

    def update(self, project: Project) -> None:
        """Follow an edit: the session now renders `project` (same clip id). Analysis of shots whose
        range is unchanged stays valid; the grade is read per call, so nothing else is invalidated."""
        with self._lock:
            self._request = replace(self._request, project=project)
            self._clip = project_clip(self._request)

    def shot_at(self, n: int) -> Shot | None:
        """The shot containing source frame `n` (None in a gap between shots)."""
        return self._clip.shot_at(n)

    def params_at(self, n: int) -> StereoParams:
        """Stereo parameters at frame `n`: the shot's grade, else the session's constant grade."""
        return params_at(self._request, n, self._clip)

    # ---------------------------------------------------------------- frames

    def __len__(self) -> int:
        return len(self.reader)

    def frame(self, n: int) -> np.ndarray:
        """(H, W, 3) RGB of source frame `n` at the source's display size (uint8, uint16 above 8 bits)."""
        return self.reader.frame(n).image

    def prefetch(self, n: int, count: int = 24, cancel: CancelToken | None = None,
                 depth: bool | Callable[[int], bool] = True) -> int:
        """Decode frames [n, n + count) into the frame cache and load their δ when their shot is
        analysed (never analyses, never estimates). Runs in the caller's (worker's) thread; returns
        how many frames were decoded before the end of the clip or a cancel.

        depth: whether to load δ too, or a predicate on the frame number asked as each frame comes
        up (playback: only frames the playhead has not passed yet; a δ read for a frame that is
        already dropped is ~10 ms of CPU wasted at 1080p, while one read ahead saves the frame's
        fetch that latency)."""
        cancel = cancel or CancelToken()
        wanted = depth if callable(depth) else (lambda _i: depth)
        done = 0
        for i in range(max(0, n), min(len(self), max(0, n) + count)):
            if cancel.cancelled:
                break
            self.reader.frame(i)
            if wanted(i):
                self._exact_depth(i)
            done += 1
        return done

    # ---------------------------------------------------------------- depth

    def _segment(self, n: int) -> Segment:
        """The normalisation segment of frame `n`: its shot, or the gap between shots it lies in."""
        shot = self.shot_at(n)
        if shot is not None:
            return Segment(shot.start, shot.end)
        cuts = [0, *self._clip.cuts(), len(self)]
        before = max(c for c in cuts if c <= n)
        return Segment(before, min(c for c in cuts if c > n))

    def _known_range(self, segment: Segment) -> ShotNormaliser | None:
        """The segment's δ normaliser: from memory, the cache's meta entry, or None (not analysed)."""
        key = (segment.start, segment.end)
        with self._lock:
            norm = self._ranges.get(key)
        if norm is not None or self._depth.is_disparity:
            return norm
        if self._depth.fixed_range is not None:
            norm = ShotNormaliser.from_range(self._depth.kind, *self._depth.fixed_range)
        else:
            norm = self._depth.cached_range(segment)
            if norm is None:
                return None
        with self._lock:
            self._ranges[key] = norm
        return norm

    def analysed(self, shot: Shot | None) -> bool:
        """Whether the shot's depth is in the cache with its whole-shot range (δ is exact)."""
        if shot is None:
            return False
        return self._depth.is_disparity or self._known_range(Segment(shot.start, shot.end)) is not None

    def analyse(self, shot: Shot | Segment, cancel: CancelToken | None = None) -> Iterator[Progress]:
        """Fill the depth cache of `shot` and fix its whole-shot δ range: a generator of
        ``Progress("analyse", done, total)``, cancellable between frames (a cancelled analysis keeps
        what it cached; the next one reads it back)."""
        cancel = cancel or CancelToken()
        segment = Segment(shot.start, shot.end)
        total = segment.end - segment.start
        if self._depth.is_disparity or self._known_range(segment) is not None:
            yield Progress("analyse", total, total)
            yield from self._prepare_edits(shot, cancel)
            return
        with self._provider_lock:
            reader = self._reader_for_analysis()
            for p in self._depth.depth_pass(reader, segment, cancel, 0, total):
                if p.stage == "depth":
                    yield Progress("analyse", p.done, total)
            norm = self._depth.normalisers.pop(segment.start)
            yield from self._depth.drain_notes()
        with self._lock:
            self._ranges[(segment.start, segment.end)] = norm
        yield from self._prepare_edits(shot, cancel)

    def _prepare_edits(self, shot: Shot | Segment, cancel: CancelToken) -> Iterator[Progress]:
        """The shot's depth-edit flows and carried strokes (Progress ``edit-flow`` / ``edit-carry``)."""
        editor = self._depth_editor()
        if editor is not None and isinstance(shot, Shot):
            yield from editor.prepare(shot, cancel)

    def _depth_editor(self) -> ClipEditor | None:
        """The clip's depth-edit hook, one for the session's life: an edit re-carries only new strokes."""
        with self._lock:
            clip = self._clip
            if self._depth.is_disparity or not any(s.strokes for s in clip.shots):
                return None
            if self._editor is None:
                if self._edits_reader is None:
                    self._edits_reader = open_media(self._request.input, cache_size=4, **media_options(self._request))
                self._editor = depth_editor(clip, self._edits_reader, self._depth)
            elif self._editor.clip is not clip:
                self._editor = self._editor.with_clip(clip)
            return self._editor

    def edit_overlay(self, n: int, wait: bool = True) -> tuple[np.ndarray | None, tuple[str, ...]]:
        """The depth edits' weight on frame `n` at eye size ((H, W) float32 in [0, 1], the largest stroke
        weight per pixel; None when the shot has no strokes) and the shot's stroke notes (strokes ignored,
        or applied only on part of the shot and why). `wait` False answers at once: strokes not carried
        yet show only on their painted frame, and only carried strokes have notes."""
        editor, shot = self._depth_editor(), self.shot_at(n)
        if editor is None or shot is None or not shot.strokes:
            return None, ()
        edits = editor.shot_edits(shot)
        return edits.overlay(n, wait), tuple(edits.notes(wait))

    def _reader_for_analysis(self) -> MediaReader:
        """A second decoder for analysis, so a shot's sequential read never fights the scrub's seeks."""
        if self._analysis_reader is None:
            self._analysis_reader = open_media(self._request.input, cache_size=0, **media_options(self._request))
        return self._analysis_reader

    def _exact_depth(self, n: int) -> DepthFrame | None:
        """δ of frame `n` exactly as the master uses it, if its shot is analysed (memory, then disk cache)."""
        segment = self._segment(n)
        shot = self.shot_at(n)
        key = (n, segment.start, segment.end, shot.strokes if shot else ())
        with self._lock:
            hit = self._deltas.get(key)
            if hit is not None:
                self._deltas.move_to_end(key)
                return hit
        norm = self._known_range(segment)
        if norm is None and not self._depth.is_disparity:
            return None
        unedited = self._unedited_depth(n, segment, norm)
        if unedited is None:
            return None
        values = depth_to_tensor(unedited, self.device)
        result = DepthFrame(self._edited(n, values)[0, 0].cpu().numpy(), is_disparity=self._depth.is_disparity)
        with self._lock:
            self._deltas[key] = result
            while len(self._deltas) > self._depth_cache:
                self._deltas.popitem(last=False)
        return result

    def _unedited_depth(self, n: int, segment: Segment, norm: ShotNormaliser | None) -> np.ndarray | None:
        """δ of frame `n` before the edits (the disk cache, normalised), the last few kept in memory so a new
        stroke on the frame being painted re-applies only the edits; None when the cache lost the frame."""
        key = (n, segment.start, segment.end, id(norm))
        with self._lock:
            hit = self._pre_edit.get(key)
            if hit is not None:
                self._pre_edit.move_to_end(key)
                return hit
        try:
            raw = self._depth.raw(n, segment)
        except OutputError:  # evicted since the analysis: not analysed any more
            with self._lock:
                self._ranges.pop((segment.start, segment.end), None)
            return None
        values = raw if norm is None else norm.apply(raw)
        with self._lock:
            self._pre_edit[key] = values
            while len(self._pre_edit) > PRE_EDIT_FRAMES:
                self._pre_edit.popitem(last=False)
        return values

    def _edited(self, n: int, values: torch.Tensor) -> torch.Tensor:
        """δ after the clip's depth edits: the FrameAssembly's own edit step (`edited_depth` with the clip's
        editor, as `FrameAssembly.prepare` applies it), without building the grade it does not need here;
        disparity-px passes through."""
        editor = self._depth_editor()
        if self._depth.is_disparity or editor is None:
            return values
        image = to_tensor(eye_image(self.frame(n), self.eye_size), self.device)
        return edited_depth(values, n, image, editor)

    def depth(self, n: int, exact: bool = False, cancel: CancelToken | None = None) -> DepthFrame:
        """δ of frame `n` as the final render uses it (whole-shot normalisation, after depth edits,
        before the curve), at eye size.

        Args:
            exact: when the shot is not analysed, analyse it now (blocking) instead of answering with
                a provisional map.
        """
        self.reader.check_index(n)
        hit = self._exact_depth(n)
        if hit is not None:
            return hit
        if exact:
            shot = self.shot_at(n)
            for _ in self.analyse(shot if shot is not None else self._segment(n), cancel):
                pass
            return self._exact_depth(n)
        return self._provisional(n)

    def _provisional(self, n: int) -> DepthFrame:
        """A fast map for an unanalysed shot: this frame's own depth normalised alone, else a vertical prior."""
        segment = self._segment(n)
        raw = None
        if self._depth.imported is None and self._depth.spool is None:
            raw = self._depth._segment_store(segment).get(n)
        if raw is None and self._depth.imported is not None:
            raw = self._depth.imported.read(n, *self.eye_size)
        reason = "shot not analysed yet: δ normalised over this frame alone"
        if raw is None and self._provider_lock.acquire(blocking=False):
            try:
                raw = self._window_estimate(n, segment)
            finally:
                self._provider_lock.release()
        if raw is None:
            w, h = self.eye_size
            delta = 1.0 - vertical_prior(h, w)
            return DepthFrame(delta.astype(np.float32), True, "depth is being analysed: a vertical prior for now")
        norm = ShotNormaliser(self._depth.kind)
        bars = self._depth.bars_for(segment)
        norm.update(raw if bars is None else np.where(bars.mask(), np.nan, raw).astype(np.float32))
        norm.finalize()
        delta = self._edited(n, depth_to_tensor(norm.apply(raw), self.device))[0, 0].cpu().numpy()
        return DepthFrame(delta, True, reason)

    def _window_estimate(self, n: int, segment: Segment) -> np.ndarray:
        """Raw depth of frame `n` from the provider over a short causal window inside its segment."""
        provider = self._depth.provider
        provider.reset()
        start = max(segment.start, n - PROVISIONAL_WINDOW + 1)
        frames = (eye_image(self.frame(i), self.eye_size) for i in range(start, n + 1))
        *_, last = provider.estimate(frames)
        provider.reset()
        return last

    # ---------------------------------------------------------------- render

    def _assembly(self) -> FrameAssembly:
        return FrameAssembly(self._request, self.device, self._depth_editor())

    def _prepared(self, assembly: FrameAssembly, i: int, depth: DepthFrame) -> PreparedFrame:
        """Frame `i` ready for the stereo renderer from its (already edited) δ: curve, grade, disparity."""
        image = to_tensor(eye_image(self.frame(i), self.eye_size), self.device)
        values = depth_to_tensor(depth.delta, self.device)
        if depth.is_disparity:
            return PreparedFrame(i, image, None, assembly.flat_bars(values))
        frame = assembly.graded(i, image, values, self.params_at(i))
        return replace(frame, disparity=assembly.flat_bars(frame.disparity))

    def bars(self, n: int):
        """The letterbox / pillarbox bars of frame `n`'s shot at eye size (engine.ops.bars.Bars), or None:
        the master's own detection (kept at d = 0 and out of δ's range and the readout)."""
        return self._depth.bars_for(self._segment(n))

    def views(self, n: int, exact: bool = True, cancel: CancelToken | None = None) -> StereoViews:
        """The StereoViews of frame `n` by the master's path (see :meth:`render`)."""
        self.reader.check_index(n)
        assembly = self._assembly()
        assembly.set_bars(self.bars(n))
        if not self._request.temporal or self.reader.info.is_still:
            return assembly.render_one(self._prepared(assembly, n, self.depth(n, exact, cancel)))
        segment = self._segment(n)
        lag = self._request.dvg.neighbours
        result = None
        for i in range(max(segment.start, n - 2 * lag), min(segment.end, n + lag + 1)):
            for index, views in assembly.push(self._prepared(assembly, i, self.depth(i, exact, cancel))):
                result = views if index == n else result
        for index, views in assembly.flush():
            result = views if index == n else result
        return result

    def _bits(self) -> int:
        """Output bit depth as the master's: the encoder's for video, 16 for a 16-bit still."""
        if self.reader.info.is_still:
            return 16 if self.reader.info.video.bit_depth > 8 else 8
        return self._request.encode.bit_depth

    def render(self, n: int, exact: bool = True, cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Both eyes of frame `n` by the master's path (eye size, the source's dtype).

        The per-frame path (`temporal=False`) gives exactly the master's frame. With DVG (the default)
        the frame is rendered with its shot's frames from n − 2K to n + K (K = DVG neighbours): the
        master's temporal fill also carries history from the shot start, so disoccluded pixels can
        differ; the warped content is identical.

        Args:
            exact: analyse the shot first if needed (else a provisional δ is used).
        """
        views = self.views(n, exact, cancel)
        return to_image(views.left, self._bits()), to_image(views.right, self._bits())

    def packed(self, n: int, exact: bool = True, cancel: CancelToken | None = None) -> list[np.ndarray]:
        """Frame `n` packed by the session's layout (one image, two for `pair`): `spatialdreamer frame`."""
        return self._assembly().packed(self.views(n, exact, cancel), self._bits(), windows=windows_at(self._clip, n))

    def readout(self, n: int, params: StereoParams | None = None, screen: str = "tv65",
                budget: tuple[float, float] | None = None) -> Readout:
        """Nearest/farthest parallax of frame `n` under `params` (default: the frame's grade) for `screen`."""
        depth = self.depth(n)
        params = params or self.params_at(n)
        d = depth.delta if depth.is_disparity else graded_disparity(
            depth_to_tensor(depth.delta, self.device), params)[0, 0].cpu().numpy()
        bars = self.bars(n)
        if bars is not None:  # on the screen plane by construction, and out of QC (CONVENTIONS.md)
            d = np.where(bars.mask(), np.nan, d)
        stats = parallax_stats(d, self.eye_size[0])
        full = self.reader.info.video.width
        b = budget_for(screen, budget)
        ok = b.contains(stats.p01, stats.p99) and stats.p99 < b.screen.divergence_limit_pct()
        return Readout(stats.p01, stats.p99, stats.p01 / 100 * full, stats.p99 / 100 * full,
                       b.screen.pct_to_mm(stats.p01), b.screen.pct_to_mm(stats.p99), (b.low, b.high), ok,
                       screen, depth.provisional)

    # ---------------------------------------------------------------- life

    def close(self) -> None:
        """Release the readers, the spool and the memory caches (idempotent)."""
        self.reader.close()
        for reader in (self._analysis_reader, self._edits_reader):
            if reader is not None:
                reader.close()
        self._depth.close()
        with self._lock:
            self._deltas.clear()
            self._pre_edit.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_session(project_or_media: Project | str | Path, clip: str | None = None,
                 request: ConvertRequest | None = None, **kwargs) -> Session:
    """A Session on a project's clip, or on a media file (one shot, or the cuts `request.shots` asks for).

    Args:
        project_or_media: a Project, or the path of a video or still.
        clip: the project's clip (id, number or name); None = its only clip.
        request: render settings (as convert's); None = the defaults with `shots="off"` for a media path.
        kwargs: `frame_cache`, `depth_cache` (see :class:`Session`).
    Raises:
        MediaError for unreadable media, UsageError for an unknown clip.
    """
    if isinstance(project_or_media, Project):
        return Session(project_or_media, clip, request, **kwargs)
    media = Path(project_or_media)
    request = replace(request or ConvertRequest(input=media, shots="off"), input=media, project=None)
    with open_media(media, **media_options(request)) as reader:
        eye = eye_size_for(reader.info, request.max_width)
        steps = job_clip(request, reader, _plan(reader, eye), CancelToken())
        try:
            while True:
                next(steps)
        except StopIteration as done:
            found: Clip = done.value
    if not found.shots:
        raise UsageError("the media has no frames to open", path=media)
    project = Project((replace(found, media=str(media)),), name=media.stem)
    return Session(project, None, request, **kwargs)
