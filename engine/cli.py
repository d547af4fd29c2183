"""`spatialdreamer …` / `python -m engine …`: argparse -> engine.api, progress, exit codes.

Exit codes (CONVENTIONS.md): 0 ok · 1 internal error · 2 usage · 3 bad input ·
4 output problem · 5 model missing · 130 cancelled. Errors are one line on
stderr; -v adds detail, --debug the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from engine import api
from engine.cli_eval import add_eval_parser, cmd_eval
from engine.cli_pairs import add_pairs_parser, cmd_make_pairs
from engine.cli_progress import run_job
from engine.cli_shots import add_shots_parser, cmd_shots

EXAMPLES_CONVERT = """examples:
  spatialdreamer convert shot.mp4 -o shot_sbs.mp4
  spatialdreamer convert shot.mov -o master.mov --layout tb-full --codec prores --bit-depth 10
  spatialdreamer convert shot.mp4 -o headset.mp4 --layout sbs-half --divergence 2.5 --convergence 0.4
  spatialdreamer convert shot.mp4 -o eyes.mp4 --layout pair --start 00:00:10.000 --end 20
  spatialdreamer convert plate.exr.mp4 -o out.mp4 --depth disp/ --depth-kind disparity-px
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _bitrate(text: str) -> int:
    units = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
    t = text.strip().lower()
    try:
        return int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"cannot read bitrate {text!r} (e.g. 20M, 8000k)") from exc


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("common")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    g.add_argument("--models-dir", type=Path, help="folder with one sub-folder per depth model")
    g.add_argument("--cache-dir", type=Path, help="depth/flow cache folder")
    g.add_argument("--no-cache", action="store_true", help="do not read or write the depth cache")
    g.add_argument("--progress", choices=("bar", "json", "none"), default="bar")
    g.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    g.add_argument("-v", "--verbose", action="store_true", help="more detail on errors and notes")
    g.add_argument("--debug", action="store_true", help="show tracebacks")


