"""`spatialdreamer eval`: score a stereo master against its source (and a ground-truth other view).

Streams the output, the source and the optional ground truth / hole masks side by side, one
frame at a time (bounded memory), and reports:

- E_warp (Lai et al. 2018, see :mod:`engine.metrics.ewarp`) of the source, of the left eye and
  of the right eye, each with flow computed on itself, and each eye's ratio to the source's —
  a ratio near 1 means the conversion added no temporal instability;
- with hole masks (``holes``): E_warp restricted to the scored eye's holes and the flicker
  inside its fills;
- with a ground-truth view: PSNR / SSIM of the scored eye against it (per-frame, averaged),
  the same for the untouched source as a do-nothing baseline, and, with hole masks, both
  restricted to the holes (the disoccluded pixels, where filling decides the result). SSIM here
  is the mean of the whole SSIM map (edges by reflection): the usual figure leaves a 5-px border
  out, which would hide the disocclusion strip a synthesised eye has at its frame edge.

Half layouts are stretched back to the eye size (the master squeezed with an area filter; we
stretch with bilinear interpolation), so their scores include that round trip. When the master's
eyes are smaller than the source (``--max-width``), the source and ground truth are area-resized
to the eye size.
"""

from __future__ import annotations

import json
import math
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.document import parse_time
from engine.errors import InputError, UsageError
from engine.flow import FlowConfig, to_gray
from engine.jobs.plan import check_outputs_writable, output_paths
from engine.media import STILL_EXTENSIONS, MediaReader, open_media, write_still
from engine.metrics.ewarp import EWARP_FLOW, EwarpAccumulator, RunningMean
from engine.metrics.image import as_unit_float, psnr, ssim_map
from engine.metrics.slices import XtSlice, side_by_side
from engine.metrics.unpack import HALF_LAYOUTS, check_layout, crop_eye, infer_eye_size, resize_area, unpack
from engine.opencv import cv2
from engine.progress import CancelToken, Progress
from engine.vocabulary import EVAL_EYES as EYES

EVAL_SCHEMA = "EvalReport.1"
SEQUENCES = ("source", "left", "right")
IMAGE_ROWS = ("psnr", "ssim", "psnr_holes", "ssim_holes", "psnr_source", "ssim_source")

ROW_MEANINGS = {
    "ewarp_source": "E_warp of the source (Lai et al. 2018; lower is steadier)",
    "ewarp_left": "E_warp of the left eye",
    "ewarp_right": "E_warp of the right eye",
    "ewarp_ratio_left": "left eye / source (1 = no added instability)",
    "ewarp_ratio_right": "right eye / source",
    "ewarp_holes": "E_warp of the scored eye over holes at t or t+1",
    "fill_flicker": "mean |I_t - warp(I_t+1)| inside fills of the scored eye",
    "psnr": "PSNR (dB) of the scored eye vs the ground truth",
    "ssim": "SSIM of the scored eye vs the ground truth (whole frame)",
    "psnr_holes": "PSNR (dB) over the eye's holes (disocclusions)",
    "ssim_holes": "SSIM over the eye's holes (disocclusions)",
    "psnr_source": "baseline: PSNR (dB) of the untouched source vs the ground truth",
    "ssim_source": "baseline: SSIM of the untouched source vs the ground truth",
}


