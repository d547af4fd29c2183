"""`spatialdreamer shots INPUT`: find the cuts, print a shot table (or JSON), optionally write an .otio.

"""

from __future__ import annotations

import argparse
import json
import math
import sys
from fractions import Fraction
from pathlib import Path

from engine import api
from engine.cli.options import common_options
from engine.cli.progress import run_job

NAME = "shots"
SHOT_LIST_SCHEMA = "ShotList.1"

EXAMPLES_SHOTS = """examples:
  spatialdreamer shots reel.mov
  spatialdreamer shots reel.mov --otio reel.otio
  spatialdreamer shots reel.mov --detector content --threshold 30 --min-shot-length 0.5 --json

A cut at frame k starts a new shot at k. Shot ends are exclusive (the next shot's first frame),
as EDL out-points are; timecodes count from the source's own start timecode.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `shots` sub-command (with the common flags) to `subparsers`."""
    p = subparsers.add_parser(NAME, help="find shot cuts; print them or write an OTIO timeline",
                              epilog=EXAMPLES_SHOTS, formatter_class=argparse.RawDescriptionHelpFormatter,
                              parents=[common_options()])
    p.add_argument("input", type=Path)
    p.add_argument("--otio", type=Path, metavar="OUT.otio", help="also write the shots as an OTIO timeline")
    p.add_argument("--detector", choices=api.SHOT_DETECTORS,
                   help="adaptive: robust to fast camera moves (default); content: fixed threshold")
    p.add_argument("--threshold", type=float, metavar="X",
                   help="content: frame-difference score (default 27); adaptive: ratio to nearby frames "
                        "(default 3)")
    p.add_argument("--min-shot-length", metavar="T",
                   help="shortest shot: frames (12f) or seconds (0.5) (default 8f)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    return p


def min_shot_frames(text: str, fps: Fraction) -> int:
    """'12f' -> 12; seconds ('0.5', '00:00:01.000') -> frames at `fps`, rounded up; at least 1."""
    spec = api.parse_time(text)
    if spec.kind == "frame":
        frames = int(spec.value)
    elif spec.kind == "seconds":
        frames = math.ceil(Fraction(spec.value) * fps)
    else:
        raise api.UsageError(f"--min-shot-length {text}: give frames (12f) or seconds (0.5), not a timecode")
    if frames < 1:
        raise api.UsageError(f"--min-shot-length {text} is shorter than one frame")
    return frames


def source_timecode(frame: int, fps: Fraction, start_timecode: str | None) -> str:
    """Timecode of source frame `frame`, counted from the source's start timecode (drop-frame kept)."""
    return api.offset_timecode(start_timecode, frame, fps) if start_timecode else api.frames_to_timecode(frame, fps)


def shot_rows(ranges: list[tuple[int, int]], fps: Fraction, start_timecode: str | None) -> list[dict]:
    """One JSON-ready dict per shot: numbers, source frames [start, end), timecodes, duration."""
    return [{"shot": i, "start": a, "end": b,
             "start_timecode": source_timecode(a, fps, start_timecode),
             "end_timecode": source_timecode(b, fps, start_timecode),
             "frames": b - a, "seconds": round(float((b - a) / fps), 6)}
            for i, (a, b) in enumerate(ranges, start=1)]


def format_shot_table(rows: list[dict]) -> str:
    """The rows as an aligned text table (end = exclusive)."""
    lines = [f"{'shot':>4}  {'start':>7}  {'end':>7}  {'start TC':<11}  {'end TC':<11}  {'frames':>6}  "
             f"{'seconds':>8}"]
    lines += [f"{r['shot']:>4}  {r['start']:>7}  {r['end']:>7}  {r['start_timecode']:<11}  "
              f"{r['end_timecode']:<11}  {r['frames']:>6}  {r['seconds']:>8.3f}" for r in rows]
    return "\n".join(lines)


def _config(args: argparse.Namespace, fps: Fraction) -> api.ShotDetectConfig:
    """The flags given, over ShotDetectConfig's own defaults."""
    given = {"detector": args.detector, "threshold": args.threshold,
             "min_shot_frames": None if args.min_shot_length is None else min_shot_frames(args.min_shot_length, fps)}
    try:
        return api.ShotDetectConfig(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise api.UsageError(str(exc)) from exc


def _detect(args: argparse.Namespace, reader: api.MediaReader, config: api.ShotDetectConfig) -> list[int]:
    return run_job(lambda token: api.detect_cuts(reader, config, cancel=token), args.progress, args.quiet)


def run(args: argparse.Namespace) -> int:
    """Detect shots in args.input; print a table or JSON; write args.otio atomically if given."""
    if args.json and args.progress == "json":
        raise api.UsageError("--json and --progress json both write to stdout; drop one of them")
    with api.open_media(args.input) as reader:
        video = reader.info.video
        fps = Fraction(video.fps)
        config = _config(args, fps)
        cuts = _detect(args, reader, config)
    ranges = api.cuts_to_ranges(cuts, 0, video.frame_count)
    if args.otio is not None:
        api.write_otio(api.shots_to_project(str(args.input), fps, video.frame_count, ranges, name=args.input.stem),
                   args.otio)
    rows = shot_rows(ranges, fps, video.start_timecode)
    if args.json:
        print(json.dumps({"schema": SHOT_LIST_SCHEMA, "media": str(args.input),
                          "fps": f"{fps.numerator}/{fps.denominator}", "frame_count": video.frame_count,
                          "start_timecode": video.start_timecode, "detector": config.detector,
                          "threshold": config.threshold, "min_shot_frames": config.min_shot_frames,
                          "cuts": cuts, "shots": rows}, indent=2))
    else:
        if not args.quiet:
            print(f"{args.input}: {len(rows)} shot{'s' if len(rows) != 1 else ''}, {video.frame_count} frames "
                  f"at {float(fps):.3f} fps ({config.detector} detector; ends are exclusive)")
        print(format_shot_table(rows))
    if args.otio is not None and not args.quiet:
        print(f"wrote {args.otio}", file=sys.stderr)
    return 0
