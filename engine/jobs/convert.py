"""The conversion job: source video or still -> stereo master, as a generator of Progress.

Two passes per shot (CONVENTIONS.md wants δ normalised per shot from robust
percentiles, which needs every frame's depth before the first is graded):

1. depth pass — decode → depth provider → raw depth spooled to disk + shot statistics;
2. render pass — decode → normalise → grade → splat + fill → pack → encode.

Decode, compute and encode run in three threads joined by bounded queues, so
memory is flat in clip length. Outputs are atomic: nothing appears at the
target until the whole master is written, and a cancel or failure removes the
partial file and leaves any existing file untouched.
"""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from engine.cache import ArrayCache, depth_params_fingerprint, params_fingerprint, prepare_rounded
from engine.config import load_user_config
from engine.depth.imported import ImportedDepth
from engine.depth.normalise import ShotNormaliser
from engine.depth.registry import create_provider
from engine.depth.stabilise import DepthStabiliser, paired_estimates
from engine.device import resolve_device
from engine.document import Clip, Grade, Shot, StereoParams
from engine.errors import InvalidProject, OutputError, UsageError
from engine.fileio import Landing, discard_staged, land_together, temp_path_beside
from engine.jobs.depth_spool import DepthSpool
from engine.jobs.edits import ClipEditor
from engine.jobs.export_depth import DepthExporter, reimport_range
from engine.jobs.frame import (
    FrameAssembly,
    PerFrameStereo,
    PreparedFrame,
    depth_to_tensor,
    eye_image,
    make_stereo_renderer,
    source_image,
    to_image,
    to_tensor,
)
from engine.jobs.plan import RenderPlan, hole_mask_paths, job_inputs, plan_convert, renders_scene, spatial_metadata
from engine.jobs.pools import stage_ahead
from engine.jobs.refine import RefineStage
from engine.jobs.request import ConvertRequest, media_options, with_project_media
from engine.jobs.stream import Sink, closing_iter, prefetch
from engine.jobs.vr180 import pass_stereo_through
from engine.media import EncodeSettings, Frame, MediaReader, VideoWriter, commit_together, open_media, write_still
from engine.media.sequence import source_stem
from engine.media.sequence_writer import SequenceWriter
from engine.media.tonemap import peak_nits
from engine.media.writer import HDR_TRANSFERS
from engine.ops import StereoViews
from engine.ops.bars import Bars, detect_bars
from engine.progress import CancelToken, Progress
from engine.shots import cuts_to_ranges, detect_cuts, edl_to_project, otio_to_project


@dataclass(frozen=True)
class Segment:
    """Frames [start, end) normalised together and graded by `params_at`."""

    start: int
    end: int


def segments_for(plan: RenderPlan, cuts: list[int]) -> list[Segment]:
    """The plan's range cut at `cuts` (a cut at k starts a new segment at k)."""
    edges = sorted({plan.start, plan.end, *(c for c in cuts if plan.start < c < plan.end)})
    return [Segment(a, b) for a, b in zip(edges, edges[1:], strict=False)]


def project_clip(request: ConvertRequest) -> Clip | None:
    """The clip of `request.project` to render (`request.clip` names it when there are several)."""
    if request.project is None:
        return None
    try:
        return request.project.clip(request.clip)
    except KeyError as exc:
        raise UsageError(str(exc.args[0]), hint="Name the clip with --clip ID, NUMBER or NAME") from exc


