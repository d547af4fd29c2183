"""Synthetic clips with hard cuts at known frames (160x90, 24 fps, PyAV + libx264 in tmp folders).

Each shot is its own smooth random texture with its own tint, moving in its own way:
drift (slow), pan (fast, a new stretch of texture every frame) or a brightness ramp. A cut at
frame k means frame k is the first frame of the next shot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

WIDTH, HEIGHT, FPS = 160, 90, Fraction(24)
ShotFrames = Callable[[int], np.ndarray]  # shot frame k -> (HEIGHT, WIDTH, 3) float32 RGB in [0, 1]


def texture(seed: int, height: int, width: int, scale: int, tint: tuple[float, float, float]) -> np.ndarray:
    """(height, width, 3) float32: bicubic-upscaled uniform noise (features ~`scale` px), tinted."""
    rng = np.random.default_rng(seed)
    small = rng.random((max(2, height // scale), max(2, width // scale), 3)).astype(np.float32)
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(big, 0.0, 1.0) * np.asarray(tint, np.float32)


def drift(seed: int, tint: tuple[float, float, float], length: int, scale: int = 10) -> ShotFrames:
    """Slow camera drift: one pixel sideways every third frame."""
    canvas = texture(seed, HEIGHT, WIDTH + length, scale, tint)
    return lambda k: canvas[:, k // 3: k // 3 + WIDTH]


def pan(seed: int, tint: tuple[float, float, float], length: int, speed: int, scale: int) -> ShotFrames:
    """Camera pan of `speed` pixels a frame across a texture with ~`scale` px features."""
    canvas = texture(seed, HEIGHT, WIDTH + speed * length, scale, tint)
    return lambda k: canvas[:, speed * k: speed * k + WIDTH]


def ramp(seed: int, tint: tuple[float, float, float], length: int, low: float, high: float) -> ShotFrames:
    """Locked-off shot whose brightness rises linearly from `low` to `high` (an exposure ramp)."""
    canvas = texture(seed, HEIGHT, WIDTH, 5, tint)
    return lambda k: canvas * (low + (high - low) * k / max(1, length - 1))


def encode(path: Path, images: Sequence[np.ndarray], fps: Fraction = FPS, timecode: str | None = None) -> Path:
    """Encode uint8 RGB frames as H.264 (CRF 12, yuv420p); optional start timecode tag."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.options = {"crf": "12"}
        if timecode:
            stream.metadata["timecode"] = timecode
        for image in images:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def clip_from_shots(path: Path, shots: Sequence[tuple[int, ShotFrames]], **kwargs) -> tuple[Path, list[int]]:
    """Write the shots back to back; returns the path and the true cut frames."""
    images = [(np.clip(frames(k), 0.0, 1.0) * 255).astype(np.uint8) for n, frames in shots for k in range(n)]
    cuts = list(np.cumsum([n for n, _ in shots])[:-1].tolist())
    return encode(path, images, **kwargs), cuts


WARM, COOL, GREEN, LILAC = (1.0, 0.55, 0.3), (0.3, 0.8, 1.0), (0.6, 1.0, 0.5), (0.9, 0.8, 1.0)


def four_shots(lengths: Sequence[int] = (17, 24, 19, 20)) -> list[tuple[int, ShotFrames]]:
    """Drift, drift, a moderate pan (6 px/frame) and a brightness ramp (0.45 -> 1.0)."""
    a, b, c, d = lengths
    return [(a, drift(1, WARM, a, scale=6)), (b, drift(2, COOL, b)), (c, pan(3, GREEN, c, speed=6, scale=20)),
            (d, ramp(4, LILAC, d, 0.45, 1.0))]


def pan_inside_a_shot(seed: int, tint: tuple[float, float, float], hold: int, moving: int, speed: int,
                      scale: int) -> ShotFrames:
    """One shot: locked off for `hold` frames, a fast pan for `moving` frames, locked off again."""
    canvas = texture(seed, HEIGHT, WIDTH + speed * moving, scale, tint)

    def frame(k: int) -> np.ndarray:
        x = speed * min(max(k - hold + 1, 0), moving)
        return canvas[:, x: x + WIDTH]

    return frame


def two_shots(path: Path, lengths: tuple[int, int]) -> Path:
    """A drift shot then a fast pan shot, cut at lengths[0] (for session and project tests)."""
    written, cuts = clip_from_shots(path, [(lengths[0], drift(3, WARM, lengths[0])),
                                           (lengths[1], pan(4, (0.4, 0.9, 0.6), lengths[1], 3, 12))])
    assert cuts == [lengths[0]]
    return written
