"""Turn a ConvertRequest and a probed source into a concrete, checked render plan.

Everything that can be refused is refused here, before any frame is decoded:
unknown layout, still/video mismatch, outputs that exist or cannot be written,
frame sizes a codec or its players cannot take.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from engine.depth.imported import depth_source_files
from engine.document import parse_time
from engine.errors import MediaError, OutputError, UsageError
from engine.fileio import refuse_inputs_as_outputs, refuse_read_only
from engine.jobs.request import ConvertRequest
from engine.jobs.vr180 import (
    VR180_INPUTS,
    Vr180Source,
    check_stereo_request,
    equirect_cap,
    source_note,
    stereo_sizes,
    vr180_source,
)
from engine.media import STILL_EXTENSIONS, MediaInfo, MediaReader, drops_bit_depth
from engine.media.encode import (
    check_encoder_usable,
    chroma_of,
    drops_chroma,
    encoder_plan,
    stereo_signalling_note,
)
from engine.media.sequence import SEQUENCE_EXTENSIONS, is_sequence_path, scan_sequence, source_stem
from engine.media.sequence_writer import aov_files, eye_pattern_path, frame_paths, sequence_output_pattern
from engine.media.spatial import MACOS_HINT, MV_HEVC_ENCODER, SpatialMetadata, mv_hevc_usable, spatial_encoder_status
from engine.media.tonemap import peak_nits
from engine.media.writer import HDR_TRANSFERS
from engine.ops import packed_size
from engine.ops.fisheye import FisheyeCircle, equirect_size_for
from engine.ops.vr180 import (
    IPD_M,
    SCREEN_DISTANCE_M,
    SCREEN_WIDTH_M,
    max_far_parallax,
    screen_fov_degrees,
    vr180_flat_width,
    vr180_size_for_eye,
)
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
        first_number: the number of the first frame of a sequence output (the source's own numbering).
        image_bits: the bit depth frames are handed to a sequence output at (None: the encoder's).
        vr180_source: what a --vr180 source already is (engine.jobs.vr180): 180° equirect or fisheye, one
            view (synthesised, no screen projection) or two (passed through); None: a flat picture.
        spatial: an Apple spatial video (`--layout spatial`): its eyes graded with the far plane at zero disparity.
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
    first_number: int = 0
    image_bits: int | None = None
    vr180_source: Vr180Source | None = None
    spatial: bool = False

    @property
    def frame_count(self) -> int:
        return self.end - self.start

    @property
    def far_at_infinity(self) -> bool:
        """A mono 180° source's VR180 master (zero disparity is infinity in a 180° picture: no screen plane) and
        a spatial video (parallel views; the player sets the window by the disparity adjustment): the far plane
        goes to zero disparity (convergence 1), so nothing diverges."""
        return self.spatial or (self.vr180_source is not None and not self.vr180_source.is_stereo)

    @property
    def fisheye_packing(self) -> tuple[int, FisheyeCircle] | None:
        """(equirect eye size S, the circle at eye size) of a mono 180° fisheye source's VR180 master, else None."""
        source = self.vr180_source
        if source is None or source.projection != "fisheye" or source.is_stereo:
            return None
        return self.frame_size[1] - self.padding[1], source.circles[0].scaled(self.eye_size)

    @property
    def is_sequence_output(self) -> bool:
        """The master is a numbered image sequence (`-o out.%06d.exr`), numbered from `first_number`."""
        return not self.is_still and sequence_output_pattern(self.outputs[0]) is not None


def output_paths(output: Path, layout: str) -> tuple[Path, ...]:
    """CONVENTIONS.md: `--layout pair -o out.mp4` writes out_L.mp4 and out_R.mp4 (and a sequence
    `out.%06d.exr` the eyes `out_L.%06d.exr` and `out_R.%06d.exr`)."""
    if layout != "pair":
        return (output,)
    if sequence_output_pattern(output) is not None:
        return eye_pattern_path(output, "L"), eye_pattern_path(output, "R")
    return (output.with_name(f"{output.stem}_L{output.suffix}"), output.with_name(f"{output.stem}_R{output.suffix}"))