@dataclass(frozen=True)
class EvalRequest:
    """What to score.

    Attributes:
        output: the stereo master (for ``pair``: the name given to convert, ``out.mp4`` for
            ``out_L.mp4`` / ``out_R.mp4``).
        source: the monocular clip it was rendered from.
        layout: how the master is packed: sbs-full | sbs-half | tb-full | tb-half | pair.
        eye: the eye scored against the ground truth and the hole masks (E_warp: both eyes).
        ground_truth: a video (or still) of the real view of `eye`, aligned with the source
            (same frame count; or already trimmed to the output's frames).
        holes: per-frame hole masks of `eye` (video or still, white = hole), one per output frame.
        swap_eyes: the master has the right eye first (rendered with --swap-eyes).
        slice_row, slice_out: write the x–t slice of this row (eye coordinates) as a PNG:
            source | left | right.
        max_frames: score at most this many frames from the start of the range.
        start, end: the source range the master was rendered from, as convert's --start/--end.
        flow: DIS settings for E_warp.
        flow_reference: a video (or still) registered with `eye`, aligned with the source like
            `ground_truth` (e.g. the real view, or the same eye of another master): the scored
            eye's E_warp, hole E_warp and fill flicker use the flow computed on it instead of on
            the eye itself, so two masters can be compared under one flow (Lai et al.'s protocol).
            The source and the other eye keep their own flow.
        overwrite: replace an existing slice image.
    """

    output: Path
    source: Path
    layout: str = "sbs-full"
    eye: str = "right"
    ground_truth: Path | None = None
    holes: Path | None = None
    swap_eyes: bool = False
    slice_row: int | None = None
    slice_out: Path | None = None
    max_frames: int | None = None
    start: str | None = None
    end: str | None = None
    flow: FlowConfig = EWARP_FLOW
    flow_reference: Path | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class EvalReport:
    """The scores of one master (None where a figure needs what was not given).

    Attributes:
        rows: headline figures by name (see ROW_MEANINGS), in table order.
        sequences: per sequence (source / left / right) the E_warp accumulator's full result.
        frames: frames scored; eye_size: (width, height) of one eye.
        notes: what the figures do and do not include.
    """

    rows: dict[str, float | None]
    output: str
    source: str
    layout: str
    eye: str
    frames: int
    eye_size: tuple[int, int]
    ground_truth: str | None = None
    holes: str | None = None
    slice_path: str | None = None
    flow: FlowConfig = EWARP_FLOW
    flow_reference: str | None = None
    sequences: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``"schema": "EvalReport.1"``; non-finite figures (an infinite PSNR
        of identical frames) become null, as JSON has no infinity."""
        return {"schema": EVAL_SCHEMA, "output": self.output, "source": self.source, "layout": self.layout,
                "eye": self.eye, "ground_truth": self.ground_truth, "holes": self.holes,
                "frames": self.frames,
                "eye_size": list(self.eye_size), "flow": asdict(self.flow),
                "flow_reference": self.flow_reference, "metrics": _finite(self.rows),
                "sequences": {k: _finite(v) for k, v in self.sequences.items()}, "slice": self.slice_path,
                "notes": list(self.notes)}

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def format_table(self) -> str:
        """The rows as an aligned text table: metric, value, meaning."""
        width = max(len(k) for k in self.rows) if self.rows else 6
        lines = [f"{'metric':<{width}}  {'value':>10}  meaning"]
        lines += [f"{k:<{width}}  {_fmt(v):>10}  {ROW_MEANINGS.get(k, '')}" for k, v in self.rows.items()]
        return "\n".join(lines)


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.4f}" if abs(value) >= 0.1 else f"{value:.3e}"


@dataclass
class _Inputs:
    """Open readers and the checked geometry of one evaluation.

    Attributes:
        start: the source frame of the output's first frame.
        output_frames: frames in the output; count: frames scored (at most --max-frames).
    """

    source: MediaReader
    outputs: list[MediaReader]
    start: int
    output_frames: int
    count: int
    eye_size: tuple[int, int]
    ground_truth: MediaReader | None = None
    gt_start: int = 0
    holes: MediaReader | None = None
    reference: MediaReader | None = None
    ref_start: int = 0
    notes: list[str] = field(default_factory=list)


def _check_request(request: EvalRequest) -> None:
    """Refuse inconsistent requests before any file is opened."""
    check_layout(request.layout)
    if request.eye not in EYES:
        raise UsageError(f"unknown eye {request.eye!r}", hint="Use left or right")
    if request.max_frames is not None and request.max_frames < 1:
        raise UsageError(f"--max-frames must be at least 1, got {request.max_frames}")
    if (request.slice_row is None) != (request.slice_out is None):
        raise UsageError("--slice-row and --slice-out go together", hint="Give both, e.g. --slice-row 240 "
                         "--slice-out slice.png")
    if request.slice_out is not None:
        if request.slice_out.suffix.lower() not in STILL_EXTENSIONS:
            raise UsageError("the slice is an image", path=request.slice_out, hint="Name it .png")
        if request.slice_row < 0:
            raise UsageError(f"--slice-row must be >= 0, got {request.slice_row}")
        reads = (request.output, *output_paths(request.output, "pair"), request.source, request.ground_truth,
                 request.holes, request.flow_reference)
        check_outputs_writable((request.slice_out,), request.overwrite, tuple(p for p in reads if p is not None))


def _source_range(request: EvalRequest, reader: MediaReader) -> tuple[int, int]:
    """[start, end) of the source that the master covers (convert's --start / --end rules)."""
    info = reader.info.video

    def resolve(text: str) -> int:
        return parse_time(text).resolve(info.fps, reader.index_at_time, info.start_timecode)

    start = resolve(request.start) if request.start else 0
    end = min(resolve(request.end), info.frame_count) if request.end else info.frame_count
    if not 0 <= start < end:
        raise UsageError(f"the range --start {request.start or 0} --end {request.end or 'end'} holds no "
                         f"frame (source has {info.frame_count} frames)")
    return start, end


def _size(reader: MediaReader) -> tuple[int, int]:
    return reader.info.video.width, reader.info.video.height


def _open_outputs(request: EvalRequest, stack: ExitStack) -> list[MediaReader]:
    paths = output_paths(request.output, request.layout)
    for path in paths:
        if not path.exists():
            raise InputError("output not found", path=path,
                             hint="Give the master's path (for --layout pair, the name given to convert)")
    readers = [stack.enter_context(open_media(p, cache_size=0)) for p in paths]
    if len(readers) == 2 and (_size(readers[0]) != _size(readers[1]) or len(readers[0]) != len(readers[1])):
        raise InputError(f"the eyes differ: {paths[0].name} is {_size(readers[0])} x {len(readers[0])} "
                         f"frames, {paths[1].name} {_size(readers[1])} x {len(readers[1])}", path=paths[1])
    return readers


def _check_count(reader: MediaReader, count: int, request: EvalRequest) -> None:
    if len(reader) != count:
        raise InputError(
            f"the output has {len(reader)} frames but the source range has {count} ({request.source})",
            path=reader.path,
            hint="Evaluate a master against the source it was rendered from, with the same --start/--end")


def _eye_size(request: EvalRequest, out: MediaReader, source: MediaReader) -> tuple[int, int]:
    eye = infer_eye_size(_size(out), request.layout, _size(source))
    if eye is None:
        w, h = _size(out)
        raise InputError(f"a {w}x{h} frame does not hold two eyes of the source's {_size(source)[0]}x"
                         f"{_size(source)[1]} shape as {request.layout}", path=out.path,
                         hint="Check --layout against how the master was packed")
    return eye


def _open_aligned(path: Path, what: str, hint: str, inputs: _Inputs, stack: ExitStack) -> tuple[MediaReader, int]:
    """Open a view aligned with the source (ground truth, flow reference): its reader and the
    frame that matches the output's first frame."""
    reader = stack.enter_context(open_media(path, cache_size=0))
    if _size(reader) not in (_size(inputs.source), inputs.eye_size):
        raise InputError(f"the {what} is {_size(reader)[0]}x{_size(reader)[1]}, neither the source's "
                         f"{_size(inputs.source)[0]}x{_size(inputs.source)[1]} nor the eye's "
                         f"{inputs.eye_size[0]}x{inputs.eye_size[1]}", path=reader.path, hint=hint)
    if len(reader) == len(inputs.source):
        return reader, inputs.start
    if len(reader) == inputs.output_frames:
        return reader, 0
    raise InputError(f"the {what} has {len(reader)} frames; the source {inputs.source.path} has "
                     f"{len(inputs.source)} and the output {inputs.output_frames}", path=reader.path,
                     hint=f"Give a {what} aligned with the source (same frames, or the output's range)")


def _open_ground_truth(request: EvalRequest, inputs: _Inputs, stack: ExitStack) -> None:
    inputs.ground_truth, inputs.gt_start = _open_aligned(
        request.ground_truth, "ground truth", "Give the real other view of this shot, at the source's size",
        inputs, stack)


def _open_reference(request: EvalRequest, inputs: _Inputs, stack: ExitStack) -> None:
    inputs.reference, inputs.ref_start = _open_aligned(
        request.flow_reference, "flow reference",
        f"Give a view registered with the {request.eye} eye: the real view, or that eye of another master",
        inputs, stack)


def _open_holes(request: EvalRequest, inputs: _Inputs, stack: ExitStack) -> None:
    holes = stack.enter_context(open_media(request.holes, cache_size=0))
    if _size(holes) not in (inputs.eye_size, _size(inputs.source)):
        raise InputError(f"hole masks are {_size(holes)[0]}x{_size(holes)[1]}, not the eye's "
                         f"{inputs.eye_size[0]}x{inputs.eye_size[1]}", path=holes.path,
                         hint="Export the masks from the same render")
    if len(holes) != inputs.output_frames:
        raise InputError(f"{len(holes)} hole masks for {inputs.output_frames} output frames", path=holes.path,
                         hint="Give one mask per output frame")
    inputs.holes = holes


def _notes(request: EvalRequest, inputs: _Inputs) -> list[str]:
    notes = []
    if request.layout in HALF_LAYOUTS:
        w, h = inputs.eye_size
        notes.append(f"{request.layout}: each eye stretched back to {w}x{h} (bilinear) before scoring; "
                     "the figures include the squeeze")
    if inputs.eye_size != _size(inputs.source):
        w, h = inputs.eye_size
        notes.append(f"the master's eyes are {w}x{h}: the source (and ground truth) are area-resized "
                     "to match")
    if request.holes is None:
        notes.append("no hole masks (--holes): E_warp in holes, fill flicker and PSNR/SSIM over "
                     "disocclusions are not computed")
    if request.flow_reference is not None:
        notes.append(f"the {request.eye} eye's E_warp figures use flow computed on {request.flow_reference.name} "
                     "(one flow for every master scored with it); the source and the other eye use their own")
    if inputs.count < 2:
        notes.append("a single frame: E_warp needs at least two")
    return notes


def _open_inputs(request: EvalRequest, stack: ExitStack) -> _Inputs:
    """Open every file of `request` (closed by `stack`) and check counts and sizes; nothing decoded."""
    source = stack.enter_context(open_media(request.source, cache_size=0))
    start, end = _source_range(request, source)
    outputs = _open_outputs(request, stack)
    _check_count(outputs[0], end - start, request)
    count = end - start if request.max_frames is None else min(end - start, request.max_frames)
    inputs = _Inputs(source, outputs, start, end - start, count, _eye_size(request, outputs[0], source))
    if request.ground_truth is not None:
        _open_ground_truth(request, inputs, stack)
    if request.holes is not None:
        _open_holes(request, inputs, stack)
    if request.flow_reference is not None:
        _open_reference(request, inputs, stack)
    if request.slice_row is not None and request.slice_row >= inputs.eye_size[1]:
        raise UsageError(f"--slice-row {request.slice_row} is outside the {inputs.eye_size[1]}-row eye")
    inputs.notes = _notes(request, inputs)
    return inputs


def _eyes(images: list[np.ndarray], request: EvalRequest,
          eye_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) float32 eyes of one output frame (one image, or two for pair)."""
    frames = [as_unit_float(im) for im in images]
    if request.layout != "pair":
        return unpack(frames[0], request.layout, eye_size, request.swap_eyes)
    first, second = (crop_eye(f, eye_size) for f in frames)
    return (second, first) if request.swap_eyes else (first, second)


def _hole_mask(image: np.ndarray, eye_size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool from a decoded mask frame: luma above half scale, resized (nearest) to the eye."""
    gray = to_gray(image)
    if (gray.shape[1], gray.shape[0]) != eye_size:
        gray = cv2.resize(gray, eye_size, interpolation=cv2.INTER_NEAREST)
    return gray > 127


@dataclass
class _Step:
    """One frame of every input (None where that input was not given)."""

    source: np.ndarray
    outputs: list[np.ndarray]
    truth: np.ndarray | None
    holes: np.ndarray | None
    reference: np.ndarray | None


def _stream(inputs: _Inputs) -> Iterator[_Step]:
    """Every input's frame, per frame, in order."""
    n = inputs.count
    src = inputs.source.frames(inputs.start, inputs.start + n)
    outs = [r.frames(0, n) for r in inputs.outputs]
    gt = inputs.ground_truth.frames(inputs.gt_start, inputs.gt_start + n) if inputs.ground_truth else None
    holes = inputs.holes.frames(0, n) if inputs.holes else None
    ref = inputs.reference.frames(inputs.ref_start, inputs.ref_start + n) if inputs.reference else None
    for s in src:
        yield _Step(s.image, [next(o).image for o in outs], next(gt).image if gt else None,
                    next(holes).image if holes else None, next(ref).image if ref else None)


class _Scores:
    """Everything accumulated over the frames of one evaluation."""

    def __init__(self, request: EvalRequest) -> None:
        self.ewarp = {name: EwarpAccumulator(request.flow) for name in SEQUENCES}
        self.image = {name: RunningMean() for name in IMAGE_ROWS}
        row = request.slice_row
        self.slices = None if row is None else {name: XtSlice(row) for name in SEQUENCES}
        self.eye = request.eye

    def add(self, views: dict[str, np.ndarray], gt: np.ndarray | None, holes: np.ndarray | None,
            reference: np.ndarray | None = None) -> None:
        for name, acc in self.ewarp.items():
            scored = name == self.eye
            acc.update(views[name], holes if scored else None, reference if scored else None)
        if self.slices is not None:
            for name, sl in self.slices.items():
                sl.add(views[name])
        if gt is None:
            return
        eye, im = views[self.eye], self.image
        eye_map = ssim_map(eye, gt)  # every pixel counts: disocclusions sit at the frame edge
        im["psnr"].add(psnr(eye, gt))
        im["ssim"].add(float(eye_map.mean()))
        im["psnr_source"].add(psnr(views["source"], gt))
        im["ssim_source"].add(float(ssim_map(views["source"], gt).mean()))
        if holes is not None and holes.any():
            im["psnr_holes"].add(psnr(eye, gt, holes))
            im["ssim_holes"].add(float(eye_map[holes].mean()))

    def rows(self, has_gt: bool, has_holes: bool) -> dict[str, float | None]:
        e = {name: acc.result()["ewarp"] for name, acc in self.ewarp.items()}
        rows: dict[str, float | None] = {f"ewarp_{name}": e[name] for name in SEQUENCES}
        for name in EYES:
            ratio = e[name] / e["source"] if e[name] is not None and e["source"] else None
            rows[f"ewarp_ratio_{name}"] = ratio
        if has_holes:
            eye = self.ewarp[self.eye].result()
            rows["ewarp_holes"], rows["fill_flicker"] = eye["ewarp_holes"], eye["fill_flicker"]
        if has_gt:
            wanted = [name for name in IMAGE_ROWS if has_holes or not name.endswith("_holes")]
            rows.update({name: self.image[name].value for name in wanted})
        return rows

    def slice_image(self) -> np.ndarray:
        assert self.slices is not None
        joined = side_by_side([self.slices[name].image() for name in SEQUENCES])
        return (np.clip(joined, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def evaluate(request: EvalRequest,
             cancel: CancelToken | None = None) -> Generator[Progress, None, EvalReport]:
    """Score a master; a generator of Progress (stage "eval", one step a frame) returning the EvalReport.

    Raises:
        UsageError: unknown layout or eye, anaglyph master, inconsistent slice flags, empty range.
        InputError: a missing or undecodable file; frame counts or sizes that do not match.
        OutputError: the slice image exists (without overwrite) or cannot be written.
        Cancelled: `cancel` was set.
    """
    _check_request(request)
    with ExitStack() as stack:
        inputs = _open_inputs(request, stack)
        for note in inputs.notes:
            yield Progress("note", 0, 0, message=note)
        scores = _Scores(request)
        for done, step in enumerate(_stream(inputs), start=1):
            if cancel is not None:
                cancel.check()
            left, right = _eyes(step.outputs, request, inputs.eye_size)
            source = resize_area(as_unit_float(step.source), inputs.eye_size)
            truth = None if step.truth is None else resize_area(as_unit_float(step.truth), inputs.eye_size)
            holes = None if step.holes is None else _hole_mask(step.holes, inputs.eye_size)
            reference = None if step.reference is None else resize_area(as_unit_float(step.reference),
                                                                        inputs.eye_size)
            scores.add({"source": source, "left": left, "right": right}, truth, holes, reference)
            yield Progress("eval", done, inputs.count)
    if request.slice_out is not None:
        write_still(request.slice_out, scores.slice_image(), overwrite=request.overwrite)
    return EvalReport(
        rows=scores.rows(request.ground_truth is not None, request.holes is not None),
        output=str(request.output), source=str(request.source), layout=request.layout, eye=request.eye,
        frames=inputs.count, eye_size=inputs.eye_size,
        ground_truth=None if request.ground_truth is None else str(request.ground_truth),
        holes=None if request.holes is None else str(request.holes),
        slice_path=None if request.slice_out is None else str(request.slice_out), flow=request.flow,
        flow_reference=None if request.flow_reference is None else str(request.flow_reference),
        sequences={name: acc.result() for name, acc in scores.ewarp.items()}, notes=tuple(inputs.notes))
