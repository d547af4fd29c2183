"""Options shared by several commands, as argparse parent parsers, and the value types they use.

    sub.add_parser("convert", parents=[render_options(), encode_options(), common_options()])

Each function returns a fresh parent (``add_help=False``) whose groups show in the command's
``--help``. :func:`convert_request` is the one place such a Namespace becomes an
``api.ConvertRequest``. Building these touches only light names of ``engine.api`` (no torch).
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

from engine import api


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def frame_rate(text: str) -> Fraction:
    """argparse type: '24', '25', '23.976' (the NTSC rate it rounds, 24000/1001) or '24000/1001' -> Fraction."""
    try:
        value = Fraction(text) if "/" in text else api.snap_fps(float(text))
    except (ValueError, ZeroDivisionError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read frame rate {text!r} (e.g. 24, 23.976, 24000/1001)") from exc
    if value <= 0:
        raise argparse.ArgumentTypeError(f"frame rate {text} must be positive")
    return value


def bitrate(text: str) -> int:
    """argparse type: '40M', '8000k', '2.5m' or plain bits per second -> int."""
    units = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
    t = text.strip().lower()
    try:
        return int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"cannot read bitrate {text!r} (e.g. 20M, 8000k)") from exc


def _parent() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(add_help=False)


def common_options() -> argparse.ArgumentParser:
    """--device, --models-dir, --cache-dir, --no-cache, --progress, -q, -v, --debug."""
    p = _parent()
    g = p.add_argument_group("common")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    g.add_argument("--models-dir", type=Path, help="folder with one sub-folder per depth model")
    g.add_argument("--cache-dir", type=Path, help="depth/flow cache folder")
    g.add_argument("--no-cache", action="store_true", help="do not read or write the depth cache")
    g.add_argument("--progress", choices=api.PROGRESS_MODES, default="bar")
    g.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    g.add_argument("-v", "--verbose", action="store_true", help="more detail on errors and notes")
    g.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _stereo_group(p: argparse.ArgumentParser) -> None:
    defaults = api.StereoParams()
    g = p.add_argument_group("stereo")
    g.add_argument("--layout", choices=(*api.LAYOUTS, "spatial"), default="sbs-full",
                   help="frame packing (default sbs-full); spatial = MV-HEVC for Apple Vision Pro (says what it needs)")
    g.add_argument("--divergence", type=float, default=defaults.divergence, metavar="PCT",
                   help="near-to-far parallax range, %% of eye width (default 3.0)")
    g.add_argument("--convergence", type=float, default=defaults.convergence, metavar="0..1",
                   help="normalised depth of the screen plane (default 0.333)")
    g.add_argument("--synthesize", choices=api.SYNTHESIZE_MODES, default="both",
                   help="both: each eye half the shift (default); right/left: keep the source as one eye")
    g.add_argument("--temporal", choices=("on", "off"), default="on",
                   help="on: DVG temporal hole filling (default); off: per-frame filling (same depth and grade)")
    g.add_argument("--swap-eyes", action="store_true", help="put the right eye left / on top")
    g.add_argument("--bars", choices=("auto", "off"), default="auto",
                   help="auto: letterbox/pillarbox bars stay flat on the screen plane and out of the depth range")
    g.add_argument("--vr180", action="store_true",
                   help="VR180 master: each eye's 180° equirect view of the picture on the headset preset's "
                        "virtual screen (3 m at 2.5 m), side by side, tagged st3d + sv3d in .mp4/.mov; a source "
                        "that is already 180° (equirect or fisheye, one view or two) is passed through")
    g.add_argument("--vr180-input", choices=("auto", "flat", "equirect", "fisheye"), default="auto",
                   help="what a --vr180 source is: auto (its projection metadata, else 180° fisheye circles found "
                        "in the picture, else flat), or say it"),
    g.add_argument("--max-width", type=positive_int, metavar="PX", help="cap one eye's width (aspect kept)")


def _depth_group(p: argparse.ArgumentParser) -> None:
    d = p.add_argument_group("depth")
    d.add_argument("--depth-model", choices=api.MODEL_NAMES, default="auto",
                   help="auto: the best model in the models folder, else weights-free")
    d.add_argument("--stabilise", choices=api.STABILISE_MODES, default="align",
                   help="temporal depth stabilisation within a shot (default align: robust scale/shift "
                        "fit to flow-matched key frames)")
    d.add_argument("--depth-smoothing", type=int, choices=range(0, 9), default=4, metavar="R",
                   help="after stabilisation, average each frame's depth with R frames on each side pulled "
                        "along the optical flow (0 = off; default 4)")
    d.add_argument("--depth", type=Path, metavar="PATH",
                   help="import depth: image, image sequence (folder or pattern), video, .npy/.npz")
    d.add_argument("--depth-kind", choices=api.DEPTH_KINDS, default="inverse",
                   help="meaning of imported values (default inverse: larger is nearer)")
    d.add_argument("--depth-scale", type=float, default=1.0, metavar="S",
                   help="divide integer depth images by S (Middlebury stores d×4/×8/×16)")


def _export_group(p: argparse.ArgumentParser) -> None:
    x = p.add_argument_group("depth export (VFX round-trips)")
    x.add_argument("--export-depth", type=Path, metavar="DIR",
                   help="write the exact depth the grade used, as nearness (1 - δ), one file per frame")
    x.add_argument("--export-depth-format", choices=api.DEPTH_EXPORT_FORMATS, default="png16")
    x.add_argument("--export-disparity", type=Path, metavar="DIR",
                   help="write the pixel disparity each frame was rendered with")
    x.add_argument("--export-disparity-format", choices=api.DISPARITY_EXPORT_FORMATS, default="exr")
    x.add_argument("--aov", action="store_true",
                   help="with --layout pair: each eye's hole mask and disparity for compositing (EXR channels hole "
                        "and disparity, files beside PNG/TIFF/DPX frames, or alpha = 1 - hole in ProRes 4444)")
    x.add_argument("--export-holes", type=Path, metavar="DIR",
                   help="write each eye's disocclusion masks as lossless videos (for `eval --holes`)")


def _shots_group(p: argparse.ArgumentParser) -> None:
    s = p.add_argument_group("shots")
    s.add_argument("--shots", default="auto", metavar="auto|off|FILE",
                   help="auto: detect cuts (default); off: one shot; FILE: cuts from an .otio or .edl")
    s.add_argument("--project", type=Path, metavar="FILE",
                   help="a project (.sdproj, or our .otio) with per-shot keyframed grades (overrides --shots and "
                        "the grade flags of graded shots); INPUT may then be left out: the clip's media is used")
    s.add_argument("--clip", metavar="ID|NUMBER|NAME",
                   help="which clip of a --project with several (its id c2, its number 2 or its name)")


def picture_options() -> argparse.ArgumentParser:
    """Stereo and depth flags only (for `render`, whose shots come from its project)."""
    p = _parent()
    _stereo_group(p)
    _depth_group(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return p


def _sequence_group(p: argparse.ArgumentParser) -> None:
    q = p.add_argument_group("image sequences (INPUT plate.%%06d.exr, plate.####.dpx or a folder of one numbered run)")
    q.add_argument("--fps", type=frame_rate, metavar="RATE",
                   help="frame rate of an image-sequence input (required for sequences): 24, 25, 23.976, 24000/1001")
    q.add_argument("--audio", type=Path, metavar="FILE",
                   help="a soundtrack for an image-sequence input (WAV, AAC, a video's sound ...), cut to the picture")
    q.add_argument("--fill-gaps", choices=("fail", "hold"), default="fail",
                   help="a gap in the numbering: fail (default) or hold (repeat the frame before the gap)")


def render_options() -> argparse.ArgumentParser:
    """Everything that decides the picture: sequence input, stereo, depth, depth export, shots, --overwrite."""
    p = _parent()
    _sequence_group(p)
    _stereo_group(p)
    _depth_group(p)
    _export_group(p)
    _shots_group(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return p


def refiner_options() -> argparse.ArgumentParser:
    """--refiner NAME|PATH and how it runs (unset values: the model's saved defaults)."""
    p = _parent()
    g = p.add_argument_group("diffusion refiner (SpatialDreamer; needs a trained refiner)")
    g.add_argument("--refiner", metavar="NAME|PATH",
                   help="refine the synthesised eyes with this refiner: a name in the models folder (or shipped), "
                        "or a folder `train-refiner --out` wrote")
    g.add_argument("--refiner-blend", choices=("composite", "full"), default="composite",
                   help="composite: refined pixels only in and near the holes (default); full: the whole "
                        "refined view, as the paper does")
    g.add_argument("--refiner-steps", type=positive_int, metavar="N", help="denoising steps per window")
    g.add_argument("--refiner-guidance", type=float, metavar="G", help="guidance on the reference (1 = off)")
    g.add_argument("--refiner-seed", type=int, default=0, metavar="N",
                   help="noise seed (each window's noise comes from it, its shot and its start; default 0)")
    g.add_argument("--refiner-window", type=positive_int, metavar="FRAMES", help="frames per temporal window")
    g.add_argument("--refiner-window-overlap", type=int, metavar="FRAMES",
                   help="frames shared by neighbouring windows (blended)")
    g.add_argument("--refiner-tile", type=int, metavar="PX", help="spatial tile size (0 = whole frame)")
    g.add_argument("--refiner-tile-overlap", type=int, metavar="PX", help="overlap of neighbouring tiles")
    return p


def _refiner_spec(args: argparse.Namespace):
    if getattr(args, "refiner", None) is None:
        return None
    return api.RefinerSpec(args.refiner, steps=args.refiner_steps, guidance=args.refiner_guidance,
                           seed=args.refiner_seed, window=args.refiner_window,
                           window_overlap=args.refiner_window_overlap, tile=args.refiner_tile,
                           tile_overlap=args.refiner_tile_overlap, blend=args.refiner_blend)


def encode_options(with_range: bool = True) -> argparse.ArgumentParser:
    """Codec, quality and (`with_range`) the --start/--end range of a video master."""
    p = _parent()
    g = p.add_argument_group("encoding")
    g.add_argument("--codec", choices=api.CODECS, default="h264",
                   help="h264/hevc: libx264/libx265; h264_nvenc/hevc_nvenc: NVIDIA's hardware encoders, where an "
                        "NVIDIA GPU and driver let FFmpeg open them (`spatialdreamer doctor` says)")
    g.add_argument("--bit-depth", type=int, choices=(8, 10), default=8)
    rate = g.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=int, metavar="N", help="constant quality (h264 default 18, hevc 20)")
    rate.add_argument("--bitrate", type=bitrate, metavar="B", help="target bitrate, e.g. 40M")
    g.add_argument("--preset", help="x264/x265 preset (default medium)")
    g.add_argument("--prores-profile", choices=("hq", "4444"), default="hq")
    g.add_argument("--tonemap", action="store_true",
                   help="tone-map a PQ/HLG HDR source to an SDR BT.709 master (default: HDR is kept, and an 8-bit "
                        "master of it is warned about)")
    g.add_argument("--pix-fmt", choices=("yuv420p", "yuv422p", "yuv444p"),
                   help="h264/hevc chroma (default yuv420p, what TVs and headsets decode; yuv444p keeps 4:4:4)")
    if not with_range:
        return p
    t = p.add_argument_group("range")
    t.add_argument("--start", metavar="T", help="seconds, HH:MM:SS.mmm, timecode HH:MM:SS:FF or 123f")
    t.add_argument("--end", metavar="T", help="end of the range (exclusive), same forms")
    return p