PLAYER_SUFFIXES = {"sbs-half": "_LR", "sbs-full": "_LRF", "tb-half": "_TB", "tb-full": "_TBF"}
"""CONVENTIONS.md "Files": the file-name suffixes players detect a packing by (`--name-for-players`)."""


def player_name(output: Path, layout: str, vr180: bool = False) -> Path:
    """`output` renamed `{stem}{suffix}{ext}` for players (shot.mp4 + sbs-half -> shot_LR.mp4).

    A stem that already ends in the suffix is kept; layouts players have no suffix for (anaglyph,
    pair: its eyes get `_L`/`_R` from output_paths) are returned unchanged; a VR180 master gets `_180_LR`.
    """
    suffix = "_180_LR" if vr180 else PLAYER_SUFFIXES.get(layout, "")
    if not suffix or output.stem.upper().endswith(suffix):
        return output
    return output.with_name(f"{output.stem}{suffix}{output.suffix}")


def hole_mask_paths(request: ConvertRequest) -> tuple[Path, Path]:
    """`--export-holes DIR`: lossless grey videos of each eye's disocclusions (white = hole), for eval --holes."""
    folder, stem = request.export_holes, source_stem(request.output)
    return folder / f"{stem}.holes_L.mkv", folder / f"{stem}.holes_R.mkv"


def job_inputs(request: ConvertRequest) -> tuple[Path, ...]:
    """Every file a conversion reads: the source, each imported depth file, the shot list, the project's media.

    The one list :func:`check_outputs_writable` holds outputs against (batch jobs pass theirs likewise).
    """
    inputs = input_files(request.input) if request.input is not None else []
    if request.depth is not None:
        inputs += depth_source_files(request.depth.path) or [Path(request.depth.path)]
    if request.shots not in ("auto", "off"):
        inputs.append(Path(request.shots))
    if request.project is not None:
        inputs += [Path(clip.media) for clip in request.project.clips]
    inputs += [Path(p) for p in request.also_reads]
    if request.audio is not None:
        inputs.append(Path(request.audio))
    return tuple(dict.fromkeys(inputs))


def input_files(source: Path) -> list[Path]:
    """The files a source is read from: itself, or every frame of an image sequence."""
    if is_sequence_path(source) and not Path(source).is_file():
        try:
            return scan_sequence(source, "hold").files()
        except MediaError:
            return [Path(source)]  # opening the source says what is wrong with it
    return [Path(source)]


def written_files(outputs: tuple[Path, ...], first_number: int, count: int) -> tuple[Path, ...]:
    """Every file the outputs will be: each frame of a sequence output, else the paths themselves."""
    files: list[Path] = []
    for path in outputs:
        files += frame_paths(path, first_number, count) if sequence_output_pattern(path) else [path]
    return tuple(files)


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
    if request.encode.format == "h264" and macroblocks > H264_MAX_MACROBLOCKS:
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


def check_aov(request: ConvertRequest, info: MediaInfo) -> None:
    """--aov: per-eye passes of a `pair` video master, to a sequence or ProRes 4444 with alpha."""
    if not request.aov:
        return
    hint = ("Use --layout pair -o eyes.%06d.exr (channels hole and disparity), a PNG/TIFF/DPX sequence (hole and "
            "disparity files beside each frame) or --codec prores --prores-profile 4444 -o eyes.mov (alpha = 1 - hole)")
    if request.layout != "pair" or info.is_still:
        raise UsageError("--aov writes per-eye compositing passes of a video: it needs --layout pair", hint=hint)
    if sequence_output_pattern(request.output) is not None:
        return
    if request.output.suffix.lower() != ".mov" or request.encode.codec != "prores" or \
            request.encode.prores_profile != "4444":
        raise UsageError(f"--aov cannot go into {request.output.name} ({request.encode.codec})", path=request.output,
                         hint=hint)


