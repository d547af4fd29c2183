"""Before/after crops of what a viewer sees on DAVIS: the right eye beside the moving cars and the thin structure.

Renders ``../shared/data/mono_videos/davis_rollercoaster.mp4`` the way a new user would (``convert`` with the
default settings: weights-free depth, DVG, synthesize both, side-by-side), losslessly (FFV1), frames 0-51
at the clip's own 960×540, and writes 4× nearest-neighbour crops of the right eye to
``docs/img/davis_<crop>_<tag>.png``; when both a ``before`` and an ``after`` crop exist, also the pair
side by side, ``docs/img/davis_<crop>_before_after.png`` (before left, after right).

Run (the "before" from an older checkout's engine, the "after" from this one)::

    git worktree add /tmp/sd-before <commit>
    python bench/davis_crops.py --tag before --engine-root /tmp/sd-before
    python bench/davis_crops.py --tag after

About a minute per render on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / ".." / "shared" / "data" / "mono_videos" / "davis_rollercoaster.mp4"
#: name -> (frame, x0, y0, x1, y1) in the right eye (960×540)
CROPS = {
    "f30_cars": (30, 220, 110, 370, 230),
    "f30_pole": (30, 380, 150, 530, 270),
    "f50_arc": (50, 300, 100, 450, 220),
}
ZOOM = 4


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tag", required=True, help="label in the file names, e.g. before / after")
    p.add_argument("--engine-root", type=Path, default=ROOT, help="checkout whose engine renders (default: this one)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    return p.parse_args(argv)


def render_right_eyes(frames: set[int]) -> dict[int, np.ndarray]:
    """Right eyes (H, W, 3) uint8 RGB of the wanted frames of a default-settings side-by-side render.

    The engine is imported here, after ``main`` put the chosen checkout first on ``sys.path``.
    """
    from engine import api
    from engine.media import open_media

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sbs.mkv"
        request = api.ConvertRequest(input=SOURCE, output=out, layout="sbs-full", device="cpu", overwrite=True,
                                     end=str(max(frames) + 2), use_cache=False,
                                     encode=api.EncodeSettings(codec="ffv1"))
        for _ in api.convert(request):
            pass
        eyes = {}
        with open_media(out) as reader:
            for i, frame in enumerate(reader.frames()):
                if i in frames:
                    image = frame.image
                    if image.dtype == np.uint16:
                        image = (image >> 8).astype(np.uint8)
                    eyes[i] = np.ascontiguousarray(image[:, image.shape[1] // 2:])
        return eyes


def main(argv: list[str]) -> None:
    args = parse(argv)
    if not SOURCE.exists():
        sys.exit(f"{SOURCE}: shared data not found (see ../shared/data/README.md)")
    sys.path.insert(0, str(args.engine_root.resolve()))
    eyes = render_right_eyes({frame for frame, *_ in CROPS.values()})
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (frame, x0, y0, x1, y1) in CROPS.items():
        crop = cv2.resize(eyes[frame][y0:y1, x0:x1], None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(args.out / f"davis_{name}_{args.tag}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        before, after = args.out / f"davis_{name}_before.png", args.out / f"davis_{name}_after.png"
        if before.exists() and after.exists():
            a, b = cv2.imread(str(before)), cv2.imread(str(after))
            gap = np.full((a.shape[0], 8, 3), 255, np.uint8)
            cv2.imwrite(str(args.out / f"davis_{name}_before_after.png"), np.hstack([a, gap, b]))
        print(args.out / f"davis_{name}_{args.tag}.png")


if __name__ == "__main__":
    main(sys.argv[1:])
