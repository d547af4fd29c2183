"""`spatialdreamer probe INPUT [--json]`: describe a media file (streams, colour, timecode, audio)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine import api
from engine.cli.options import common_options, frame_rate

NAME = "probe"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `probe` to `subparsers`."""
    p = subparsers.add_parser(NAME, help="describe a media file", parents=[common_options()])
    p.add_argument("input", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--fps", type=frame_rate, metavar="RATE", help="frame rate of an image-sequence INPUT")
    return p


def describe_media(info) -> str:
    """An api.MediaInfo as the few lines an editor reads."""
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
    if v.start_number is not None:
        lines.append(f"  frame numbers: {v.start_number}-{v.start_number + v.frame_count - 1}")
    if v.projection or v.multiview:
        lines.append(f"  spatial: {', '.join(filter(None, [v.projection, 'MV-HEVC' if v.multiview else None]))}")
    if v.mastering_display or v.content_light:
        lines.append(f"  HDR: mastering {v.mastering_display or '-'}, MaxCLL,MaxFALL {v.content_light or '-'}")
    lines += [f"  audio #{a.index}: {a.codec} {a.sample_rate} Hz {a.layout or a.channels}, {a.duration_s:.3f} s"
              for a in info.audio]
    lines += [f"  not carried: {s}" for s in info.dropped_streams]
    lines += [f"  note: {n}" for n in info.notes]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if api.is_sequence_path(args.input) and not args.input.is_file():
        with api.open_media(args.input, fps=args.fps, cache_size=0) as reader:
            info = reader.info
    else:
        info = api.probe(args.input)
    print(json.dumps(info.to_dict(), indent=2) if args.json else describe_media(info))
    return 0