def aov_written_files(request: ConvertRequest, outputs: tuple[Path, ...], first: int, count: int) -> tuple[Path, ...]:
    """The hole and disparity files an --aov non-EXR sequence writes beside its frames."""
    patterns = [sequence_output_pattern(p) for p in outputs] if request.aov else []
    return tuple(f for pattern in patterns if pattern is not None and pattern.suffix.lower() != ".exr"
                 for n in range(first, first + count) for f in aov_files(pattern, n))


def check_vr180(request: ConvertRequest) -> None:
    """--vr180 is full side by side, and its far plane may not pass infinity on the virtual screen
    (behind-screen parallax at most IPD / screen width = 2.17 % of the picture): the constant grade, and
    with a project every frame of every shot's keyframed grade (D and c are interpolated separately, so
    their product can peak between keyframes)."""
    if request.layout != "sbs-full":
        raise UsageError(f"--vr180 is side by side, one full 180° view per eye; it cannot be {request.layout}",
                         hint="Leave --layout out (or give sbs-full)")
    limit = max_far_parallax()
    if request.project is None:
        far = request.params.divergence / 100 * (1 - request.params.convergence)
        if far > limit + 1e-9:
            most = limit * 100 / (1 - request.params.convergence)
            raise UsageError(f"--divergence {request.params.divergence:g} with --convergence "
                             f"{request.params.convergence:g} puts the far plane {far * 100:.2f} % of the width "
                             f"behind the screen, beyond infinity in VR180 (at most {limit * 100:.2f} %: 65 mm on "
                             "the 3 m virtual screen)", hint=f"Use --divergence {math.floor(most * 100) / 100:g} "
                                                              "or less, or a higher --convergence")
        return
    worst = vr180_worst_frame(request)
    if worst is not None and worst[0] > limit + 1e-9:
        far, number, shot, frame, params = worst
        most = limit * 100 / (1 - params.convergence)
        raise UsageError(f"shot {number} (frames {shot.start}-{shot.end - 1}) of the project has divergence "
                         f"{params.divergence:g} with convergence {params.convergence:g} at frame {frame}: the far "
                         f"plane is {far * 100:.2f} % of the width behind the screen, beyond infinity in VR180 (at "
                         f"most {limit * 100:.2f} %: 65 mm on the 3 m virtual screen)",
                         hint=f"Key that shot's divergence to {math.floor(most * 100) / 100:g} or less there, or "
                              "its convergence higher")


def vr180_worst_frame(request: ConvertRequest):
    """(far-plane parallax as a fraction of the width, shot number from 1, shot, source frame, StereoParams)
    of the frame of the request's project clip whose grade reaches farthest behind the screen (shots
    without keyframes take the request's constant grade); None when the clip has no shots."""
    try:
        clip = request.project.clip(request.clip)
    except KeyError:
        return None  # said by the job itself (engine.jobs.convert.project_clip)
    worst = None
    for number, shot in enumerate(clip.shots, 1):
        frames = range(shot.start, shot.end) if shot.grade.is_keyed else range(shot.start, shot.start + 1)
        for frame in frames:
            params = shot.grade.at(frame) if shot.grade.is_keyed else request.params
            far = params.divergence / 100 * (1 - params.convergence)
            if worst is None or far > worst[0]:
                worst = (far, number, shot, frame, params)
    return worst


