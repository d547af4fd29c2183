"""Fingerprints of convert masters, to show a speed change leaves every output pixel as it was.

    python bench/master_hashes.py [--tree PATH] [--frames 12] [--json out.json]

Converts real footage (bench/footage.py) at 1080p (`--layout sbs-half --preset veryfast`) and 320x180
(defaults), DVG and the per-frame path (`--temporal off`), with the lossless FFV1 codec, each in a
fresh child process, and records the SHA-256 of every decoded output frame (rgb24) and of all of them
together. `--tree` runs another checkout's engine (e.g. an export of main) on the same clips, so two
trees' masters can be compared: equal digests = bit-identical masters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from footage import real_clip  # noqa: E402  (bench/ is not a package)

CASES = (
    ("1080p_dvg", "hd", ["--layout", "sbs-half", "--preset", "veryfast"]),
    ("1080p_per_frame", "hd", ["--layout", "sbs-half", "--preset", "veryfast", "--temporal", "off"]),
    ("320x180_dvg", "small", []),
    ("320x180_per_frame", "small", ["--temporal", "off"]),
)


def frame_digests(path: Path) -> list[str]:
    """SHA-256 of each decoded frame of `path` as rgb24 bytes."""
    with av.open(str(path)) as container:
        return [hashlib.sha256(f.to_ndarray(format="rgb24").tobytes()).hexdigest()
                for f in container.decode(video=0)]


def convert(tree: Path, src: Path, dst: Path, extra: list[str], cache: Path) -> None:
    """`spatialdreamer convert` of `tree`'s engine in a fresh process (cold cache in `cache`)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main(sys.argv[1:]))",
           "convert", str(src), "-o", str(dst), "--overwrite", "--progress", "none", "-q", "--codec", "ffv1",
           "--cache-dir", str(cache), *extra]
    subprocess.run(cmd, check=True, cwd=tree, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout whose engine converts")
    parser.add_argument("--frames", type=int, default=12, help="1080p frames (320x180 gets 4x as many)")
    parser.add_argument("--only", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the masters in")
    args = parser.parse_args()
    chosen = [c for c in CASES if not args.only or c[0] in args.only.split(",")]
    out: dict = {"tree": str(args.tree.resolve())}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = {"hd": (1920, 1080, args.frames), "small": (320, 180, 4 * args.frames)}
        made: dict[str, Path] = {}
        for name, clip, extra in chosen:
            if clip not in made:
                made[clip] = real_clip(tmp / f"{clip}.mp4", *clips[clip])
            dst = tmp / f"{name}.mkv"
            convert(args.tree.resolve(), made[clip], dst, extra, tmp / f"cache-{name}")
            frames = frame_digests(dst)
            total = hashlib.sha256("".join(frames).encode()).hexdigest()
            out[name] = {"frames": len(frames), "sha256": total, "per_frame": frames}
            print(f"{name:<20} {len(frames):>4} frames  {total}", flush=True)
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(dst, args.keep / dst.name)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