def job_clip(request: ConvertRequest, reader: MediaReader, plan: RenderPlan,
             cancel: CancelToken) -> Generator[Progress, None, Clip]:
    """The shots (and grades) the job follows: the project's clip, the shots of an .otio / .edl (an
    .otio of ours brings its grades), detected cuts, or one shot (`--shots off`).

    Normalisation, the depth provider's temporal state and temporal filling all restart at a shot
    boundary, so nothing leaks from one shot into the next. Shots without keyframes take the
    request's constant grade (:func:`params_at`).
    """
    info = reader.info.video
    clip = project_clip(request)
    if clip is not None:
        if clip.frame_count != len(reader) and clip.shots and clip.shots[-1].end > len(reader):
            raise InvalidProject(f"clip {clip.id} of the project has shots up to frame {clip.shots[-1].end}, "
                                 f"but the media has {len(reader)} frames", path=reader.path,
                                 hint="Relink the clip to its original media")
        return clip
    mode = request.shots
    if mode in ("off", "auto"):
        cuts = [] if mode == "off" or plan.frame_count < 2 else (
            yield from detect_cuts(reader, request.shot_detect, plan.start, plan.end, cancel))
        shots = tuple(Shot(a, b, Grade()) for a, b in cuts_to_ranges(cuts, plan.start, plan.end))
        return Clip("c1", str(reader.path), info.fps, len(reader), shots)
    path = Path(mode)
    notes: list[str] = []
    loader = edl_to_project if path.suffix.lower() == ".edl" else otio_to_project
    project = loader(path, request.input, notes=notes)
    for note in notes:
        yield Progress("note", 0, 0, message=f"{path.name}: {note}")
    return project.clip()


def shot_cuts(request: ConvertRequest, reader: MediaReader, plan: RenderPlan,
              cancel: CancelToken) -> Generator[Progress, None, list[int]]:
    """Where shots start and end (see :func:`job_clip`), sorted."""
    clip = yield from job_clip(request, reader, plan, cancel)
    return clip.cuts()


def params_at(request: ConvertRequest, source_frame: int, clip: Clip | None = None) -> StereoParams:
    """The grade of one frame: its shot's keyframed grade, else the request's constant params.

    Args:
        clip: the job's clip (:func:`job_clip`); None = the request's project clip, if any.
    """
    clip = clip if clip is not None else project_clip(request)
    shot = clip.shot_at(source_frame) if clip is not None else None
    if shot is not None and shot.grade.is_keyed:
        return shot.grade.at(source_frame)
    return request.params


def range_key(segment: Segment, bars: Bars | None = None) -> str:
    """The cache meta key of a segment's δ range, in the namespace of the segment's start (bars left out
    of the range give another key)."""
    suffix = "" if bars is None else f"-bars-{bars.top}-{bars.bottom}-{bars.left}-{bars.right}"
    return f"range-{segment.end}{suffix}"