def vr180_sizes(request: ConvertRequest, info: MediaInfo, source: Vr180Source | None = None
                ) -> tuple[tuple[int, int], tuple[int, int]]:
    """(flat eye size, VR180 frame size): the eye rendered at the screen's share of the equirect eye
    (engine.ops.vr180), the frame two S × S equirect eyes side by side; --max-width caps S. A source that is
    already 180° (engine.jobs.vr180): an equirect view keeps its size, a fisheye circle becomes an S × S
    equirect eye of its own pixel density, a stereo pair is passed through (no grade to check)."""
    if request.vr180_input not in VR180_INPUTS:
        raise UsageError(f"unknown --vr180-input {request.vr180_input!r}", hint=f"Use one of {', '.join(VR180_INPUTS)}")
    if source is not None:
        if request.layout != "sbs-full":
            raise UsageError(f"--vr180 is side by side, one full 180° view per eye; it cannot be {request.layout}",
                             hint="Leave --layout out (or give sbs-full)")
        if source.is_stereo:
            check_stereo_request(request, source)
            return stereo_sizes(source, info, request.encode.format, request.max_width)
    else:
        check_vr180(request)
    if source is not None:  # already 180° (mono): synthesised on its own picture, far plane at infinity
        if source.projection == "fisheye":  # rendered no larger than the capped equirect eye needs
            cap, circle = equirect_cap(request.encode.format, request.max_width), source.circles[0]
            needed = round(info.video.width * equirect_size_for(circle, cap) / (2 * circle.radius))
            eye = eye_size_for(info, min(info.video.width, max(16, needed)))
            size = equirect_size_for(circle.scaled(eye), cap)
            return eye, (2 * size, size)
        eye = eye_size_for(info, request.max_width)
        return eye, packed_size(eye[0], eye[1], "sbs-full")
    codec = request.encode.format
    eye = eye_size_for(info, vr180_flat_width(info.video.width, codec, request.max_width))
    size = vr180_size_for_eye(eye[0], codec, request.max_width)
    return eye, (2 * size, size)


def _check_request(request: ConvertRequest, info: MediaInfo) -> None:
    if request.output is None:
        raise UsageError("no output file given", hint="Pass -o OUTPUT")
    if request.layout not in LAYOUTS:
        raise UsageError(f"unknown layout {request.layout!r}", hint=f"Use one of {', '.join(LAYOUTS)}")
    if request.synthesize not in SYNTHESIZE_MODES:
        raise UsageError(f"unknown --synthesize {request.synthesize!r}", hint="Use both, right or left")
    if request.spatial:
        check_spatial(request, info)
    suffix = request.output.suffix.lower()
    if sequence_output_pattern(request.output) is not None:
        if info.is_still:
            raise UsageError("a still input makes a still output, not a sequence", path=request.output,
                             hint="Drop the frame-number placeholder from the output name")
        if suffix not in SEQUENCE_EXTENSIONS:
            raise UsageError(f"{suffix or 'no extension'} is not an image-sequence format", path=request.output,
                             hint="Use out.%06d.exr, .dpx, .tif or .png")
        return
    if info.is_still and suffix not in STILL_EXTENSIONS:
        raise UsageError("a still input makes a still output", path=request.output,
                         hint=f"Use one of {', '.join(sorted(STILL_EXTENSIONS))}")
    if not info.is_still and suffix not in VIDEO_EXTENSIONS:
        raise UsageError(f"{suffix or 'no extension'} is not a video container", path=request.output,
                         hint="Use .mp4, .mov or .mkv, a sequence such as out.%06d.exr (or `spatialdreamer frame` "
                              "for one still)")
    if not info.is_still:
        check_encoder_usable(request.encode)


def check_spatial(request: ConvertRequest, info: MediaInfo) -> None:
    """`--layout spatial`: a full side-by-side .mov/.mp4 video through hevc_nvenc's multiview profile, where it
    opens (UsageError naming what is missing and the macOS way out otherwise)."""
    if info.is_still:
        raise UsageError("a spatial video is a video; this input is a still", path=request.output,
                         hint="Use --layout sbs-full for a still")
    if not mv_hevc_usable():
        raise UsageError(f"--layout spatial (MV-HEVC for Apple Vision Pro) cannot be written here: "
                         f"{spatial_encoder_status()}", hint=MACOS_HINT)
    if request.vr180 or request.layout != "sbs-full":
        raise UsageError("--layout spatial is its own layout (two flat views); it cannot be VR180 or "
                         f"{request.layout}", hint="Leave --vr180 out")
    if request.output.suffix.lower() not in (".mov", ".mp4") or sequence_output_pattern(request.output) is not None:
        raise UsageError(f"a spatial video is .mov or .mp4, not {request.output.suffix or 'no extension'}",
                         path=request.output, hint="Use -o spatial.mov")
    if request.encode.codec != MV_HEVC_ENCODER:
        raise UsageError(f"a spatial video (MV-HEVC) is written by {MV_HEVC_ENCODER}, not {request.encode.codec}",
                         hint=f"Use --codec {MV_HEVC_ENCODER} (or leave --codec out)")


