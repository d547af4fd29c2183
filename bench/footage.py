"""Bench clips from real footage: the DAVIS clip in ../shared/data, resized and looped to any size and length.

    clip = real_clip(tmp / "hd.mp4", 1920, 1080, frames=96)

The source is 960x540, 70 frames; longer clips play it forwards then backwards (no jump cut, so a
shot detector sees one shot and the flow stays meaningful). Encoded H.264 CRF 18 ``medium``, 24 fps,
like a camera original; made once per call into the caller's temporary folder.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DAVIS = ROOT.parent / "shared" / "data" / "mono_videos" / "davis_rollercoaster.mp4"


def source_frames(path: Path = DAVIS) -> list[np.ndarray]:
    """Every frame of the real clip as (H, W, 3) uint8 RGB."""
    if not path.exists():
        raise SystemExit(f"bench footage missing: {path} (see ../shared/data/README.md)")
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def real_clip(path: Path, width: int, height: int, frames: int, fps: int = 24) -> Path:
    """Write `frames` frames of the real footage at width x height (ping-pong looped) to `path`."""
    seq = source_frames()
    seq = seq + seq[-2:0:-1]
    grow = width > seq[0].shape[1]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "preset": "medium"}
        for i in range(frames):
            image = cv2.resize(seq[i % len(seq)], (width, height),
                               interpolation=cv2.INTER_CUBIC if grow else cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
