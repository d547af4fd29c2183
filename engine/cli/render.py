"""`spatialdreamer render PROJECT.sdproj -o MASTER`: a project's clip in resumable chunks, then one master.

Convert's output flags override the project's render settings; rerunning resumes from the manifest
(a finished render says it is up to date). `--chunk ID` renders one chunk (a farm task),
`--assemble` joins the committed chunks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine import api
from engine.cli.options import (
    common_options,
    convert_request,
    encode_options,
    picture_options,
    positive_int,
    refiner_options,
)
from engine.cli.progress import run_job

NAME = "render"
EXAMPLES = """examples:
  spatialdreamer render reel.sdproj -o reel_sbs.mp4                      # every shot, in chunks of 48 frames
  spatialdreamer render reel.sdproj --clip 2 --shots 3,5-7 -o part.mov --codec prores
  spatialdreamer render reel.sdproj --frames 0:240 --chunk-frames 24 -o head.mkv --codec ffv1
  spatialdreamer render reel.sdproj -o reel.mp4 --chunk c1-s002-000048-000096   # one chunk (farm task)
  spatialdreamer render reel.sdproj -o reel.mp4 --assemble                  # join committed chunks

Rerun the same command after a crash or a kill: committed chunks are kept, the rest rendered.
"""

# flags whose default comes from the project's render settings (a flag given overrides it)
PROJECT_SETTINGS = ("layout", "codec", "bit_depth", "crf", "preset", "synthesize", "temporal", "max_width",
                    "depth_model", "stabilise")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `render` (picture, encode and common options; the project's settings as defaults)."""
    p = subparsers.add_parser(NAME, help="render a project in resumable chunks (farm-ready) into one master",
                              epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                              parents=[picture_options(), encode_options(with_range=False), refiner_options(),
                                       common_options()])
    p.add_argument("project", type=Path, help="the project (.sdproj, or our .otio)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="MASTER")
    g = p.add_argument_group("chunks")
    g.add_argument("--clip", metavar="ID|NUMBER|NAME", help="which clip of a project with several")
    g.add_argument("--shots", dest="shot_list", metavar="3,5-7", help="shot numbers from 1 (default: all)")
    g.add_argument("--frames", metavar="START:END", help="source frames, half-open (either side may be empty)")
    g.add_argument("--chunk-frames", type=positive_int, default=48, metavar="N", help="frames per chunk (default 48)")
    g.add_argument("--chunk", metavar="ID|NUMBER", help="render only this chunk (a farm task); no master")
    g.add_argument("--analyse-shot", type=positive_int, metavar="N",
                   help="only analyse shot N (depth and its δ range into the shared cache; a farm task)")
    g.add_argument("--assemble", action="store_true", help="only join the committed chunks into the master")
    g.add_argument("--work-dir", type=Path, metavar="DIR",
                   help="chunk folder (default: .MASTER.render beside the master)")
    f = p.add_argument_group("farm")
    f.add_argument("--ray", metavar="ADDRESS|local",
                   help="render the chunks on a Ray cluster (HOST:PORT of its head) or a local one ('local')")
    f.add_argument("--workers", type=positive_int, default=2, metavar="N",
                   help="Ray workers (actors) rendering chunks (default 2)")
    f.add_argument("--gpus-per-worker", type=float, metavar="F",
                   help="GPUs each Ray worker asks for (default: 1 when --device is cuda, or auto on a "
                        "cluster with GPUs; else 0)")
    f.add_argument("--path-map", action="append", metavar="FROM=TO",
                   help="shared storage this machine sees at FROM is at TO on the workers (--ray, --emit; "
                        "repeatable); without them, media paths stored in the project are mapped")
    f.add_argument("--emit", choices=api.EMIT_FORMATS,
                   help="write a job description whose tasks are `spatialdreamer render --chunk ID` calls "
                        "(OpenJD template, OpenCue job spec, or a JSON list of commands); renders nothing")
    f.add_argument("--emit-to", type=Path, metavar="FILE", help="where --emit writes (default: stdout)")
    p.set_defaults(**dict.fromkeys(PROJECT_SETTINGS))
    return p


def apply_project_settings(args: argparse.Namespace, settings) -> None:
    """Fill every flag the user left out from the project's RenderSettings."""
    for name in PROJECT_SETTINGS:
        if getattr(args, name) is not None:
            continue
        value = getattr(settings, name)
        if name == "temporal":
            value = "on" if value else "off"
        if name == "crf" and args.bitrate is not None:
            value = None
        setattr(args, name, value)
    args.swap_eyes = args.swap_eyes or settings.swap_eyes
    if args.refiner is None and settings.refiner:  # the project's refiner, with its own steps, seed and blend
        args.refiner, args.refiner_seed = settings.refiner, settings.refiner_seed
        args.refiner_blend = settings.refiner_blend
        args.refiner_steps = args.refiner_steps if args.refiner_steps is not None else settings.refiner_steps


def render_request(args: argparse.Namespace):
    """The RenderRequest of a parsed `render` command line."""
    project = api.load_project(args.project)
    try:
        clip = project.clip(args.clip)
    except KeyError as exc:
        raise api.UsageError(str(exc.args[0]), path=args.project, hint="Name the clip with --clip") from exc
    apply_project_settings(args, project.render)
    args.input, args.project_file, args.project = None, args.project, project
    convert = convert_request(args)
    shots = api.parse_shot_list(args.shot_list, len(clip.shots)) if args.shot_list else None
    frames = api.parse_frame_range(args.frames) if args.frames else None
    # with --ray / --emit the map is how the workers see this machine's paths; else it maps the project's media
    local_map = () if (args.ray or args.emit) else api.parse_path_maps(args.path_map)
    return api.RenderRequest(convert, shots=shots, frames=frames, chunk_frames=args.chunk_frames,
                             chunk=args.chunk, analyse_shot=args.analyse_shot, assemble_only=args.assemble,
                             work_dir=args.work_dir, project_file=args.project_file, path_map=local_map)


# (flag, attribute) of every value a farm task repeats, explicitly (after the project's settings)
_TASK_VALUES = (("--layout", "layout"), ("--codec", "codec"), ("--bit-depth", "bit_depth"), ("--crf", "crf"),
                ("--bitrate", "bitrate"), ("--preset", "preset"), ("--prores-profile", "prores_profile"),
                ("--synthesize", "synthesize"), ("--temporal", "temporal"), ("--max-width", "max_width"),
                ("--depth-model", "depth_model"), ("--stabilise", "stabilise"), ("--divergence", "divergence"),
                ("--convergence", "convergence"), ("--depth", "depth"), ("--depth-kind", "depth_kind"),
                ("--depth-scale", "depth_scale"), ("--clip", "clip"), ("--shots", "shot_list"),
                ("--frames", "frames"), ("--chunk-frames", "chunk_frames"), ("--work-dir", "work_dir"),
                ("--cache-dir", "cache_dir"), ("--models-dir", "models_dir"), ("--device", "device"))
# ... and of the refiner, when there is one
_REFINER_VALUES = (("--refiner-steps", "refiner_steps"), ("--refiner-guidance", "refiner_guidance"),
                   ("--refiner-seed", "refiner_seed"), ("--refiner-window", "refiner_window"),
                   ("--refiner-window-overlap", "refiner_window_overlap"), ("--refiner-tile", "refiner_tile"),
                   ("--refiner-tile-overlap", "refiner_tile_overlap"), ("--refiner-blend", "refiner_blend"))


def task_command(args: argparse.Namespace) -> list[str]:
    """The render command line every farm task shares (absolute paths as the workers see them through
    --path-map, every setting explicit; the map itself goes along for the media paths in the project)."""
    mapping = api.parse_path_maps(args.path_map)

    def worker_path(p: Path) -> str:
        return str(api.map_path(p.resolve(), mapping))

    argv = ["spatialdreamer", "render", worker_path(args.project_file), "-o", worker_path(args.output)]
    for flag, name in _TASK_VALUES:
        value = getattr(args, name, None)
        if value is not None:
            argv += [flag, worker_path(value) if isinstance(value, Path) else str(value)]
    if getattr(args, "refiner", None):
        folder = Path(args.refiner)  # a refiner named by its folder travels through the map like the media
        argv += ["--refiner", worker_path(folder) if api.looks_like_path(args.refiner) else args.refiner]
        argv += [x for flag, name in _REFINER_VALUES if getattr(args, name, None) is not None
                 for x in (flag, str(getattr(args, name)))]
    argv += [flag for flag, on in (("--swap-eyes", args.swap_eyes), ("--overwrite", args.overwrite)) if on]
    for src, dst in mapping:
        argv += ["--path-map", f"{src}={dst}"]
    return [*argv, "--progress", "json"]


def emit(args: argparse.Namespace, request) -> int:
    """Write the job description of `request` as `args.emit`."""
    import json

    convert = request.convert
    clip = convert.project.clip(convert.clip)
    lag = convert.dvg.neighbours if convert.temporal else 0
    chunks = api.plan_chunks(clip, request.shots, request.frames, request.chunk_frames, lag)
    job = api.farm_job(task_command(args), chunks, convert.project.name or args.project_file.stem)
    if args.emit == "openjd":
        text = json.dumps(api.openjd_template(job), indent=2) + "\n"
    elif args.emit == "opencue":
        text = api.opencue_spec(job)
    else:
        text = json.dumps(job, indent=2) + "\n"
    if args.emit_to is None:
        sys.stdout.write(text)
    else:
        api.write_text_atomic(args.emit_to, text)
        if not args.quiet:
            print(f"wrote {args.emit_to}: {len(chunks)} chunk task(s), {len(job['analyse'])} shot(s)",
                  file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    """Render with a progress bar; say what was rendered, kept and written."""
    request = render_request(args)
    if args.emit is not None:
        return emit(args, request)
    if args.ray is not None:
        mapping = api.parse_path_maps(args.path_map)
        report = run_job(lambda token: api.render_on_ray(request, args.ray, args.workers, cancel=token,
                                                         path_map=mapping, gpus_per_worker=args.gpus_per_worker),
                         args.progress, args.quiet)
    else:
        report = run_job(lambda token: api.render(request, cancel=token), args.progress, args.quiet)
    if not args.quiet and args.progress != "json":
        n = len(report.chunks)
        if args.analyse_shot is not None:
            print(f"shot {args.analyse_shot} analysed", file=sys.stderr)
        elif report.up_to_date:
            what = f"chunk {args.chunk} is" if args.chunk else ", ".join(str(p) for p in report.master) + " is"
            print(f"{what} up to date ({n} chunk{'s' if n != 1 else ''} committed)", file=sys.stderr)
        else:
            print(f"rendered {len(report.rendered)} of {n} chunks ({len(report.kept)} kept"
                  f"{f', {len(report.damaged)} damaged and rendered again' if report.damaged else ''})"
                  + (f"; wrote {', '.join(str(p) for p in report.master)}" if report.master else "")
                  + f" in {report.seconds:.1f} s", file=sys.stderr)
    return 0