def _encode_settings(args: argparse.Namespace):
    if not hasattr(args, "codec"):
        return api.EncodeSettings()
    return api.EncodeSettings(codec=args.codec, bit_depth=args.bit_depth, crf=args.crf, bitrate=args.bitrate,
                              preset=args.preset, prores_profile=args.prores_profile, pix_fmt=args.pix_fmt)


def _export_spec(args: argparse.Namespace):
    if getattr(args, "export_depth", None) is None and getattr(args, "export_disparity", None) is None:
        return None
    if args.export_depth is None:
        raise api.UsageError("--export-disparity needs --export-depth DIR too (depth.json lives there)")
    return api.DepthExportSpec(args.export_depth, args.export_depth_format, args.export_disparity,
                               args.export_disparity_format)


def convert_request(args: argparse.Namespace):
    """The one place a render/encode Namespace becomes an ``api.ConvertRequest``."""
    if getattr(args, "vr180_input", "auto") != "auto" and not getattr(args, "vr180", False):
        raise api.UsageError(f"--vr180-input {args.vr180_input} says what a --vr180 source is; there is no --vr180",
                             hint="Add --vr180, or leave --vr180-input out")
    spatial = args.layout == "spatial"
    if spatial and not api.mv_hevc_usable():
        raise api.UsageError(f"--layout spatial (MV-HEVC for Apple Vision Pro) cannot be written here: "
                             f"{api.spatial_encoder_status()}", hint=api.SPATIAL_HINT)
    if spatial and getattr(args, "codec", None) == "h264":  # the default: MV-HEVC is hevc_nvenc's
        args.codec = "hevc_nvenc"
    try:
        params = api.StereoParams(args.divergence, args.convergence)
    except ValueError as exc:
        raise api.UsageError(str(exc)) from exc
    depth = (api.ImportedDepthSpec(args.depth, args.depth_kind, args.depth_scale)
             if args.depth is not None else None)
    return api.ConvertRequest(
        input=args.input, output=args.output, layout="sbs-full" if spatial else args.layout, params=params,
        synthesize=args.synthesize,
        temporal=args.temporal == "on", swap_eyes=args.swap_eyes, depth=depth,
        depth_config=api.DepthConfig(model=args.depth_model, models_dir=args.models_dir, device=args.device),
        stabilise=api.StabiliseConfig(mode=args.stabilise,
                                      temporal=api.TemporalFilterConfig(radius=args.depth_smoothing)),
        encode=_encode_settings(args), max_width=args.max_width, start=getattr(args, "start", None),
        end=getattr(args, "end", None), device=args.device, overwrite=args.overwrite,
        shots=getattr(args, "shots", "auto"),
        project=args.project if isinstance(args.project, api.Project) else (
            api.load_project(args.project) if args.project else None), clip=args.clip,
        export_depth=_export_spec(args), export_holes=getattr(args, "export_holes", None),
        cache_dir=args.cache_dir, use_cache=not args.no_cache, refiner=_refiner_spec(args),
        fps=getattr(args, "fps", None),
        fill_gaps=getattr(args, "fill_gaps", "fail"), vr180=getattr(args, "vr180", False),
        vr180_input=getattr(args, "vr180_input", "auto"),
        aov=getattr(args, "aov", False), bars=getattr(args, "bars", "auto"), audio=getattr(args, "audio", None),
        tonemap=getattr(args, "tonemap", False), spatial=spatial)