def spatial_metadata(request: ConvertRequest) -> SpatialMetadata | None:
    """The spatial metadata of a `--layout spatial` master (None otherwise), CONVENTIONS.md `headset` preset:
    baseline = the IPD (65 mm); horizontal field of view = the angle the preset's virtual screen spans (61.9°);
    disparity adjustment from the grade's convergence. A spatial video's eyes are a parallel stereo camera's, as
    an iPhone's are: the far plane at zero disparity (graded with convergence 1, RenderPlan.far_at_infinity), and
    the player shifts the two images apart by the disparity adjustment to set the zero-parallax plane. The shift
    that puts the grade's own convergence plane (δ = c) there is the far plane's parallax under the grade,
    D · (1 − c) % of the width (2 % = 200 for the defaults)."""
    if not request.spatial:
        return None
    params = request.params
    adjustment = min(1.0, params.divergence / 100 * (1.0 - params.convergence))
    return SpatialMetadata(baseline_mm=IPD_M * 1000, hfov_degrees=screen_fov_degrees(),
                           disparity_adjustment=adjustment)


def spatial_note(request: ConvertRequest) -> str:
    meta = spatial_metadata(request)
    keyed = request.project is not None and any(
        s.grade.is_keyed for c in request.project.clips for s in c.shots)
    return (f"spatial video: MV-HEVC through {MV_HEVC_ENCODER} (unverified path: no machine of ours has NVENC), "
            f"each eye one view, their far plane at zero disparity as a stereo camera's; vexu + hfov: baseline "
            f"{meta.baseline_mm:g} mm, horizontal field of view {meta.hfov_degrees:.1f}°, disparity adjustment "
            f"{meta.disparity_adjustment * 100:.2f} % of the width (the grade's convergence "
            f"{request.params.convergence:g}: the player shifts the views to put it on the window)"
            + ("; a project's keyed convergence is not used, one adjustment holds for the whole file" if keyed else ""))


def _notes(request: ConvertRequest, info: MediaInfo, padding: tuple[int, int],
           source: Vr180Source | None = None) -> list[str]:
    notes = list(info.notes)
    if sequence_output_pattern(request.output) is not None:
        hdr = hdr_note(request, info) if request.tonemap else None
        if hdr is None and not info.is_still and info.video.color_trc in HDR_TRANSFERS:
            hdr = (f"source is {info.video.color_trc} / {info.video.color_primaries} HDR: the frames keep its signal "
                   "values, not tone-mapped, and an image file carries no transfer tag (viewers show it washed "
                   "out); write a video to keep HDR tagged, or a --tonemap video master for SDR")
        return notes + ([hdr] if hdr else []) + [f"dropped stream: {s}" for s in info.dropped_streams] + (
            ["the sequence carries no audio (write a video to keep it)"] if info.audio else [])
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
    hdr = hdr_note(request, info)
    if hdr:
        notes.append(hdr)
    guess = untagged_colour_note(info)
    if guess:
        notes.append(guess)
    notes.extend(f"dropped stream: {s}" for s in info.dropped_streams)
    if info.video.is_vfr:
        notes.append("variable frame rate source: timestamps are kept")
    stereo = None if info.is_still or request.spatial else stereo_signalling_note(
        request.output, request.encode.codec, STEREO_MODES.get(request.layout))
    if stereo:
        notes.append(stereo)
    if request.spatial:
        notes.append(spatial_note(request))
    if info.video.multiview:
        notes.append("the source is MV-HEVC spatial video (two views); only its base (left) view is decoded "
                     "here, and the other eye is synthesised from it")
    packed = packed_stereo_note(info) if not request.vr180 else None
    if packed:
        notes.append(packed)
    if request.vr180:
        notes.append(vr180_note(request, info, source))
    elif info.video.projection:
        notes.append(f"the source is a {info.video.projection} spherical video; this flat master drops that "
                     "(--vr180 keeps a 180° equirect or fisheye source 180°: its eyes are passed through)")
    return notes


