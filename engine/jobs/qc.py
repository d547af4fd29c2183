"""`spatialdreamer qc`: check a source/project (the disparity its master will use) or an existing master.

Three inputs, one report:

- a **project** (per-shot keyframed grades) or a **mono source** (converted with the request's
  settings): the depth pass of `convert` runs (same provider, stabilisation, cache, per-shot
  normalisation), and each frame's δ is measured once and mapped through the frame's grade
  (:mod:`engine.grading.qc`), so the figures are those of the master `convert` would write; the
  report adds per-shot grade suggestions for the chosen screen;
- an existing **stereo master** (``layout`` given, or the file declares its frame packing):
  its pixels are measured with a stereo matcher (:mod:`engine.grading.qc_match`), never a
  sidecar; eye order, vertical disparity and colour mismatch are checked too.

A generator of Progress whose return value is a :class:`~engine.jobs.qc_report.QcReport`;
`report.exit_code` is 6 when a limit is broken (CONVENTIONS.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from engine.document import Project
from engine.errors import InputError, UsageError
from engine.grading.qc import DeltaStats, ParallaxStats, delta_stats, parallax_histogram, parallax_stats
from engine.grading.qc_match import EyeOrderVotes, colour_difference, eye_order_votes, match_pair, vertical_disparity
from engine.grading.qc_screens import Budget, budget_for
from engine.grading.render import curved_depth
from engine.jobs.convert import (
    DepthStage,
    depth_editor,
    job_clip,
    params_at,
    prepare_edits,
    segments_for,
    windows_at,
)
from engine.jobs.frame import edited_depth, eye_image, to_tensor
from engine.jobs.plan import RenderPlan, check_outputs_writable, eye_size_for
from engine.jobs.qc_report import MasterChecks, Measured, QcReport, ShotFrames, Thumbnail, build_report
from engine.jobs.request import ConvertRequest, media_options
from engine.media import MediaReader, open_media
from engine.opencv import cv2
from engine.progress import CancelToken, Progress
from engine.shots import ShotDetectConfig, detect_cuts
from engine.vocabulary import QC_MASTER_LAYOUTS

MASTER_LAYOUTS = QC_MASTER_LAYOUTS
DECLARED = {"left_right": ("sbs", False), "right_left": ("sbs", True), "top_bottom": ("tb", False),
            "bottom_top": ("tb", True)}
THUMB_WIDTH = 320
_CPU = torch.device("cpu")


@dataclass(frozen=True)
class QcRequest:
    """What to check, against which screen.

    Attributes:
        input: a source video, or a stereo master.
        screen: preset name (tv65 | cinema | desktop | headset).
        budget: explicit (low, high) parallax limits in % of width on that screen, or None for the preset.
        layout: the master's packing (sbs-full | sbs-half | tb-full | tb-half); None = a master when the
            file declares stereo packing, else a mono source to convert and check.
        swap_eyes: the master carries the right eye first (left / top).
        project: per-shot grades of the source (QC of the project's master).
        convert: depth, grade and size settings for a source (its input/output are ignored).
        report, json: where to write the HTML report and the JSON (None = not written).
        fail_on_windows: window violations fail the check (else they warn).
        smooth_convergence: suggestions smooth convergence across cuts.
        analysis_width: eye width (px) a master is matched at (smaller masters at their own).
        thumbnails: worst frames shown with heatmaps.
        overwrite: replace existing report files.
    """

    input: Path
    screen: str = "tv65"
    budget: tuple[float, float] | None = None
    layout: str | None = None
    swap_eyes: bool = False
    project: Project | None = None
    convert: ConvertRequest | None = None
    report: Path | None = None
    json: Path | None = None
    fail_on_windows: bool = False
    smooth_convergence: bool = False
    analysis_width: int = 640
    thumbnails: int = 6
    overwrite: bool = False
    shot_detect: ShotDetectConfig = field(default_factory=ShotDetectConfig)


def _check_request(request: QcRequest) -> Budget:
    budget = budget_for(request.screen, request.budget)
    if request.layout is not None and request.layout not in MASTER_LAYOUTS:
        raise UsageError(f"qc cannot measure a {request.layout!r} master",
                         hint=f"Use --layout {' | '.join(MASTER_LAYOUTS)}")
    if request.layout is not None and request.project is not None:
        raise UsageError("a project is checked through its source, not a master layout",
                         hint="Drop --layout, or check the master file on its own")
    outputs = tuple(p for p in (request.report, request.json) if p is not None)
    source = Path(request.input).resolve()
    for path in outputs:
        if Path(path).resolve() == source:
            raise UsageError("the report would overwrite the input", path=path, hint="Choose another file name")
    if len({Path(p).resolve() for p in outputs}) < len(outputs):
        raise UsageError("the HTML report and the JSON must be different files", path=outputs[0])
    check_outputs_writable(outputs, request.overwrite)
    return budget


def master_layout(request: QcRequest, reader: MediaReader) -> tuple[str | None, bool, list[str]]:
    """(layout, swap_eyes, notes): the master's packing from the request or the file's declaration."""
    if request.layout is not None:
        return request.layout, request.swap_eyes, []
    declared = reader.info.video.stereo_mode
    if declared not in DECLARED:
        return None, False, []
    kind, inverted = DECLARED[declared]
    w, h = reader.info.video.width, reader.info.video.height
    eye_aspect = (w / 2) / h if kind == "sbs" else w / (h / 2)
    layout = f"{kind}-{'full' if eye_aspect >= 1.2 else 'half'}"
    return layout, inverted ^ request.swap_eyes, [
        f"the file declares {declared} packing: checked as a {layout} master (pass --layout to override)"]


def split_eyes(frame: np.ndarray, layout: str, swap_eyes: bool) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) halves of a packed (H, W, 3) frame (half layouts stay squeezed: % of width is the same).

    An odd size (1 px of padding) leaves the last column / row out.
    """
    h, w = frame.shape[:2]
    if layout.startswith("sbs"):
        first, second = frame[:, : w // 2], frame[:, w // 2 : 2 * (w // 2)]
    else:
        first, second = frame[: h // 2], frame[h // 2 : 2 * (h // 2)]
    return (second, first) if swap_eyes else (first, second)


def _to_8bit(image: np.ndarray) -> np.ndarray:
    return (image >> 8).astype(np.uint8) if image.dtype == np.uint16 else image


def _resize_width(image: np.ndarray, width: int) -> np.ndarray:
    """Scale (H, W, ...) to `width` columns, aspect kept: area filter down, bilinear up."""
    if image.shape[1] == width:
        return image
    height = max(2, round(image.shape[0] * width / image.shape[1]))
    interp = cv2.INTER_AREA if width < image.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interp)


def _cuts_for_master(reader: MediaReader, request: QcRequest, n: int,
                     cancel: CancelToken) -> Generator[Progress, None, list[int]]:
    if n < 2:
        return []
    return (yield from detect_cuts(reader, request.shot_detect, 0, n, cancel))


def _ranges(starts: list[int], n: int) -> list[tuple[int, int]]:
    edges = sorted({0, n, *(c for c in starts if 0 < c < n)})
    return list(zip(edges, edges[1:], strict=False))


class _Worst:
    """The frames furthest outside the budget (at most one in any `gap` frames), as thumbnails and maps."""

    def __init__(self, budget: Budget, keep: int, gap: int = 12) -> None:
        self.budget, self.keep, self.gap = budget, keep, gap
        self.items: list[Thumbnail] = []

    def offer(self, frame: int, stats: ParallaxStats, image: Callable, parallax: Callable) -> None:
        """Keep `frame` if it is among the worst; `image` / `parallax` are called only then."""
        excess = max(self.budget.low - stats.p01, stats.p99 - self.budget.high)
        if not math.isfinite(excess) or self.keep <= 0:
            return
        near = [t for t in self.items if abs(t.frame - frame) < self.gap]
        if any(t.excess >= excess for t in near):
            return
        if len(self.items) - len(near) >= self.keep and excess <= min(t.excess for t in self.items):
            return
        kept = [t for t in self.items if t not in near]
        kept.append(Thumbnail(frame, excess, _resize_width(image(), THUMB_WIDTH),
                              _resize_width(parallax(), THUMB_WIDTH).astype(np.float32)))
        self.items = sorted(kept, key=lambda t: -t.excess)[: self.keep]


def _measure_master(request: QcRequest, reader: MediaReader, layout: str, swap: bool, budget: Budget,
                    cancel: CancelToken) -> Generator[Progress, None, Measured]:
    n = reader.info.video.frame_count
    cuts = yield from _cuts_for_master(reader, request, n, cancel)
    stats: list[ParallaxStats] = []
    hist: dict[int, np.ndarray] = {}
    votes, dys, colours, valid = EyeOrderVotes(), [], [], []
    worst = _Worst(budget, request.thumbnails)
    eye_size = None
    ranges = _ranges(cuts, n)
    for frame in reader.frames(0, n):
        cancel.check()
        left, right = (_to_8bit(x) for x in split_eyes(frame.image, layout, swap))
        eye_size = eye_size or (left.shape[1], left.shape[0])
        width = min(left.shape[1], request.analysis_width)
        left, right = _resize_width(left, width), _resize_width(right, width)
        if frame.index % 12 == 0:
            dy, matches = vertical_disparity(left, right)
            if matches >= 8:
                dys.append(dy / left.shape[0] * 100.0)
        shift = round(float(np.median(dys)) / 100.0 * left.shape[0]) if dys else 0
        pair = match_pair(left, np.roll(right, -shift, axis=0) if shift else right)  # measured after aligning
        d = pair.qc_map(max(1, round(0.01 * width)))
        s = parallax_stats(d)
        stats.append(s)
        shot = next(i for i, (a, b) in enumerate(ranges) if a <= frame.index < b)
        p = -d * (100.0 / width)
        hist[shot] = hist.get(shot, 0) + parallax_histogram(p[::2, ::2])
        valid.append(pair.matched)
        if frame.index % 2 == 0:
            votes = votes + eye_order_votes(left, pair)
        if frame.index % 6 == 0:
            colours.append(colour_difference(left, right))
        worst.offer(frame.index, s, lambda left=left: left, lambda p=p: p)
        yield Progress("qc", frame.index + 1, n)
    checks = MasterChecks(layout=layout, swap_eyes=swap, eye_order=votes.verdict(),
                          eye_order_votes=(votes.consistent, votes.swapped),
                          matched_fraction=float(np.median(valid)) if valid else 0.0,
                          vertical_pct=float(np.median(dys)) if dys else float("nan"),
                          colour_delta_e=float(np.median(colours)) if colours else float("nan"),
                          analysis_width=request.analysis_width)
    return Measured("master", reader.info.video.fps, eye_size, stats,
                    [ShotFrames(a, b, None, hist.get(i)) for i, (a, b) in enumerate(ranges)],
                    worst.items, master=checks)


def _source_request(request: QcRequest) -> ConvertRequest:
    base = request.convert or ConvertRequest(input=request.input)
    return replace(base, input=request.input, project=request.project or base.project)


def _measure_source(request: QcRequest, reader: MediaReader, budget: Budget,
                    cancel: CancelToken) -> Generator[Progress, None, Measured]:
    conv = _source_request(request)
    info = reader.info
    n = info.video.frame_count
    if info.is_still:
        raise InputError("qc checks video", path=request.input, hint="Use `spatialdreamer frame` for a still")
    eye = eye_size_for(info, conv.max_width)
    plan = RenderPlan(0, n, eye, eye, (0, 0), (), None, None, False, ())
    depth = DepthStage(conv, eye, reader)
    try:
        clip = yield from job_clip(conv, reader, plan, cancel)
        segments = segments_for(plan, clip.cuts())
        done = 0
        for segment in segments:
            yield from depth.depth_pass(reader, segment, cancel, done, n)
            done += segment.end - segment.start
        notes = [p.message for p in depth.drain_notes()]
        frame = _FrameMeasure(conv, clip, depth, reader)
        return (yield from _measure_segments(frame, segments, budget, request, notes, cancel))
    finally:
        depth.close()


class _FrameMeasure:
    """One frame of a source as the master will render it: δ after edits and curve, its grade, its windows."""

    def __init__(self, conv: ConvertRequest, clip, depth: DepthStage, reader: MediaReader) -> None:
        self.conv, self.clip, self.depth, self.reader = conv, clip, depth, reader
        self.editor = None if depth.is_disparity else depth_editor(clip, reader, depth)

    def __call__(self, index: int, segment) -> tuple[ParallaxStats, DeltaStats | None, np.ndarray]:
        """(stats, δ' stats or None for pixel disparity, parallax map in % of width) of frame `index`."""
        depth = self.depth
        values = depth.depth_tensor(index, segment, _CPU)
        width = values.shape[-1]
        bars = depth.bars_for(segment)  # the master's bars: on the screen plane, left out of QC
        if depth.is_disparity:
            d = values[0, 0].numpy()
            d = d if bars is None else np.where(bars.mask(), np.nan, d)
            return parallax_stats(d), None, -d * (100.0 / width)
        params = params_at(self.conv, index, self.clip)
        if self.editor is not None:
            image = to_tensor(eye_image(self.reader.frame(index).image, depth.eye_size), _CPU)
            values = edited_depth(values, index, image, self.editor)
        curved = curved_depth(values, params)[0, 0].numpy()
        if bars is not None:
            curved = np.where(bars.mask(), np.nan, curved).astype(np.float32)
        ds = delta_stats(curved, windows_at(self.clip, index))
        return (ds.parallax(params.divergence, params.convergence), ds,
                params.divergence * (curved - params.convergence))


def _measure_segments(frame: _FrameMeasure, segments: list, budget: Budget, request: QcRequest, notes: list[str],
                      cancel: CancelToken) -> Generator[Progress, None, Measured]:
    reader = frame.reader
    n = reader.info.video.frame_count
    stats: list[ParallaxStats] = []
    shots: list[ShotFrames] = []
    worst = _Worst(budget, request.thumbnails)
    for segment in segments:
        yield from prepare_edits(frame.editor, frame.clip, segment, cancel)
        deltas: list[DeltaStats] = []
        hist = np.zeros(0)
        for index in range(segment.start, segment.end):
            cancel.check()
            s, ds, p = frame(index, segment)
            stats.append(s)
            if ds is not None:
                deltas.append(ds)
            hist = parallax_histogram(p[::2, ::2]) + (hist if hist.size else 0)
            worst.offer(index, s, lambda index=index: _to_8bit(reader.frame(index).image), lambda p=p: p)
            yield Progress("qc", index + 1, n)
        shots.append(ShotFrames(segment.start, segment.end, deltas or None, hist))
    return Measured("project" if frame.conv.project is not None else "source", reader.info.video.fps,
                    frame.depth.eye_size, stats, shots, worst.items, notes=notes)


def qc(request: QcRequest, cancel: CancelToken | None = None) -> Generator[Progress, None, QcReport]:
    """Run one check; yields Progress, returns the QcReport (and writes the requested report files)."""
    cancel = cancel or CancelToken()
    budget = _check_request(request)
    options = media_options(request.convert) if request.convert is not None else {}
    with open_media(request.input, **{k: v for k, v in options.items() if k != "audio"}) as reader:
        layout, swap, notes = master_layout(request, reader)
        for note in notes:
            yield Progress("note", 0, 0, message=note)
        if layout is not None:
            measured = yield from _measure_master(request, reader, layout, swap, budget, cancel)
        else:
            measured = yield from _measure_source(request, reader, budget, cancel)
    measured.notes[:0] = notes
    report = build_report(request.input, measured, budget, fail_on_windows=request.fail_on_windows,
                          smooth=request.smooth_convergence)
    for message in report.notes:
        yield Progress("note", 0, 0, message=message)
    if request.json is not None:
        report.write_json(request.json)
    if request.report is not None:
        from engine.jobs.qc_html import write_html  # matplotlib only when a report is asked for

        write_html(report, request.report)
    return report



def auto_grade(request: ConvertRequest, screen: str, budget: tuple[float, float] | None = None,
               smooth: bool = False, cancel: CancelToken | None = None) -> Generator[Progress, None, Project]:
    """`convert --auto-grade SCREEN`: the project whose per-shot grades and floating windows fit `screen`.

    Checks `request`'s source (its project, when it has one) exactly as `qc` would and returns the
    suggested project (:meth:`QcReport.suggested_project`, windows included); convert then renders it.
    """
    check = QcRequest(request.input, screen=screen, budget=budget, project=request.project, convert=request,
                      smooth_convergence=smooth, thumbnails=0)
    report = yield from qc(check, cancel)
    return report.suggested_project(request.project, media=str(request.input), clip=request.clip)