def segment_bars(mode: str, reader: MediaReader, segment: Segment, eye_size: tuple[int, int],
                 samples: int = 9) -> Bars | None:
    """Letterbox / pillarbox bars of one segment (a shot: bars change at cuts) at eye size, from up to
    `samples` frames spread over it; None with `--bars off`, for a still, or when there are none.

    The one detection convert, the farm's chunks, the studio session and `qc` share (through
    :meth:`DepthStage.bars_for`), so a preview, a QC run and a chunked render keep the master's bars.
    """
    if mode == "off" or reader.info.is_still or segment.end <= segment.start:
        return None
    n = segment.end - segment.start
    picks = sorted({segment.start + (n - 1) * k // max(1, samples - 1) for k in range(samples)})
    bars = detect_bars(reader.frame(i).image for i in picks)  # reads no more frames than it needs
    return None if bars is None else bars.scaled(eye_size)


def bars_notes(depth: DepthStage, segments: list[Segment]) -> list[str]:
    """What the bars found per segment are, for the user: one note when every segment has the same."""
    found = [(segment, depth.bars_for(segment)) for segment in segments]
    kept = "kept flat on the screen plane and out of the depth range"
    if all(b is None for _, b in found):
        return []
    if len({None if b is None else b.describe() for _, b in found}) == 1:
        return [f"letterbox/pillarbox bars ({found[0][1].describe()} at eye size): {kept}"]
    return [f"frames {s.start}-{s.end - 1}: letterbox/pillarbox bars ({b.describe()} at eye size): {kept}"
            for s, b in found if b is not None]


class DepthStage:
    """Raw depth for the render pass and the per-segment normalisers.

    Provider depth goes to the on-disk depth cache (keyed by the media's content
    hash, the provider, its settings, the eye size and the segment start, since
    a temporal provider's output depends on where its shot begins) so a second
    render or a studio scrub is a cache read; with the cache off it goes to a
    per-job spool. Imported depth is read directly in both passes.
    """

    def __init__(self, request: ConvertRequest, eye_size: tuple[int, int], reader: MediaReader) -> None:
        self.eye_size = eye_size
        self.imported = None
        self.provider = None
        self.notes: list[str] = []
        self.normalisers: dict[int, ShotNormaliser] = {}
        self.store: dict[int, object] = {}
        self.spool: DepthSpool | None = None
        self.fixed_range: tuple[float, float] | None = None
        self.bars_mode = request.bars  # letterbox / pillarbox bars (per segment, at eye size): out of δ's range
        self._bars_reader = reader
        self._bars: dict[tuple[int, int], Bars | None] = {}
        if request.depth is not None:
            spec = request.depth
            self.imported = ImportedDepth(spec.path, spec.kind, spec.scale)
            info = reader.info
            self.imported.validate(info.path, info.video.frame_count, info.video.width, info.video.height)
            self.kind = spec.kind
            self.notes.extend(self.imported.notes)
            self.fixed_range = reimport_range(spec.path, spec.kind)
            return
        self.provider = create_provider(request.depth_config)
        self.kind = self.provider.output_kind
        self.stabiliser = DepthStabiliser(self.kind, request.stabilise)
        self.cache = ArrayCache.from_config(load_user_config(), cache_dir=request.cache_dir,
                                            no_cache=not request.use_cache)
        self.spool = None if self.cache.enabled else DepthSpool()
        self.notes.extend(self.cache.notes)
        if self.cache.enabled:
            self.media_hash = self.cache.media_fingerprint(request.input)
            self.params_hash = params_fingerprint({
                "provider": depth_params_fingerprint(request.depth_config, self.provider.name,
                                                     getattr(self.provider, "version", "1")),
                "eye_size": list(eye_size), "stabilise": asdict(request.stabilise)})

    def bars_for(self, segment: Segment) -> Bars | None:
        """The segment's letterbox / pillarbox bars at eye size (:func:`segment_bars`, found once)."""
        key = (segment.start, segment.end)
        if key not in self._bars:
            self._bars[key] = segment_bars(self.bars_mode, self._bars_reader, segment, self.eye_size)
        return self._bars[key]

    @property
    def is_disparity(self) -> bool:
        """`disparity-px` depth is used as-is and bypasses grading."""
        return self.kind == "disparity-px"

    def _segment_store(self, segment: Segment):
        """Where this segment's provider maps live: a cache namespace, or the job's spool."""
        if segment.start not in self.store:
            self.store[segment.start] = (self.spool if self.spool is not None else self.cache.namespace(
                "depth", self.media_hash, params_fingerprint({"depth": self.params_hash, "shot_start": segment.start})))
        return self.store[segment.start]

    def raw(self, index: int, segment: Segment) -> np.ndarray:
        if self.imported is not None:
            return self.imported.read(index, *self.eye_size)
        raw = self._segment_store(segment).get(index)
        if raw is None:  # evicted or damaged between the passes: the cache said so; never guess
            raise OutputError(f"cached depth for frame {index} disappeared during the render",
                              hint="Rerun, or pass --no-cache")
        return raw

    def _maps(self, reader: MediaReader, segment: Segment) -> Iterator[np.ndarray]:
        frames_range = range(segment.start, segment.end)
        if self.imported is not None:
            return (self.imported.read(i, *self.eye_size) for i in frames_range)
        store = self._segment_store(segment)
        if self.spool is None and store.has_all(frames_range):
            return (store.get(i) for i in frames_range)
        self.provider.reset()
        self.stabiliser.reset()
        frames = (eye_image(f.image, self.eye_size) for f in reader.frames(segment.start, segment.end))
        # Stages: decode + resize | provider | stabiliser + normaliser (this thread) | store writes.
        raw = stage_ahead(paired_estimates(self.provider, prefetch(frames, maxsize=3, name="decode-depth")),
                          maxsize=2, name="depth")
        return self._stored(self.stabiliser.process(raw), store, segment.start)

    @staticmethod
    def _stored(maps: Iterator[np.ndarray], store, start: int) -> Iterator[np.ndarray]:
        """Store each map and pass on exactly what a later read returns (float16-rounded), so a cold
        and a warm render normalise the same numbers and give bit-identical masters.

        Entries are compressed and written in a thread of their own, off the job's critical path; the
        last one is on disk when the iterator ends (a write error is raised then, or at the next map).
        """
        writer = Sink(lambda item: store.put_prepared(*item), maxsize=4, name="depth-store")
        try:
            for k, raw in enumerate(maps):
                values, out, rounded = prepare_rounded(raw, store.float_storage)  # once: entry and this pass
                writer.put((start + k, values, out))
                yield rounded
            writer.close()
        except BaseException:
            writer.abandon()
            raise

    def depth_pass(self, reader: MediaReader, segment: Segment, cancel: CancelToken,
                   done: int, total: int) -> Iterator[Progress]:
        """Compute (or read from the cache) raw depth for `segment` and feed its normaliser."""
        if self.is_disparity:
            return
        if self.fixed_range is not None:  # our own depth export coming back: its exact δ, no re-normalising
            self.normalisers[segment.start] = ShotNormaliser.from_range(self.kind, *self.fixed_range)
            yield Progress("depth", done + segment.end - segment.start, total)
            return
        cached = self.cached_range(segment)
        if cached is not None:  # analysed before (a render, the studio): the maps and the shot's range are cached
            self.normalisers[segment.start] = cached
            if cached.note:
                self.notes.append(f"frames {segment.start}-{segment.end - 1}: {cached.note}")
            yield Progress("depth", done + segment.end - segment.start, total)
            return
        norm = self.normalisers[segment.start] = ShotNormaliser(self.kind)
        bars = self.bars_for(segment)
        bar_mask = None if bars is None else bars.mask()
        for k, raw in enumerate(self._maps(reader, segment)):
            cancel.check()
            norm.update(raw if bar_mask is None else np.where(bar_mask, np.nan, raw).astype(np.float32))
            yield Progress("depth", done + k + 1, total)
        norm.finalize()
        if self.spool is None and self.imported is None:  # the studio session reads the shot range here
            lo, hi = norm.range
            self._segment_store(segment).put_meta(range_key(segment, bars), {"lo": lo, "hi": hi})
        if norm.note:
            self.notes.append(f"frames {segment.start}-{segment.end - 1}: {norm.note}")

    def cached_range(self, segment: Segment) -> ShotNormaliser | None:
        """The segment's δ normaliser from the cache, when its range and every map are there (else None)."""
        if self.spool is not None or self.imported is not None or self.provider is None:
            return None
        store = self._segment_store(segment)
        meta = store.get_meta(range_key(segment, self.bars_for(segment)))
        if meta is None or not store.has_all(range(segment.start, segment.end)):
            return None
        try:
            return ShotNormaliser.from_range(self.kind, float(meta["lo"]), float(meta["hi"]))
        except (KeyError, TypeError, ValueError):
            return None

    def depth_tensor(self, index: int, segment: Segment, device: torch.device) -> torch.Tensor:
        """(1, 1, H, W) δ (or pixel disparity) for frame `index`."""
        raw = self.raw(index, segment)
        values = raw if self.is_disparity else self.normalisers[segment.start].apply(raw)
        return depth_to_tensor(values, device)

    def drain_notes(self) -> Iterator[Progress]:
        """Yield (once) what the user should hear about depth: cache state, flat shots, resizing."""
        notes, self.notes = self.notes, []
        for note in dict.fromkeys(notes):
            yield Progress("note", 0, 0, message=note)

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


@dataclass
class _Pending:
    """What the encode thread needs of a frame once its views are ready."""

    time: Fraction
    export: tuple | None


def _open_writers(request: ConvertRequest, plan: RenderPlan, source) -> list[VideoWriter]:
    fps = source.video.fps
    width, height = plan.frame_size
    if plan.is_sequence_output:
        video = source.video
        tonemap = (video.color_trc, peak_nits(video.mastering_display)) \
            if request.tonemap and video.color_trc in HDR_TRANSFERS else None
        return [SequenceWriter(path, width=width, height=height, first_number=plan.first_number,
                               bits=video.bit_depth, overwrite=request.overwrite, tonemap=tonemap)
                for path in plan.outputs]
    return [VideoWriter(path, width=width, height=height, fps=fps, settings=request.encode, source=source,
                        audio_range=plan.audio_range, stereo_mode=plan.stereo_mode, overwrite=request.overwrite,
                        projection="vr180" if request.vr180 else None, alpha=request.aov,
                        tonemap=request.tonemap, spatial=spatial_metadata(request))
            for path in plan.outputs]


def make_exporter(request: ConvertRequest, plan: RenderPlan, reader: MediaReader,
                  kind: str) -> DepthExporter | None:
    """The depth exporter for `--export-depth`, checked before any work (existing files, writable folder)."""
    if request.export_depth is None:
        return None
    exporter = DepthExporter(request.export_depth, stem=source_stem(request.input), fps=reader.info.video.fps,
                             frame_range=(plan.start, plan.end), kind_source=kind, eye_size=plan.eye_size,
                             overwrite=request.overwrite, media=request.input,
                             first_number=reader.info.video.start_number or 0)
    exporter.check(inputs=job_inputs(request),
                   others=hole_mask_paths(request) if request.export_holes is not None else ())
    return exporter


def _open_hole_writers(request: ConvertRequest, plan: RenderPlan, fps: Fraction) -> list[VideoWriter]:
    if request.export_holes is None:
        return []
    lossless = EncodeSettings(codec="ffv1")
    return [VideoWriter(path, width=plan.eye_size[0], height=plan.eye_size[1], fps=fps, settings=lossless,
                        overwrite=request.overwrite) for path in hole_mask_paths(request)]


def eye_aovs(views: StereoViews, swap_eyes: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per output eye (in `pair` order, following --swap-eyes): (hole (H, W) bool, disparity (H, W) float32 px,
    NaN in holes) — the compositing passes of `--aov`."""
    eyes = [(views.left_holes, views.left_disparity), (views.right_holes, views.right_disparity)]
    if swap_eyes:
        eyes.reverse()
    return [(h[0, 0].cpu().numpy().astype(bool), d[0, 0].cpu().numpy().astype(np.float32)) for h, d in eyes]


def write_frame(writer, image: np.ndarray, time: Fraction, aov: tuple[np.ndarray, np.ndarray] | None) -> None:
    """One frame to a writer, with its eye's AOVs: channels/files for a sequence, alpha = 1 - hole for ProRes 4444."""
    if aov is None:
        writer.write(image, time)
    elif isinstance(writer, SequenceWriter):
        writer.write(image, time, aov=aov)
    else:
        writer.write(image, time, alpha=1.0 - aov[0].astype(np.float32))


def hole_image(holes: torch.Tensor) -> np.ndarray:
    """(1, 1, H, W) bool -> (H, W, 3) uint8, white where nothing landed."""
    return np.repeat(holes[0, 0].cpu().numpy().astype(np.uint8)[..., None] * 255, 3, axis=2)


def _render_video(request: ConvertRequest, plan: RenderPlan, reader: MediaReader, depth: DepthStage,
                  clip: Clip, segments: list[Segment], device: torch.device, cancel: CancelToken,
                  exporter: DepthExporter | None, refiner: RefineStage | None = None) -> Iterator[Progress]:
    writers = _open_writers(request, plan, reader.info) + _open_hole_writers(request, plan, reader.info.video.fps)
    t0 = reader.frame(plan.start).time
    bit_depth = plan.image_bits or request.encode.bit_depth
    editor = None if depth.is_disparity else depth_editor(clip, reader, depth)
    assembly = FrameAssembly(assembly_request(request, plan), device, editor, refiner, plan.fisheye_packing,
                             plan.far_at_infinity)
    if refiner is not None:
        refiner.plan([s.end - s.start for s in segments])

    def encode(item: tuple[list[np.ndarray], list | None, _Pending]) -> None:
        images, aovs, pending = item
        for k, (writer, image) in enumerate(zip(writers, images, strict=True)):
            write_frame(writer, image, pending.time, aovs[k] if aovs is not None and k < len(aovs) else None)
        if pending.export is not None:
            exporter.write(*pending.export)

    sink = Sink(encode, maxsize=4, name="encode")
    pending: dict[int, _Pending] = {}
    done = 0

    def emit(ready: list[tuple[int, StereoViews]]) -> Iterator[Progress]:
        nonlocal done
        for index, views in ready:
            images = assembly.packed(views, bit_depth, plan.padding, windows_at(clip, index))
            aovs = eye_aovs(views, request.swap_eyes) if request.aov else None
            if request.export_holes is not None:
                images += [hole_image(views.left_holes), hole_image(views.right_holes)]
            sink.put((images, aovs, pending.pop(index)))
            done += 1
            yield Progress("render", done, plan.frame_count)

    try:
        for segment in segments:
            assembly.begin_shot(segment.start, segment.end)
            assembly.set_bars(depth.bars_for(segment))
            yield from prepare_edits(editor, clip, segment, cancel)
            staged = staged_frames(request, plan, reader, depth, clip, segment, assembly, device)
            # ~145 MB a 1080p DVG frame: one staged while this thread completes the one before, no more
            with closing_iter(stage_ahead(staged, maxsize=1, name="stage-render", handoff=True)) as ahead:
                for frame, prepared in ahead:
                    cancel.check()
                    pending[frame.index] = _Pending(frame.time - t0, export_item(prepared, exporter))
                    yield from emit((yield from assembly.refine(assembly.push(prepared))))
            yield from emit((yield from assembly.refine(assembly.flush())))
            if refiner is not None:
                refiner.finish_shot()
        for note in summarise_notes(assembly.notes):
            yield Progress("note", 0, 0, message=note)
        sink.close()
        commit_together(writers)
    except BaseException:
        sink.abandon()
        for writer in writers:
            writer.abort()
        raise


def staged_frames(request: ConvertRequest, plan: RenderPlan, reader: MediaReader, depth: DepthStage, clip: Clip,
                  segment: Segment, assembly: FrameAssembly, device: torch.device
                  ) -> Iterator[tuple[Frame, PreparedFrame]]:
    """The render pass's first stage, run in its own thread: decode (itself a thread ahead), depth read,
    grade, and the stereo renderer's per-frame work (:meth:`FrameAssembly.stage`), frame by frame in order.

    What is left for the job's thread is the temporal completion (DVG) and packing; encoding is a third
    thread. Bounded queues between them keep memory flat.
    """
    with closing_iter(prefetch(reader.frames(segment.start, segment.end), maxsize=2, name="decode-render")) as frames:
        for frame in frames:
            params = None if depth.is_disparity else params_at(request, frame.index, clip)
            prepared = assembly.prepare(frame.index, source_image(frame, plan.eye_size),
                                        depth.depth_tensor(frame.index, segment, device), params)
            yield frame, assembly.stage(prepared)


def _render_with_fallback(request: ConvertRequest, plan: RenderPlan, reader: MediaReader, depth: DepthStage,
                          clip: Clip, segments: list[Segment], device: torch.device, cancel: CancelToken,
                          exporter: DepthExporter | None, refiner: RefineStage | None = None,
                          ) -> Generator[Progress, None, DepthExporter | None]:
    """The render pass; a GPU running out of memory renders the whole pass again on the CPU, with a note.

    The failed attempt's partial master (and depth export) is removed first, as for any failure, so what
    lands is one complete render. The refiner, if any, keeps its own device (it sizes itself against free
    memory). Out of memory on the CPU, or again on the retry, is an :class:`OutputError`, one line.
    Returns the depth exporter in use (a fresh one after a retry).
    """
    try:
        yield from _render_video(request, plan, reader, depth, clip, segments, device, cancel, exporter, refiner)
        return exporter
    except torch.cuda.OutOfMemoryError as exc:
        if exporter is not None:
            exporter.abort()
        if device.type == "cpu":
            raise _out_of_memory(exc) from exc
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
        exc.__traceback__ = None  # the failed attempt's frames (and tensors) go now, not at some later GC pass
        gc.collect()
        torch.cuda.empty_cache()
        yield Progress("note", 0, 0, message=f"{device} ran out of memory ({why}): rendering again on the CPU")
    exporter = make_exporter(request, plan, reader, depth.kind)
    try:
        yield from _render_video(request, plan, reader, depth, clip, segments, torch.device("cpu"), cancel, exporter,
                                 refiner)
    except BaseException as exc:
        if exporter is not None:
            exporter.abort()
        if isinstance(exc, torch.cuda.OutOfMemoryError):
            raise _out_of_memory(exc) from exc
        raise
    return exporter


def _out_of_memory(exc: BaseException) -> OutputError:
    return OutputError("out of memory while rendering",
                       hint="Close other programs, or render a smaller size (--layout sbs-half)")


def assembly_request(request: ConvertRequest, plan: RenderPlan) -> ConvertRequest:
    """The request the frame assembly packs by: a 180° equirect source's VR180 eyes pack plain side by side
    (a fisheye source's are reprojected by the assembly, from `plan.fisheye_packing`)."""
    source = plan.vr180_source
    return replace(request, vr180=False) if source is not None and source.projection == "equirect" else request


def windows_at(clip: Clip | None, source_frame: int) -> tuple[float, float]:
    """(left, right) floating-window widths (% of eye width) of the frame's shot; (0, 0) outside shots."""
    shot = clip.shot_at(source_frame) if clip is not None else None
    return shot.window_at(source_frame) if shot is not None else (0.0, 0.0)


def export_item(prepared: PreparedFrame, exporter: DepthExporter | None) -> tuple | None:
    """What `--export-depth` writes for a frame: (index, δ before the curve or None, disparity)."""
    if exporter is None:
        return None
    delta = None if prepared.delta is None else prepared.delta[0, 0].cpu().numpy()
    return prepared.index, delta, prepared.disparity[0, 0].cpu().numpy()


def depth_editor(clip: Clip | None, reader: MediaReader, depth: DepthStage) -> ClipEditor | None:
    """The depth-edit hook for a clip's strokes (CONVENTIONS.md "Depth edits"); None when it has none.

    Flows for carrying strokes go to the depth stage's cache (in memory when it is off).
    """
    if clip is None or not any(s.strokes for s in clip.shots):
        return None
    cache = getattr(depth, "cache", None)
    return ClipEditor(clip, reader, depth.eye_size, cache, getattr(depth, "media_hash", None))


def prepare_edits(editor: ClipEditor | None, clip: Clip, segment: Segment,
                  cancel: CancelToken) -> Iterator[Progress]:
    """Before a segment renders: its shot's flows and carried strokes (nothing without strokes)."""
    shot = clip.shot_at(segment.start)
    if editor is not None and shot is not None:
        yield from editor.prepare(shot, cancel)


def summarise_notes(notes: list[str], limit: int = 5) -> list[str]:
    """Unique notes in order, at most `limit` of them plus a count of the rest."""
    unique = list(dict.fromkeys(notes))
    return unique[:limit] + ([f"... and {len(unique) - limit} more"] if len(unique) > limit else [])


def open_refiner(request: ConvertRequest, plan: RenderPlan, device: torch.device,
                 cancel: CancelToken) -> RefineStage | None:
    """The refiner stage of `request.refiner` (found, checked, loaded and sized against free memory), or None."""
    if request.refiner is None:
        return None
    return RefineStage(request.refiner, request.synthesize, plan.eye_size, device, request.depth_config.models_dir,
                       cancel)


def _convert_video(request: ConvertRequest, plan: RenderPlan, reader: MediaReader, device: torch.device,
                   cancel: CancelToken, refiner: RefineStage | None = None) -> Iterator[Progress]:
    depth = DepthStage(request, plan.eye_size, reader)
    exporter = make_exporter(request, plan, reader, depth.kind)
    try:
        clip = yield from job_clip(request, reader, plan, cancel)
        segments = segments_for(plan, clip.cuts())
        for note in bars_notes(depth, segments):
            yield Progress("note", 0, 0, message=note)
        if len(segments) > 1:
            yield Progress("note", 0, 0, message=f"{len(segments)} shots: depth is normalised per shot")
        done = 0
        yield from depth.drain_notes()
        for segment in segments:
            yield from depth.depth_pass(reader, segment, cancel, done, plan.frame_count)
            yield from depth.drain_notes()
            done += segment.end - segment.start
        exporter = yield from _render_with_fallback(request, plan, reader, depth, clip, segments, device, cancel,
                                                    exporter, refiner)
        if exporter is not None:
            exporter.finish()
            for note in exporter.notes:
                yield Progress("note", 0, 0, message=note)
    except BaseException:
        if exporter is not None:
            exporter.abort()
        raise
    finally:
        depth.close()


def write_stills_together(paths: tuple, images: list[np.ndarray], exr_bits: int = 16) -> None:
    """Write every still to a temp name first, then land them all together: all land or none does
    (an EXR with half or float channels by `exr_bits`)."""
    temps = [temp_path_beside(p) for p in paths]
    try:
        for tmp, image in zip(temps, images, strict=True):
            write_still(tmp, image, overwrite=True, exr_bits=exr_bits)
        land_together([Landing(tmp, Path(path)) for tmp, path in zip(temps, paths, strict=True)])
    except OSError as exc:
        raise OutputError(f"could not write the still ({exc.strerror or exc})", path=paths[0]) from exc
    finally:
        discard_staged(temps)


def _convert_still(request: ConvertRequest, plan: RenderPlan, reader: MediaReader, device: torch.device,
                   cancel: CancelToken, refiner: RefineStage | None = None) -> Iterator[Progress]:
    depth = DepthStage(request, plan.eye_size, reader)
    exporter = make_exporter(request, plan, reader, depth.kind)
    try:
        segment = Segment(0, 1)
        yield from depth.depth_pass(reader, segment, cancel, 0, 1)
        yield from depth.drain_notes()
        clip = project_clip(request)
        params = None if depth.is_disparity else params_at(request, 0, clip)
        image = source_image(reader.frame(0), plan.eye_size)  # an EXR to EXR: the plate's own values
        editor = None if depth.is_disparity or clip is None else depth_editor(clip, reader, depth)
        if editor is not None:
            yield from prepare_edits(editor, clip, segment, cancel)
        assembly = FrameAssembly(assembly_request(request, plan), device, editor, refiner, plan.fisheye_packing,
                                 plan.far_at_infinity)
        prepared = assembly.prepare(0, image, depth.depth_tensor(0, segment, device), params)
        if refiner is not None:
            refiner.plan([1])
        views = yield from assembly.refine_one(prepared, assembly.render_one(prepared))
        cancel.check()
        if exporter is not None:
            exporter.write(*export_item(prepared, exporter))
        write_stills_together(plan.outputs, assembly.packed(views, plan.image_bits, windows=windows_at(clip, 0)),
                              exr_bits=32 if reader.info.video.bit_depth > 16 else 16)
        if exporter is not None:
            exporter.finish()
        yield Progress("render", 1, 1)
    except BaseException:
        if exporter is not None:
            exporter.abort()
        raise
    finally:
        depth.close()


def convert(request: ConvertRequest, cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Run one conversion, yielding Progress; raises engine.errors on bad input or output."""
    cancel = cancel or CancelToken()
    request = with_project_media(request)
    with open_media(request.input, scene=renders_scene(request), **media_options(request)) as reader:
        plan = plan_convert(request, reader)
        for note in plan.notes:
            yield Progress("note", 0, 0, message=note)
        device = resolve_device(request.device)
        refiner = open_refiner(request, plan, device, cancel)
        if plan.vr180_source is not None and plan.vr180_source.is_stereo:  # already stereo 180°: eyes passed through
            yield from pass_stereo_through(request, plan, reader, device, cancel)
            return
        run = _convert_still if plan.is_still else _convert_video
        yield from run(request, plan, reader, device, cancel, refiner)


__all__ = ["ConvertRequest", "EncodeSettings", "PerFrameStereo", "Segment", "convert", "depth_to_tensor",
           "eye_image", "job_clip", "make_stereo_renderer", "params_at", "segments_for", "to_image", "to_tensor"]