def _add_render_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("stereo")
    g.add_argument("--layout", choices=api.LAYOUTS, default="sbs-full", help="frame packing (default sbs-full)")
    g.add_argument("--divergence", type=float, default=api.StereoParams().divergence, metavar="PCT",
                   help="near-to-far parallax range, %% of eye width (default 3.0)")
    g.add_argument("--convergence", type=float, default=api.StereoParams().convergence, metavar="0..1",
                   help="normalised depth of the screen plane (default 0.333)")
    g.add_argument("--synthesize", choices=api.SYNTHESIZE_MODES, default="both",
                   help="both: each eye half the shift (default); right/left: keep the source as one eye")
    g.add_argument("--temporal", choices=("on", "off"), default="on",
                   help="on: DVG temporal hole filling (default); off: per-frame filling (same depth and grade)")
    g.add_argument("--swap-eyes", action="store_true", help="put the right eye left / on top")
    g.add_argument("--max-width", type=_positive_int, metavar="PX", help="cap one eye's width (aspect kept)")
    d = p.add_argument_group("depth")
    d.add_argument("--depth-model", choices=api.MODEL_NAMES, default="auto",
                   help="auto: the best model in the models folder, else weights-free")
    d.add_argument("--stabilise", choices=("align", "ema", "off"), default="align",
                   help="temporal depth stabilisation within a shot (default align: robust scale/shift "
                        "fit to flow-matched key frames)")
    d.add_argument("--depth", type=Path, metavar="PATH",
                   help="import depth: image, image sequence (folder or pattern), video, .npy/.npz")
    d.add_argument("--depth-kind", choices=api.DEPTH_KINDS, default="inverse",
                   help="meaning of imported values (default inverse: larger is nearer)")
    d.add_argument("--depth-scale", type=float, default=1.0, metavar="S",
                   help="divide integer depth images by S (Middlebury stores d×4/×8/×16)")
    x = p.add_argument_group("depth export (VFX round-trips)")
    x.add_argument("--export-depth", type=Path, metavar="DIR",
                   help="write the exact depth the grade used, as nearness (1 - δ), one file per frame")
    x.add_argument("--export-depth-format", choices=("png16", "exr", "npy"), default="png16")
    x.add_argument("--export-disparity", type=Path, metavar="DIR",
                   help="write the pixel disparity each frame was rendered with")
    x.add_argument("--export-disparity-format", choices=("exr", "npy"), default="exr")
    x.add_argument("--export-holes", type=Path, metavar="DIR",
                   help="write each eye's disocclusion masks as lossless videos (for `eval --holes`)")
    s = p.add_argument_group("shots")
    s.add_argument("--shots", default="auto", metavar="auto|off|FILE",
                   help="auto: detect cuts (default); off: one shot; FILE: cuts from an .otio or .edl")
    s.add_argument("--project", type=Path, metavar="FILE",
                   help="a project file with per-shot keyframed grades (overrides --shots and the grade flags)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def _add_encode_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("encoding")
    g.add_argument("--codec", choices=("h264", "hevc", "prores", "ffv1"), default="h264")
    g.add_argument("--bit-depth", type=int, choices=(8, 10), default=8)
    rate = g.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=int, metavar="N", help="constant quality (h264 default 18, hevc 20)")
    rate.add_argument("--bitrate", type=_bitrate, metavar="B", help="target bitrate, e.g. 40M")
    g.add_argument("--preset", help="x264/x265 preset (default medium)")
    g.add_argument("--prores-profile", choices=("hq", "4444"), default="hq")
    t = p.add_argument_group("range")
    t.add_argument("--start", metavar="T", help="seconds, HH:MM:SS.mmm, timecode HH:MM:SS:FF or 123f")
    t.add_argument("--end", metavar="T", help="end of the range (exclusive), same forms")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spatialdreamer",
                                     description="Monocular video to stereo 3D masters (SpatialDreamer).")
    parser.add_argument("--version", action="version", version=f"spatialdreamer {api.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    conv = sub.add_parser("convert", help="convert a video or still into a stereo master",
                          epilog=EXAMPLES_CONVERT, formatter_class=argparse.RawDescriptionHelpFormatter)
    conv.add_argument("input", type=Path)
    conv.add_argument("-o", "--output", type=Path, required=True)
    _add_render_options(conv)
    _add_encode_options(conv)
    _add_common(conv)

    frame = sub.add_parser("frame", help="render one graded frame to a still (fast preview)",
                           epilog="example:\n  spatialdreamer frame shot.mp4 --at 00:00:04.000 -o look.png",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    frame.add_argument("input", type=Path)
    frame.add_argument("--at", required=True, metavar="T", help="which frame (seconds, clock, timecode, 123f)")
    frame.add_argument("-o", "--output", type=Path, required=True)
    _add_render_options(frame)
    _add_common(frame)

    prb = sub.add_parser("probe", help="describe a media file")
    prb.add_argument("input", type=Path)
    prb.add_argument("--json", action="store_true", help="machine-readable output")
    _add_common(prb)

    doc = sub.add_parser("doctor", help="check encoders, devices, OpenGL and models")
    _add_common(doc)

    add_shots_parser(sub)
    add_eval_parser(sub)
    add_pairs_parser(sub)

    models = sub.add_parser("models", help="depth models in the models folder")
    models.add_argument("action", choices=("list",))
    _add_common(models)
    return parser


def _encode_settings(args: argparse.Namespace) -> api.EncodeSettings:
    return api.EncodeSettings(codec=args.codec, bit_depth=args.bit_depth, crf=args.crf, bitrate=args.bitrate,
                              preset=args.preset, prores_profile=args.prores_profile)


def request_from_args(args: argparse.Namespace) -> api.ConvertRequest:
    """The one place an argparse Namespace becomes engine settings."""
    try:
        params = api.StereoParams(args.divergence, args.convergence)
    except ValueError as exc:
        raise api.UsageError(str(exc)) from exc
    depth = (api.ImportedDepthSpec(args.depth, args.depth_kind, args.depth_scale)
             if args.depth is not None else None)
    encode = _encode_settings(args) if hasattr(args, "codec") else api.EncodeSettings()
    return api.ConvertRequest(
        input=args.input, output=args.output, layout=args.layout, params=params, synthesize=args.synthesize,
        temporal=args.temporal == "on",
        swap_eyes=args.swap_eyes, depth=depth,
        depth_config=api.DepthConfig(model=args.depth_model, models_dir=args.models_dir, device=args.device),
        stabilise=api.StabiliseConfig(mode=args.stabilise),
        encode=encode, max_width=args.max_width, start=getattr(args, "start", None),
        end=getattr(args, "end", None), device=args.device, overwrite=args.overwrite, shots=args.shots,
        project=api.load_project(args.project) if args.project else None,
        export_depth=_export_spec(args), export_holes=getattr(args, "export_holes", None),
        cache_dir=args.cache_dir, use_cache=not args.no_cache)


def _export_spec(args: argparse.Namespace) -> api.DepthExportSpec | None:
    if getattr(args, "export_depth", None) is None and getattr(args, "export_disparity", None) is None:
        return None
    if args.export_depth is None:
        raise api.UsageError("--export-disparity needs --export-depth DIR too (depth.json lives there)")
    return api.DepthExportSpec(args.export_depth, args.export_depth_format, args.export_disparity,
                               args.export_disparity_format)


def cmd_convert(args: argparse.Namespace) -> int:
    request = request_from_args(args)
    run_job(lambda token: api.convert(request, cancel=token), args.progress, args.quiet)
    if not args.quiet and args.progress != "json":
        print(f"wrote {request.output}" if request.layout != "pair" else
              f"wrote {request.output.stem}_L / _R{request.output.suffix}", file=sys.stderr)
    return 0


def cmd_frame(args: argparse.Namespace) -> int:
    paths = api.render_preview(request_from_args(args), args.at)
    if not args.quiet:
        print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    info = api.probe(args.input)
    if args.json:
        print(json.dumps(info.to_dict(), indent=2))
        return 0
    print(describe_media(info))
    return 0


def describe_media(info: api.MediaInfo) -> str:
    v = info.video
    lines = [f"{info.path}  ({info.container}{', still' if info.is_still else ''})",
             f"  video #{v.index}: {v.codec} {v.width}x{v.height} {v.pix_fmt} {v.bit_depth}-bit, "
             f"{float(v.fps):.3f} fps{' (VFR)' if v.is_vfr else ''}, {v.frame_count} frames, {v.duration_s:.3f} s",
             f"  colour: primaries {v.color_primaries}, transfer {v.color_trc}, matrix {v.colorspace}, "
             f"range {v.color_range}"]
    if v.rotation:
        lines.append(f"  rotation: {v.rotation} degrees (applied on decode)")
    if v.start_timecode:
        lines.append(f"  start timecode: {v.start_timecode}")
    lines += [f"  audio #{a.index}: {a.codec} {a.sample_rate} Hz {a.layout or a.channels}, {a.duration_s:.3f} s"
              for a in info.audio]
    lines += [f"  not carried: {s}" for s in info.dropped_streams]
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    from engine.doctor import run_checks

    ok = True
    for check in run_checks(models_dir=args.models_dir):
        ok &= check.ok or not check.required
        mark = "ok  " if check.ok else ("FAIL" if check.required else "--  ")
        print(f"[{mark}] {check.name}: {check.detail}")
    return 0 if ok else 1


def cmd_models(args: argparse.Namespace) -> int:
    from engine.models import format_models_table, resolve_models_dir, scan_models

    folder, source = resolve_models_dir(args.models_dir)
    print(f"models folder: {folder}  (from {source})")
    print(format_models_table(scan_models(folder)))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "convert": cmd_convert, "frame": cmd_frame, "probe": cmd_probe, "doctor": cmd_doctor, "models": cmd_models,
    "shots": cmd_shots, "eval": cmd_eval, "make-pairs": cmd_make_pairs,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except api.SpatialDreamerError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc.one_line()}" if exc.exit_code != 130 else "cancelled: partial output removed",
              file=sys.stderr)
        if args.verbose and exc.__cause__ is not None:
            print(f"  detail: {type(exc.__cause__).__name__}: {exc.__cause__}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    except Exception as exc:  # the internal-error path: one line, exit 1
        if args.debug:
            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