# A declared packing -> (its name, the ffmpeg crop that cuts out the left view).
_PACKINGS = {"left_right": ("side-by-side", "crop=iw/2:ih:0:0"),
             "right_left": ("side-by-side (right eye first)", "crop=iw/2:ih:iw/2:0"),
             "top_bottom": ("top-bottom", "crop=iw:ih/2:0:0"),
             "bottom_top": ("top-bottom (right eye on top)", "crop=iw:ih/2:0:ih/2")}


def packed_stereo_note(info: MediaInfo) -> str | None:
    """What a flat convert does with a source whose stream declares two views packed in one frame
    (H.264/HEVC frame-packing SEI, Matroska StereoMode, `st3d`); None for a mono source.

    A flat convert reads the packed frame as one picture, so both of its views are synthesised as one
    image; the note says so and how to convert one of its views instead.
    """
    mode = info.video.stereo_mode
    if mode is None or info.video.multiview:
        return None
    packing, crop = _PACKINGS.get(mode, (mode.replace("_", " "), None))
    how = f" (e.g. ffmpeg -vf {crop})" if crop else ""
    return (f"the source declares {packing} stereo (two views in each frame): this convert reads the whole "
            f"packed frame as one flat picture; to make a new stereo master of it, convert its left view "
            f"cut out first{how}")


def vr180_note(request: ConvertRequest, info: MediaInfo, source: Vr180Source | None = None) -> str:
    """What a VR180 master is, what its source was found to be, and whether its container marks it (sv3d in
    MP4/MOV only)."""
    if source is not None:
        text = source_note(source)
    elif info.video.projection and request.vr180_input == "auto":
        text = (f"VR180: the source's {info.video.projection} projection is not 180° equirect or fisheye, so its "
                f"picture is read as flat and put on a {SCREEN_WIDTH_M:g} m screen at {SCREEN_DISTANCE_M:g} m "
                f"({screen_fov_degrees():.1f}° wide) in each eye's 180° equirect view")
    else:
        text = (f"VR180: the picture on a {SCREEN_WIDTH_M:g} m screen at {SCREEN_DISTANCE_M:g} m "
                f"({screen_fov_degrees():.1f}° wide) in each eye's 180° equirect view")
    if request.output.suffix.lower() not in (".mp4", ".mov"):
        text += "; only .mp4/.mov carry the VR180 tags (st3d + sv3d): this file will look flat to players"
    return text


def hdr_note(request: ConvertRequest, info: MediaInfo) -> str | None:
    """What happens to a PQ/HLG source's HDR in this master (None for SDR sources, or when all of it is kept)."""
    video = info.video
    if info.is_still or video.color_trc not in HDR_TRANSFERS:
        return "--tonemap: the source is not PQ/HLG HDR; nothing is tone-mapped" if request.tonemap else None
    kind = "PQ (HDR10)" if video.color_trc == "smpte2084" else "HLG"
    if request.tonemap:
        pattern = sequence_output_pattern(request.output)
        if pattern is not None and pattern.suffix.lower() == ".exr":
            return "--tonemap applies to display outputs; the EXR sequence keeps the source's HDR signal"
        peak = peak_nits(video.mastering_display) if video.color_trc == "smpte2084" else 1000.0
        return (f"source is {kind} HDR: tone-mapped to SDR BT.709 (peak {peak:.0f} cd/m² rolled off to SDR white "
                "at 203 cd/m² by the BT.2390 EETF; levels below the knee kept) and tagged BT.709")
    if request.encode.output_bit_depth < 10:
        return (f"source is {kind} HDR: this 8-bit master keeps its {video.color_trc} / {video.color_primaries} tags "
                "but bands, and no tone mapping is done (use --codec hevc --bit-depth 10 to keep HDR, or --tonemap for "
                "an SDR master)")
    if (video.mastering_display or video.content_light) and request.encode.format != "hevc":
        return (f"source is {kind} HDR with mastering display / light level data: the {request.encode.codec} "
                "master keeps its colour tags, but only HEVC masters carry that data (use --codec hevc --bit-depth 10)")
    return None


