"""The recipe of the shipped ``small`` refiner: data, training, evaluation, in four steps.

    python resources/refiner/make_small.py clips  WORK/clips           # camera pans over scikit-image photos
    python resources/refiner/make_small.py pairs  WORK/pairs WORK/clips # make-pairs on the real footage + pans
    python resources/refiner/make_small.py train  WORK/pairs WORK/run --minutes 60
    python resources/refiner/make_small.py eval   WORK/run [--json out.json]   # Middlebury hole PSNR/SSIM

Training data (never the Middlebury pairs or the motorcycle it is evaluated on):
* ``../shared/data/mono_videos/davis_rollercoaster.mp4`` (DAVIS, 70 frames) and
  ``../shared/data/stereo_video/euroc_v1_01/euroc_V1_01_cam0_left_95f_20fps.mp4`` (EuRoC left camera only,
  95 frames) — real monocular footage;
* eight 24-frame clips made here: a slow camera truck and push-in over real photographs and textures that
  ship with scikit-image (astronaut, coffee, chelsea, rocket, camera, grass, gravel, brick).

Pairs: ``make-pairs`` with weights-free depth, eyes 320 px wide, divergence drawn from 3–10 % per clip (wide
holes like the Middlebury ones), temporal DVG inpainting, dataset seed 0. The last clip (``pan_rocket``) is
held out for validation.

The run of 2026-12-02 (this recipe, ``train --minutes 58``: the ``small`` config's 1500 steps in 48.5 min
wall, 1918 s CPU, nice −5 on 2 cores at load 12–20; ``bench/results/refiner_small_run.json``): raw loss
0.495 (mean of the first 5 rows) → 0.259 (last 5) = 0.52×; held-out hole PSNR 21.0 dB at 8 steps (22.1 at
1 step) vs 22.6 for the geometric fill; Middlebury holes (pooled, five pairs) 17.32 dB at 8 steps, 17.68 at
1 step vs 17.86 geometric. It does not beat the geometric path, so nothing ships from it.
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
FOOTAGE = (DATA / "mono_videos" / "davis_rollercoaster.mp4",
           DATA / "stereo_video" / "euroc_v1_01" / "euroc_V1_01_cam0_left_95f_20fps.mp4")
STILLS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "grass", "gravel", "brick")
CLIP_SIZE, CLIP_FRAMES = (320, 240), 24


def pan_frames(image: np.ndarray, frames: int, size: tuple[int, int]) -> list[np.ndarray]:
    """A camera truck left-to-right with a slight push-in over a still: `frames` (H, W, 3) uint8 crops."""
    import cv2

    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3]
    w, h = size
    scale = max(1.0, 1.35 * max(w / image.shape[1], h / image.shape[0]))
    big = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                     interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    out = []
    for k in range(frames):
        u = k / max(1, frames - 1)
        zoom = 1.0 + 0.08 * u
        cw, ch = w / zoom * 1.2, h / zoom * 1.2
        cx = cw / 2 + u * (big.shape[1] - cw)
        cy = big.shape[0] / 2
        m = np.array([[w / cw, 0, w / 2 - cx * w / cw], [0, h / ch, h / 2 - cy * h / ch]], np.float64)
        out.append(cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT))
    return out


def write_video(path: Path, frames: list[np.ndarray], fps: int = 24) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": "12", "preset": "medium"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def cmd_clips(args) -> None:
    import skimage.data

    args.out.mkdir(parents=True, exist_ok=True)
    for name in STILLS:
        write_video(args.out / f"pan_{name}.mp4", pan_frames(getattr(skimage.data, name)(), CLIP_FRAMES, CLIP_SIZE))
        print(f"{args.out / f'pan_{name}.mp4'}")


def run_job(job) -> object:
    while True:
        try:
            p = next(job)
        except StopIteration as stop:
            return stop.value
        if p.message:
            print(p.message, flush=True)


def cmd_pairs(args) -> None:
    from engine.jobs.pairs import PairRequest, make_pairs

    inputs = (*FOOTAGE, *sorted(args.clips.glob("pan_*.mp4")))
    request = PairRequest(inputs=inputs, output=args.out, divergence_range=(3.0, 10.0), max_width=320,
                          seed=0, device="cpu", use_cache=False)
    print(run_job(make_pairs(request)))


def cmd_train(args) -> None:
    from engine.refiner.train import TrainRequest, train_refiner

    request = TrainRequest(config="small", data=(args.pairs,), output=args.out, device="cpu",
                           max_minutes=args.minutes, max_steps=args.max_steps)
    print(run_job(train_refiner(request)))


def cmd_eval(args) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.refiner_middlebury import evaluate_refiner

    result = evaluate_refiner(args.run, steps=args.steps)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("clips")
    p.add_argument("out", type=Path)
    p.set_defaults(run=cmd_clips)
    p = sub.add_parser("pairs")
    p.add_argument("out", type=Path)
    p.add_argument("clips", type=Path)
    p.set_defaults(run=cmd_pairs)
    p = sub.add_parser("train")
    p.add_argument("pairs", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--max-steps", type=int, default=None)
    p.set_defaults(run=cmd_train)
    p = sub.add_parser("eval")
    p.add_argument("run", type=Path)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    p.set_defaults(run=cmd_eval)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
