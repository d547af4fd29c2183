"""`spatialdreamer render PROJECT`: a project's clip rendered in resumable chunks, then one master.

    for p in render(RenderRequest(project_path, convert=ConvertRequest(input=None, project=p, ...))): ...

1. plan: the chosen shots within the frame range, cut into chunks (:mod:`engine.jobs.render_chunks`);
2. per shot, analysis: depth, stabilisation and the shot's δ range into the shared depth cache (the
   same entries `convert` and the studio use — δ is normalised over the whole shot);
3. per chunk: the frames through the one per-frame assembly (engine/jobs/frame.py) into an
   intermediate `.mkv` (the master's codec when it can be stream-copied, else lossless FFV1 RGB),
   committed in the manifest with its size and digest. DVG's temporal state is saved at the end of a
   chunk; the next chunk of the shot continues from it, or — when it is missing or damaged — warms up
   from the shot start. Either way a chunk's frames are bit-identical to the same frames of an
   unchunked render;
4. the master, with the source's audio, colour tags, timecode and stereo metadata (the same writer as
   `convert`): ProRes and FFV1 masters by stream copy of the chunks (written in the master's codec;
   ProRes packets are byte-identical to a one-pass encode), H.264 / HEVC by one encode pass from
   lossless FFV1 chunks.

Rerunning resumes from the manifest (committed chunks whose files check out are kept; a damaged one
is re-rendered); a finished render answers "up to date". `chunk` renders one chunk (farm tasks),
`assemble` only joins committed chunks.

With the diffusion refiner (`--refiner`, or the project's render settings) a chunk is a whole shot
(the part of it inside `--frames`): the refiner's temporal windows are seeded and blended from the
shot's first frame, so they cannot be cut; the farm then spreads shots over its workers, and a worker
(:class:`HeldJob`) loads the refiner once for all its chunks. The frames are those of `convert
--project` with the same refiner.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import av
import numpy as np
import torch

from engine.device import resolve_device
from engine.document import Clip
from engine.errors import InputError, OutputError, UsageError
from engine.farm.path_map import map_project_media
from engine.fileio import refuse_inputs_as_outputs, temp_path_beside
from engine.jobs.convert import (
    DepthStage,
    Segment,
    assembly_request,
    depth_editor,
    open_refiner,
    params_at,
    prepare_edits,
    project_clip,
    windows_at,
)
from engine.jobs.frame import FrameAssembly, eye_image
from engine.jobs.plan import RenderPlan, job_inputs, output_paths, plan_convert, spatial_metadata
from engine.jobs.refine import RefineStage, find_refiner
from engine.jobs.render_chunks import (
    Chunk,
    Manifest,
    digest_matches,
    file_digest,
    fingerprint,
    plan_chunks,
    remove_dead_partials,
    valid_commit,
)
from engine.jobs.request import ConvertRequest, with_project_media
from engine.media import EncodeSettings, MediaReader, VideoWriter, commit_together, open_media
from engine.progress import CancelToken, Progress

DEFAULT_CHUNK_FRAMES = 48
STATE_VERSION = 2  # 2: the DVG window without per-eye target disparities (TemporalStereo.snapshot version 2)
# masters whose chunks are written in the master's own codec and joined by stream copy: every ProRes
# frame is intra-coded, and an FFV1 stream restarts cleanly at a chunk's first (key) frame. H.264 / HEVC
# chunks would restart rate control and the look-ahead at every chunk: those masters get one encode pass.
STREAM_COPY_CODECS = ("prores", "ffv1")


@dataclass(frozen=True)
class RenderRequest:
    """A chunked project render.

    Attributes:
        convert: the picture and encode settings (project, clip, layout, codec, grade …); its `output`
            is the master (`pair`: `<stem>_L` / `_R`).
        shots: shot numbers (1-based) to render; None = all.
        frames: source frames [start, end) (either None = open).
        chunk_frames: frames per chunk (a shot's tail shorter than DVG's look-ahead joins its chunk).
        chunk: render only this chunk (its id, or its 1-based number in the plan; a farm task); no master.
        analyse_shot: only analyse this shot (number from 1) into the shared cache (a farm task).
        assemble_only: join the committed chunks into the master; render nothing.
        work_dir: the chunk folder (default: `.<master name>.render` beside the master).
        project_file: the project file the request was loaded from (never written over).
        path_map: (FROM, TO) prefixes applied to the media paths stored in the project (`--path-map`:
            a project written on a machine that mounts the shared storage elsewhere).
    """

    convert: ConvertRequest
    shots: tuple[int, ...] | None = None
    frames: tuple[int | None, int | None] | None = None
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    chunk: str | None = None
    analyse_shot: int | None = None
    assemble_only: bool = False
    work_dir: Path | None = None
    project_file: Path | None = None
    path_map: tuple[tuple[str, str], ...] = ()

    @property
    def output(self) -> Path:
        if self.convert.output is None:
            raise UsageError("render needs -o MASTER")
        return Path(self.convert.output)

    def folder(self) -> Path:
        out = self.output
        return Path(self.work_dir) if self.work_dir is not None else out.with_name(f".{out.name}.render")


@dataclass(frozen=True)
class RenderReport:
    """What a render did: chunk ids rendered now, kept from earlier runs, re-rendered as damaged."""

    chunks: tuple[str, ...]
    rendered: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    damaged: tuple[str, ...] = ()
    master: tuple[Path, ...] = ()
    up_to_date: bool = False
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default=())


def check_request(request: RenderRequest) -> ConvertRequest:
    """The convert request a render uses (media from the project's clip), refused when it cannot be chunked."""
    c = request.convert
    if c.project is None:
        raise UsageError("render needs a project", hint="Make one with `spatialdreamer project new MEDIA -o P.sdproj`")
    if c.export_depth is not None or c.export_holes is not None:
        raise UsageError("render does not export depth or holes", hint="Use `spatialdreamer convert --project`")
    if not c.use_cache and c.depth is None:
        raise UsageError("render keeps each shot's analysis in the shared depth cache; it cannot run with --no-cache",
                         hint="Leave out --no-cache (point --cache-dir at shared storage on a farm)")
    if c.start is not None or c.end is not None:
        raise UsageError("render takes --frames START:END (source frames), not --start/--end")
    c = with_project_media(replace(c, shots="off", project=map_project_media(c.project, request.path_map)))
    inputs = job_inputs(c) + ((Path(request.project_file),) if request.project_file is not None else ())
    refuse_inputs_as_outputs(output_paths(request.output, c.layout), inputs)
    if not Path(c.input).is_file():
        raise InputError("the clip's media is missing on this machine", path=c.input,
                         hint="Relink the clip, or map the shared storage path")
    return c


class _Job:
    """Everything one process needs to render chunks of one clip: reader, depth stage, plan."""

    def __init__(self, request: RenderRequest, convert: ConvertRequest, reader: MediaReader) -> None:
        self.request, self.convert, self.reader = request, convert, reader
        self.clip: Clip = project_clip(convert)
        if self.clip.frame_count != len(reader):
            raise InputError(f"the media has {len(reader)} frames but clip {self.clip.id} of the project "
                             f"has {self.clip.frame_count}", path=convert.input, hint="Relink the clip")
        if not self.clip.shots:
            raise UsageError(f"clip {self.clip.id} has no shots", hint="Cut it with `spatialdreamer project new`")
        self.device = resolve_device(convert.device)
        self.lag = convert.dvg.neighbours if convert.temporal else 0
        # with the refiner a chunk is a whole shot: its windows are seeded and blended from the shot start
        per_chunk = request.chunk_frames if convert.refiner is None else max(self.clip.frame_count, 1)
        self.chunks = plan_chunks(self.clip, request.shots, request.frames, per_chunk, self.lag)
        self._refine_stage: RefineStage | None = None  # loaded at the first chunk, kept (HeldJob)
        if convert.refiner is not None:  # a missing or incomplete refiner is said before any work
            from engine.models import resolve_models_dir
            from engine.refiner.models.loading import check_pipeline_folder

            check_pipeline_folder(find_refiner(convert.refiner.model,
                                               resolve_models_dir(convert.depth_config.models_dir)[0]))
        self.folder = request.folder()
        if not request.output.parent.is_dir():
            raise OutputError("the master's folder does not exist", path=request.output.parent, hint="Create it first")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the render folder ({exc.strerror or exc})", path=self.folder) from exc
        first, last = self.chunks[0].start, self.chunks[-1].end
        self.contiguous = all(a.end == b.start for a, b in zip(self.chunks, self.chunks[1:], strict=False))
        span = replace(convert, start=f"{first}f", end=f"{last}f", output=self.folder / "plan.mkv", overwrite=True)
        self.plan: RenderPlan = plan_convert(span, reader)
        self.depth = DepthStage(convert, self.plan.eye_size, reader)
        self.editor = None if self.depth.is_disparity else depth_editor(self.clip, reader, self.depth)
        self.bit_depth = convert.encode.bit_depth
        self.copy = convert.encode.codec in STREAM_COPY_CODECS
        # chunk files: the master's codec (stream copy) or lossless FFV1 (one encode pass at the end);
        # stream-copied chunks carry the source's colour tags (not its audio: the master does)
        # (16-bit FFV1 for 10-bit masters: the encode pass then gets exactly the frames convert encodes)
        self.intermediate = convert.encode if self.copy else EncodeSettings(
            codec="ffv1", bit_depth=16 if self.bit_depth > 8 else 8)
        self.chunk_source = replace(reader.info, audio=()) if self.copy else None
        self.header = {"project_name": convert.project.name, "clip": self.clip.id, "media": str(convert.input),
                       "lag": self.lag, "chunk_frames": request.chunk_frames, "fingerprint": self._fingerprint()}

    def _fingerprint(self) -> str:
        """Everything that decides a chunk's pixels (not the master's codec; not machine paths)."""
        c = self.convert
        shots = sorted({ch.shot for ch in self.chunks})
        depth_config = {k: v for k, v in asdict(c.depth_config).items() if k not in ("models_dir", "device")}
        from engine.document.schema import shot_to_dict  # light, pure

        return fingerprint({
            "media": self.depth.media_hash if getattr(self.depth, "media_hash", None) else str(c.input),
            "shots": {n: shot_to_dict(self.clip.shots[n - 1]) for n in shots},
            "params": c.params, "layout": c.layout, "synthesize": c.synthesize, "temporal": c.temporal,
            "dvg": c.dvg, "swap_eyes": c.swap_eyes, "depth": c.depth, "depth_config": depth_config,
            "stabilise": c.stabilise, "max_width": c.max_width, "bit_depth": self.bit_depth,
            "bars": c.bars, "vr180": c.vr180, "tonemap": c.tonemap and self.copy,
            **({"vr180_input": c.vr180_input} if c.vr180_input != "auto" else {}),
            "frame_size": self.plan.frame_size, "padding": self.plan.padding,
            "intermediate": asdict(self.intermediate), "chunks": [ch.id for ch in self.chunks],
            # the refiner by its settings and folder name (a worker may see the folder elsewhere: --path-map)
            "refiner": {**asdict(c.refiner), "model": Path(c.refiner.model).name} if c.refiner is not None else None,
            "engine": 1})

    # -- files of a chunk ---------------------------------------------------------------------

    def files(self, chunk: Chunk) -> list[Path]:
        names = ("_L", "_R") if self.convert.layout == "pair" else ("",)
        return [self.folder / f"{chunk.id}{n}.mkv" for n in names]

    def state_path(self, chunk: Chunk) -> Path:
        return self.folder / f"{chunk.id}.state.pt"

    # -- analysis -------------------------------------------------------------------------------

    def analyse(self, chunk: Chunk, cancel: CancelToken) -> Iterator[Progress]:
        """The shot's depth and δ range into the cache (a cache read when it is there)."""
        segment = Segment(chunk.shot_start, chunk.shot_end)
        if segment.start not in self.depth.normalisers:
            yield from self.depth.depth_pass(self.reader, segment, cancel, 0, len(self.clip.shots[chunk.shot - 1]))
            yield from self.depth.drain_notes()

    # -- one chunk ------------------------------------------------------------------------------

    def _previous_state(self, chunk: Chunk, manifest: dict) -> dict | None:
        """The DVG state the previous chunk of the shot saved, when committed and intact."""
        if chunk.first_in_shot or not self.lag:
            return None
        prev = next((c for c in self.chunks if c.end == chunk.start and c.shot == chunk.shot), None)
        record = manifest["committed"].get(prev.id) if prev is not None else None
        if prev is None:  # the chunk before is not part of this plan (another --frames); look in the manifest
            record = next((r for cid, r in manifest["committed"].items()
                           if r.get("end") == chunk.start and r.get("shot") == chunk.shot), None)
        state = record.get("state") if record else None
        if not state or not digest_matches(self.folder, state):
            return None
        try:
            data = torch.load(self.folder / state["name"], map_location=self.device, weights_only=False)
        except Exception:
            return None
        return data if isinstance(data, dict) and data.get("version") == STATE_VERSION else None

    def refine_stage(self, cancel: CancelToken) -> RefineStage | None:
        """The refiner (found, checked against free memory, loaded once per job), or None."""
        if self.convert.refiner is None:
            return None
        if self._refine_stage is None:
            self._refine_stage = open_refiner(self.convert, self.plan, self.device, cancel)
        self._refine_stage.cancel = cancel
        return self._refine_stage

    def render_chunk(self, chunk: Chunk, manifest: dict, cancel: CancelToken) -> Iterator[Progress]:
        """Render `chunk` into its intermediate(s), save the DVG state, commit it in the manifest."""
        t0 = time.perf_counter()
        yield from self.analyse(chunk, cancel)
        segment = Segment(chunk.shot_start, chunk.shot_end)
        assembly = FrameAssembly(assembly_request(self.convert, self.plan), self.device, self.editor,
                                 fisheye=self.plan.fisheye_packing, far_at_infinity=self.plan.far_at_infinity)
        assembly.set_bars(self.depth.bars_for(segment))  # the shot's bars, found as convert finds them
        refiner = self.refine_stage(cancel)
        if refiner is not None:  # the chunk is the shot's part [start, end): the windows of convert's segment
            refiner.begin_shot(chunk.start, chunk.end)
            refiner.plan([chunk.frames])
        yield from prepare_edits(self.editor, self.clip, segment, cancel)
        state = self._previous_state(chunk, manifest)
        if state is not None:
            assembly.stereo.restore(state["dvg"])
            first = state["pushed"] + 1
        else:
            first = chunk.shot_start  # warm up: frames before the chunk run through DVG but are not written
        last = min(chunk.end - 1 + self.lag, chunk.shot_end - 1)
        fps = self.reader.info.video.fps
        w, h = self.plan.frame_size
        writers = [VideoWriter(p, width=w, height=h, fps=fps, settings=self.intermediate, source=self.chunk_source,
                               overwrite=True, tonemap=self.copy and self.convert.tonemap) for p in self.files(chunk)]
        written = 0

        def refined(ready) -> Generator[Progress, None, list]:
            """The chunk's frames among `ready`, through the refiner when there is one (warm-up frames
            before the chunk and look-ahead frames after it are not the refiner's)."""
            if refiner is None:
                return ready
            return (yield from refiner.push([(i, v) for i, v in ready if chunk.start <= i < chunk.end]))

        def emit(ready) -> Iterator[Progress]:
            nonlocal written
            for index, views in (yield from refined(ready)):
                if chunk.start <= index < chunk.end:
                    for writer, image in zip(writers, assembly.packed(views, self.bit_depth, self.plan.padding,
                                                                      windows_at(self.clip, index)), strict=True):
                        writer.write(image)
                    written += 1
                    yield Progress("render", written, chunk.frames, message=chunk.id)

        try:
            for frame in self.reader.frames(first, last + 1):
                cancel.check()
                params = None if self.depth.is_disparity else params_at(self.convert, frame.index, self.clip)
                prepared = assembly.prepare(frame.index, eye_image(frame.image, self.plan.eye_size),
                                            self.depth.depth_tensor(frame.index, segment, self.device), params)
                if refiner is not None and chunk.start <= frame.index < chunk.end:
                    refiner.add_source(frame.index, prepared.image)
                yield from emit(assembly.push(prepared))
            state_record = None
            if last == chunk.shot_end - 1:
                yield from emit(assembly.flush())
            elif self.lag and refiner is None:
                state_record = self._save_state(chunk, assembly, last)
            if refiner is not None:
                refiner.finish_shot()
            if written != chunk.frames:
                raise OutputError(f"chunk {chunk.id} produced {written} of {chunk.frames} frames", path=self.folder)
            commit_together(writers)
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        record = {"shot": chunk.shot, "start": chunk.start, "end": chunk.end, "frames": written,
                  "files": [file_digest(p) for p in self.files(chunk)], "state": state_record,
                  "host": socket.gethostname(), "pid": os.getpid(), "seconds": round(time.perf_counter() - t0, 3)}
        Manifest(self.folder).commit(chunk, record)

    def _save_state(self, chunk: Chunk, assembly: FrameAssembly, pushed: int) -> dict:
        path = self.state_path(chunk)
        tmp = temp_path_beside(path)
        try:
            torch.save({"version": STATE_VERSION, "pushed": pushed, "dvg": assembly.stereo.snapshot()}, tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return file_digest(path)

    # -- the master -----------------------------------------------------------------------------

    def master_fingerprint(self) -> str:
        c = self.convert
        return fingerprint({"chunks": self.header["fingerprint"], "encode": c.encode, "stereo": self.plan.stereo_mode,
                            "outputs": [p.name for p in self.plan_outputs()]})  # names: a farm's paths differ

    def plan_outputs(self) -> tuple[Path, ...]:
        return output_paths(self.request.output, self.convert.layout)

    def assemble(self, cancel: CancelToken) -> Iterator[Progress]:
        """The master from the committed chunks, in order, with the source's audio and tags: their
        packets stream-copied (chunks in the master's codec, all with the same codec parameters), else
        their frames decoded and encoded once."""
        c = self.convert
        w, h = self.plan.frame_size
        outputs = self.plan_outputs()
        audio = self.plan.audio_range if self.contiguous else None
        info = self.reader.info
        templates = self._copy_templates() if self.copy else None
        if self.copy and templates is None:
            yield Progress("note", 0, 0, message="the chunks' codec parameters differ (workers with other FFmpeg "
                                                 "builds?): the master is encoded from their frames")
        writers: list[VideoWriter] = []
        try:
            for k, p in enumerate(outputs):
                template = _open_template(templates[k]) if templates else None
                try:
                    writers.append(VideoWriter(p, width=w, height=h, fps=info.video.fps, settings=c.encode,
                                               source=info, audio_range=audio, stereo_mode=self.plan.stereo_mode,
                                               overwrite=c.overwrite,
                                               template=template.streams.video[0] if template else None,
                                               projection="vr180" if c.vr180 else None, tonemap=c.tonemap,
                                               spatial=spatial_metadata(c)))
                finally:
                    if template is not None:
                        template.close()
            t0 = self.reader.time_of(self.chunks[0].start)
            total = sum(ch.frames for ch in self.chunks)
            done = 0
            read = _packets if templates else (lambda path: _decode(path, self.bit_depth))
            for chunk in self.chunks:
                streams = [read(p) for p in self.files(chunk)]
                for index in range(chunk.start, chunk.end):
                    cancel.check()
                    when = self.reader.time_of(index) - t0 if self.contiguous else None
                    for writer, stream in zip(writers, streams, strict=True):
                        item = next(stream, None)
                        if item is None:
                            raise OutputError(f"chunk {chunk.id} is short of frame {index}", path=self.folder,
                                              hint="Rerun the render: the chunk is re-rendered")
                        if templates:
                            writer.write_packet(item, when)
                        else:
                            writer.write(item, when)
                    done += 1
                    yield Progress("assemble", done, total)
                for stream in streams:
                    if next(stream, None) is not None:
                        raise OutputError(f"chunk {chunk.id} has more frames than its range", path=self.folder,
                                          hint="Rerun the render: the chunk is re-rendered")
            commit_together(writers)
        except BaseException:
            for writer in writers:
                writer.abort()
            raise
        if not self.contiguous and info.audio:
            yield Progress("note", 0, 0, message="the chosen shots are not contiguous: the master has no audio")


    def _copy_templates(self) -> list[Path] | None:
        """Per output, the chunk file whose stream the master copies: when every chunk of that output
        has the same codec, size, pixel format and extradata; None otherwise (encode instead)."""
        per_output = list(zip(*(self.files(ch) for ch in self.chunks), strict=True))
        templates = []
        for files in per_output:
            params = {_stream_params(p) for p in files}
            if len(params) != 1:
                return None
            templates.append(files[0])
        return templates


def _open_template(path: Path):
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        raise OutputError(f"cannot read the chunk ({exc})", path=path,
                          hint="Rerun the render: a damaged chunk is re-rendered") from exc


def _stream_params(path: Path) -> tuple:
    """What must match for packets of `path` to continue another chunk's stream."""
    with _open_template(path) as container:
        ctx = container.streams.video[0].codec_context
        return ctx.name, ctx.width, ctx.height, ctx.pix_fmt, bytes(ctx.extradata or b"")


def _packets(path: Path) -> Iterator[av.Packet]:
    """The encoded frames of a chunk, in order (stream copy)."""
    try:
        with av.open(str(path)) as container:
            for packet in container.demux(video=0):
                if packet.size:
                    yield packet
    except av.FFmpegError as exc:
        raise OutputError(f"cannot read the chunk ({exc})", path=path,
                          hint="Rerun the render: a damaged chunk is re-rendered") from exc


def _decode(path: Path, bit_depth: int) -> Iterator[np.ndarray]:
    """RGB frames of a lossless intermediate, exactly as they were written."""
    fmt = "rgb48le" if bit_depth > 8 else "rgb24"
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format=fmt)
    except av.FFmpegError as exc:
        raise OutputError(f"cannot read the chunk ({exc})", path=path,
                          hint="Rerun the render: a damaged chunk is re-rendered") from exc


def plan_render(request: RenderRequest) -> tuple[Chunk, ...]:
    """The chunks of `request` (its manifest started, so workers share one header); no rendering."""
    convert = check_request(request)
    with open_media(convert.input) as reader:
        job = _Job(request, convert, reader)
        try:
            Manifest(job.folder).start(job.header, job.chunks)
            return job.chunks
        finally:
            job.depth.close()


def render(request: RenderRequest, cancel: CancelToken | None = None,
           held: HeldJob | None = None) -> Iterator[Progress]:
    """Render the project in chunks (or one chunk, or only assemble); a generator of Progress whose
    return value is a :class:`RenderReport`. `held` keeps the media open and the depth model loaded
    for the next call with the same request (a farm actor's chunks)."""
    cancel = cancel or CancelToken()
    t_start = time.perf_counter()
    convert = check_request(request)
    if held is not None:
        return (yield from _render(held.job(request, convert), request, convert, cancel, t_start))
    with open_media(convert.input) as reader:
        job = _Job(request, convert, reader)
        try:
            return (yield from _render(job, request, convert, cancel, t_start))
        finally:
            job.depth.close()


class HeldJob:
    """A reader and a :class:`_Job` (depth stage: model, stabiliser, cache handles) kept open across
    :func:`render` calls for the same request that differ only in the chunk asked for — what a farm
    actor holds so that a learned depth model is loaded once per worker, not once per chunk."""

    def __init__(self) -> None:
        self._key: RenderRequest | None = None
        self._job: _Job | None = None
        self.opened = 0  # how many times a job was built (tests, benchmarks)

    def job(self, request: RenderRequest, convert: ConvertRequest) -> _Job:
        # the same request object's settings (compared by identity: a project may hold arrays)
        key = replace(request, chunk=None, analyse_shot=None, assemble_only=False)
        same = (self._key is not None and self._key.convert is request.convert
                and replace(self._key, convert=None) == replace(key, convert=None))
        if self._job is None or not same:
            self.close()
            reader = open_media(convert.input)
            try:
                self._job = _Job(request, convert, reader)
            except BaseException:
                reader.close()
                raise
            self._key = key
            self.opened += 1
        return self._job

    def close(self) -> None:
        if self._job is not None:
            self._job.depth.close()
            self._job.reader.close()
        self._job = self._key = None


def _render(job: _Job, request: RenderRequest, convert: ConvertRequest, cancel: CancelToken,
            t_start: float) -> Iterator[Progress]:
    manifest_store = Manifest(job.folder)
    manifest, notes = manifest_store.start(job.header, job.chunks)
    for note in notes:
        yield Progress("note", 0, 0, message=note)
    removed = remove_dead_partials(job.folder)
    if removed:
        yield Progress("note", 0, 0, message=f"removed {len(removed)} partial file(s) of dead workers")
    ids = tuple(c.id for c in job.chunks)
    if request.analyse_shot is not None:
        chunk = next((c for c in job.chunks if c.shot == request.analyse_shot), None)
        if chunk is None:
            raise UsageError(f"shot {request.analyse_shot} is not part of this render's plan")
        yield from job.analyse(chunk, cancel)
        return RenderReport(ids, seconds=time.perf_counter() - t_start)
    if request.chunk is not None:
        number = int(request.chunk) if request.chunk.isdigit() else 0
        chunk = (job.chunks[number - 1] if 1 <= number <= len(job.chunks) else
                 next((c for c in job.chunks if c.id == request.chunk), None))
        if chunk is None:
            raise UsageError(f"no chunk {request.chunk!r} in this render's plan",
                             hint="List the chunks with `spatialdreamer render --emit json`")
        if valid_commit(job.folder, manifest["committed"].get(chunk.id)):
            return RenderReport(ids, kept=(chunk.id,), up_to_date=True,
                                seconds=time.perf_counter() - t_start)
        yield from job.render_chunk(chunk, manifest, cancel)
        return RenderReport(ids, rendered=(chunk.id,), seconds=time.perf_counter() - t_start)
    outputs = job.plan_outputs()
    master = manifest.get("master")
    if (master and master.get("fingerprint") == job.master_fingerprint()
            and all(digest_matches(p.parent, r) for p, r in zip(outputs, master["files"], strict=False))
            and len(master["files"]) == len(outputs)):
        return RenderReport(ids, kept=ids, master=outputs, up_to_date=True,
                            seconds=time.perf_counter() - t_start)
    if not convert.overwrite:
        for p in outputs:
            if p.exists():
                raise OutputError("already exists", path=p, hint="Pass --overwrite to replace it")
    kept, damaged, rendered = [], [], []
    for c in job.chunks:
        record = manifest["committed"].get(c.id)
        if valid_commit(job.folder, record):
            kept.append(c.id)
        elif record is not None:
            damaged.append(c.id)
    if damaged:
        manifest_store.forget(damaged)
        for cid in damaged:
            manifest["committed"].pop(cid, None)
        yield Progress("note", 0, 0, message=f"{len(damaged)} committed chunk(s) failed their check "
                                             "and are rendered again")
    if kept:
        yield Progress("note", 0, 0, message=f"resuming: {len(kept)} of {len(ids)} chunks already committed")
    if request.assemble_only and len(kept) < len(ids):
        missing = [cid for cid in ids if cid not in kept]
        raise OutputError(f"{len(missing)} chunk(s) are not committed yet (first: {missing[0]})",
                          path=job.folder, hint="Render them first (`spatialdreamer render --chunk ID`)")
    todo = [c for c in job.chunks if c.id not in kept]
    total = sum(c.frames for c in todo)
    done = 0
    for c in todo:
        for p in job.render_chunk(c, manifest_store.read(), cancel):
            yield Progress(p.stage, done + p.done, total, p.message) if p.stage == "render" else p
        done += c.frames
        rendered.append(c.id)
    yield from job.assemble(cancel)
    manifest_store.set_master({"fingerprint": job.master_fingerprint(),
                               "files": [file_digest(p) for p in outputs]})
    return RenderReport(ids, rendered=tuple(rendered), kept=tuple(kept), damaged=tuple(damaged),
                        master=outputs, seconds=time.perf_counter() - t_start)