def untagged_colour_note(info: MediaInfo) -> str | None:
    """What we assume for a YUV video without a colour matrix tag (players' convention), or None."""
    video = info.video
    if info.is_still or video.colorspace or chroma_of(video.pix_fmt) == "rgb":
        return None
    guess = "BT.709 (HD)" if video.coded_height >= 720 else "BT.601 (SD)"
    return (f"source has no colour tags: read as {guess}, as players do, and the master is tagged so "
            "(re-tag the source if it is otherwise)")


def renders_scene(request: ConvertRequest) -> bool:
    """An EXR output (a sequence or one still): an EXR plate then renders from its stored linear values
    (values above 1.0 kept, written back linear), not from the clipped display picture depth is estimated on."""
    if request.output is None:
        return False
    pattern = sequence_output_pattern(request.output)
    return (pattern.suffix if pattern is not None else request.output.suffix).lower() == ".exr"


def plan_convert(request: ConvertRequest, reader: MediaReader) -> RenderPlan:
    """Check `request` against the opened source and fix every size, range and path."""
    info = reader.info
    _check_request(request, info)
    start, end = (0, 1) if info.is_still else _frame_range(request, reader)
    source = vr180_source(request.vr180_input, reader) if request.vr180 else None
    if request.vr180:
        eye, (width, height) = vr180_sizes(request, info, source)
    else:
        eye = eye_size_for(info, request.max_width)
        width, height = packed_size(eye[0], eye[1], request.layout)
        if request.spatial and eye[0] % 2:
            raise UsageError(f"the eyes are {eye[0]} px wide; a spatial video's views need an even width",
                             hint=f"Pass --max-width {eye[0] - 1}")
    sequence_out = sequence_output_pattern(request.output) is not None
    even_w, even_h = (False, False) if info.is_still or sequence_out else _needs_even(request)
    pad = (width % 2 if even_w else 0, height % 2 if even_h else 0)
    frame_size = (width + pad[0], height + pad[1])
    if not info.is_still and not sequence_out:
        _check_h264_size(*frame_size, request)
    outputs = output_paths(request.output, request.layout)
    inputs = job_inputs(request)
    first_number = (info.video.start_number or 0) + start
    check_aov(request, info)
    files = written_files(outputs, first_number, end - start) + aov_written_files(request, outputs, first_number,
                                                                                  end - start)
    check_outputs_writable(files, request.overwrite, inputs)
    if request.export_holes is not None:
        if info.is_still:
            raise UsageError("--export-holes is for video sources")
        check_outputs_writable(hole_mask_paths(request), request.overwrite, inputs)
    audio = None
    if not info.is_still and info.audio:
        t0 = reader.frame(start).time
        t1 = reader.frame(end).time if end < info.video.frame_count else None
        if info.audio_path is not None:  # a sequence's soundtrack ends with the picture
            t1 = Fraction(end) / info.video.fps
        audio = (t0, t1)
    bits = (16 if info.video.bit_depth > 8 else 8) if sequence_out or info.is_still else None
    if renders_scene(request) and info.video.codec == "exr":
        bits = 32  # the plate's own linear values, unclipped (engine.jobs.frame.FLOAT_IMAGE)
    stereo_mode = None if request.spatial else STEREO_MODES.get(request.layout)  # MV-HEVC: vexu, not st3d
    return RenderPlan(start, end, eye, frame_size, pad, outputs, stereo_mode, audio,
                      info.is_still, tuple(_notes(request, info, pad, source)), first_number, bits, source,
                      request.spatial)
