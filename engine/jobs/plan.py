"""Turn a ConvertRequest and a probed source into a concrete, checked render plan.

Everything that can be refused is refused here, before any frame is decoded:
unknown layout, still/video mismatch, outputs that exist or cannot be written,
frame sizes a codec or its players cannot take.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from engine.depth.imported import depth_source_files
from engine.document import parse_time
from engine.errors import OutputError, UsageError
from engine.fileio import refuse_inputs_as_outputs, refuse_read_only
from engine.jobs.request import ConvertRequest
from engine.media import STILL_EXTENSIONS, MediaInfo, MediaReader, drops_bit_depth
from engine.media.encode import chroma_of, drops_chroma, encoder_plan, stereo_signalling_note
from engine.ops import packed_size
from engine.vocabulary import LAYOUTS, SYNTHESIZE_MODES

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".m4v"})
# H.264 level 5.2 (the highest level players and headsets decode in hardware): 36,864 macroblocks a frame.
H264_MAX_MACROBLOCKS = 36_864
STEREO_MODES = {"sbs-full": "left_right", "sbs-half": "left_right", "tb-full": "top_bottom",
                "tb-half": "top_bottom", "anaglyph": "anaglyph_cyan_red",
                "anaglyph-half-colour": "anaglyph_cyan_red"}


@dataclass(frozen=True)
class RenderPlan:
    """A checked conversion: frame range, sizes and output paths.

    Attributes:
        start, end: source frame range [start, end).
        eye_size: (width, height) of one eye after --max-width.
        frame_size: (width, height) of each written frame, padded to even sizes when the codec needs it.
        padding: (right, bottom) pixels added by that padding.
        outputs: one path, or two for the `pair` layout (left, right).
        audio_range: source seconds [start, end) of audio to carry (end None = to the end).
        notes: things the user should know (said in verbose output and the studio's log).
    """

    start: int
    end: int
    eye_size: tuple[int, int]
    frame_size: tuple[int, int]
    padding: tuple[int, int]
    outputs: tuple[Path, ...]
    stereo_mode: str | None
    audio_range: tuple[Fraction, Fraction | None] | None
    is_still: bool
    notes: tuple[str, ...]

    @property
    def frame_count(self) -> int:
        return self.end - self.start


def output_paths(output: Path, layout: str) -> tuple[Path, ...]:
    """CONVENTIONS.md: `--layout pair -o out.mp4` writes out_L.mp4 and out_R.mp4."""
    if layout != "pair":
        return (output,)
    return (output.with_name(f"{output.stem}_L{output.suffix}"), output.with_name(f"{output.stem}_R{output.suffix}"))


PLAYER_SUFFIXES = {"sbs-half": "_LR", "sbs-full": "_LRF", "tb-half": "_TB", "tb-full": "_TBF"}
"""CONVENTIONS.md "Files": the file-name suffixes players detect a packing by (`--name-for-players`)."""


def player_name(output: Path, layout: str) -> Path:
    """`output` renamed `{stem}{suffix}{ext}` for players (shot.mp4 + sbs-half -> shot_LR.mp4).

    A stem that already ends in the suffix is kept; layouts players have no suffix for (anaglyph,
    pair: its eyes get `_L`/`_R` from output_paths) are returned unchanged.
    """
    suffix = PLAYER_SUFFIXES.get(layout, "")
    if not suffix or output.stem.upper().endswith(suffix):
        return output
    return output.with_name(f"{output.stem}{suffix}{output.suffix}")


def hole_mask_paths(request: ConvertRequest) -> tuple[Path, Path]:
    """`--export-holes DIR`: lossless grey videos of each eye's disocclusions (white = hole), for eval --holes."""
    folder, stem = request.export_holes, request.output.stem
    return folder / f"{stem}.holes_L.mkv", folder / f"{stem}.holes_R.mkv"


def job_inputs(request: ConvertRequest) -> tuple[Path, ...]:
    """Every file a conversion reads: the source, each imported depth file, the shot list, the project's media.

    The one list :func:`check_outputs_writable` holds outputs against (batch jobs pass theirs likewise).
    """
    inputs = [Path(request.input)] if request.input is not None else []
    if request.depth is not None:
        inputs += depth_source_files(request.depth.path) or [Path(request.depth.path)]
    if request.shots not in ("auto", "off"):
        inputs.append(Path(request.shots))
    if request.project is not None:
        inputs += [Path(clip.media) for clip in request.project.clips]
    return tuple(dict.fromkeys(inputs))


def check_outputs_writable(paths: tuple[Path, ...], overwrite: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse early: an output that is an input or read-only (whatever `overwrite` says), an existing
    output without --overwrite, a missing or unwritable folder."""
    refuse_inputs_as_outputs(paths, inputs)
    for path in paths:
        refuse_read_only(path)
        if path.exists() and not overwrite:
            raise OutputError("output already exists", path=path, hint="Pass --overwrite to replace it")
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError("output folder does not exist", path=folder, hint="Create it first")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError("output folder is not writable", path=folder,
                              hint="Choose a folder you can write to")


def eye_size_for(info: MediaInfo, max_width: int | None) -> tuple[int, int]:
    """One eye's (width, height): the source display size, scaled down to `max_width` (aspect kept)."""
    w, h = info.video.width, info.video.height
    if max_width is None or w <= max_width:
        return w, h
    if max_width < 16:
        raise UsageError(f"--max-width {max_width} is too small (16 px at least)")
    return max_width, max(2, round(h * max_width / w))


def _needs_even(request: ConvertRequest) -> tuple[bool, bool]:
    """(width, height) must be even: 4:2:0 both, 4:2:2 the width; 4:4:4, RGB (ffv1) and stills neither."""
    return encoder_plan(request.encode).chroma_even


def _check_h264_size(width: int, height: int, request: ConvertRequest) -> None:
    macroblocks = -(-width // 16) * -(-height // 16)
    if request.encode.codec == "h264" and macroblocks > H264_MAX_MACROBLOCKS:
        raise OutputError(
            f"a {width}x{height} {request.layout} frame exceeds H.264 level 5.2 (at most 4096x2304 "
            "or 8.9 Mpixel), which players and headsets decode",
            path=request.output,
            hint="Use --max-width 1920, a half layout (--layout sbs-half / tb-half) or --codec hevc")


def _frame_range(request: ConvertRequest, reader: MediaReader) -> tuple[int, int]:
    info = reader.info
    count = info.video.frame_count

    def resolve(text: str) -> int:
        return parse_time(text).resolve(info.video.fps, reader.index_at_time, info.video.start_timecode)

    start = resolve(request.start) if request.start else 0
    end = resolve(request.end) if request.end else count
    end = min(end, count)
    if not 0 <= start < end:
        raise UsageError(f"the range --start {request.start or 0} --end {request.end or 'end'} holds no frame "
                         f"(the source has {count} frames)", path=request.input,
                         hint="Give a --start before --end, inside the source")
    return start, end


def _check_request(request: ConvertRequest, info: MediaInfo) -> None:
    if request.output is None:
        raise UsageError("no output file given", hint="Pass -o OUTPUT")
    if request.layout not in LAYOUTS:
        raise UsageError(f"unknown layout {request.layout!r}", hint=f"Use one of {', '.join(LAYOUTS)}")
    if request.synthesize not in SYNTHESIZE_MODES:
        raise UsageError(f"unknown --synthesize {request.synthesize!r}", hint="Use both, right or left")
    suffix = request.output.suffix.lower()
    if info.is_still and suffix not in STILL_EXTENSIONS:
        raise UsageError("a still input makes a still output", path=request.output,
                         hint=f"Use one of {', '.join(sorted(STILL_EXTENSIONS))}")
    if not info.is_still and suffix not in VIDEO_EXTENSIONS:
        raise UsageError(f"{suffix or 'no extension'} is not a video container", path=request.output,
                         hint="Use .mp4, .mov or .mkv (or `spatialdreamer frame` for one still)")


def _notes(request: ConvertRequest, info: MediaInfo, padding: tuple[int, int]) -> list[str]:
    notes = []
    if any(padding):
        notes.append(f"frame padded by {padding[0]} px right and {padding[1]} px bottom to even sizes "
                     f"for {request.encode.codec}")
    if not info.is_still and drops_bit_depth(info, request.encode):
        notes.append(f"source is {info.video.bit_depth}-bit; this {request.encode.bit_depth}-bit output drops it "
                     "(use --codec hevc --bit-depth 10 or --codec prores to keep it)")
    if not info.is_still and drops_chroma(info, request.encode):
        notes.append(f"source is {info.video.pix_fmt} (4:4:4); this {request.encode.codec} master is "
                     f"{encoder_plan(request.encode).pix_fmt} (subsampled chroma, what TVs and headsets decode); "
                     "keep 4:4:4 with --pix-fmt yuv444p, --codec ffv1 or --codec prores --prores-profile 4444")
    guess = untagged_colour_note(info)
    if guess:
        notes.append(guess)
    notes.extend(f"dropped stream: {s}" for s in info.dropped_streams)
    if info.video.is_vfr:
        notes.append("variable frame rate source: timestamps are kept")
    stereo = None if info.is_still else stereo_signalling_note(request.output, request.encode.codec,
                                                                STEREO_MODES.get(request.layout))
    if stereo:
        notes.append(stereo)
    return notes


def untagged_colour_note(info: MediaInfo) -> str | None:
    """What we assume for a YUV video without a colour matrix tag (players' convention), or None."""
    video = info.video
    if info.is_still or video.colorspace or chroma_of(video.pix_fmt) == "rgb":
        return None
    guess = "BT.709 (HD)" if video.coded_height >= 720 else "BT.601 (SD)"
    return (f"source has no colour tags: read as {guess}, as players do, and the master is tagged so "
            "(re-tag the source if it is otherwise)")


def plan_convert(request: ConvertRequest, reader: MediaReader) -> RenderPlan:
    """Check `request` against the opened source and fix every size, range and path."""
    info = reader.info
    _check_request(request, info)
    start, end = (0, 1) if info.is_still else _frame_range(request, reader)
    eye = eye_size_for(info, request.max_width)
    width, height = packed_size(eye[0], eye[1], request.layout)
    even_w, even_h = (False, False) if info.is_still else _needs_even(request)
    pad = (width % 2 if even_w else 0, height % 2 if even_h else 0)
    frame_size = (width + pad[0], height + pad[1])
    if not info.is_still:
        _check_h264_size(*frame_size, request)
    outputs = output_paths(request.output, request.layout)
    inputs = job_inputs(request)
    check_outputs_writable(outputs, request.overwrite, inputs)
    if request.export_holes is not None:
        if info.is_still:
            raise UsageError("--export-holes is for video sources")
        check_outputs_writable(hole_mask_paths(request), request.overwrite, inputs)
    audio = None
    if not info.is_still and info.audio:
        t0 = reader.frame(start).time
        t1 = reader.frame(end).time if end < info.video.frame_count else None
        audio = (t0, t1)
    return RenderPlan(start, end, eye, frame_size, pad, outputs, STEREO_MODES.get(request.layout), audio,
                      info.is_still, tuple(_notes(request, info, pad)))
