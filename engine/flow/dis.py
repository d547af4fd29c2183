"""Dense optical flow with OpenCV's DIS (Kroeger et al. 2016), computed at a working width.

Flow convention: ``flow`` maps a pixel of ``src`` to where it is in ``dst``,
``src(x) ~ dst(x + flow(x))``; ``flow[..., 0]`` is the x (column) displacement
and ``flow[..., 1]`` the y (row) displacement, in full-resolution pixels.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from engine.opencv import cv2

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass(frozen=True)
class FlowConfig:
    """How dense flow is computed.

    Attributes:
        preset: DIS preset, ``ultrafast`` | ``fast`` | ``medium`` (slower, finer).
        working_width: compute at this width (keeping the aspect ratio) and upscale
            the vectors to full resolution; None or a width >= the input's = full resolution.
    """

    preset: str = "fast"
    working_width: int | None = 640

    def __post_init__(self) -> None:
        if self.preset not in _PRESETS:
            raise ValueError(f"unknown DIS preset {self.preset!r}: choose one of {', '.join(_PRESETS)}")
        if self.working_width is not None and self.working_width < 16:
            raise ValueError(f"working_width must be at least 16 pixels, got {self.working_width}")


def to_gray(image: np.ndarray) -> np.ndarray:
    """Luma of an image as 8-bit grey, the input DIS expects.

    Args:
        image: (H, W, 3) RGB or (H, W) / (H, W, 1) grey; uint8, uint16, or float in [0, 1].
    Returns:
        (H, W) uint8.
    """
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"expected (H, W, 3) RGB or (H, W) grey, got shape {image.shape}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(np.asarray(image, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else np.ascontiguousarray(image)


def working_size(width: int, height: int, working_width: int | None) -> tuple[int, int]:
    """(w, h) to compute at: `working_width` wide with the aspect kept, never larger than the input."""
    if working_width is None or working_width >= width:
        return width, height
    return working_width, max(8, round(height * working_width / width))


DIS_MIN_SIDE = 32
"""Shortest side DIS is given (measured: every preset is safe from 32 px when the other side is at most
twice as long; thinner strips crash OpenCV 5's DIS at its coarsest level)."""


def dis_safe_size(width: int, height: int) -> tuple[int, int]:
    """(w, h) at least :data:`DIS_MIN_SIDE` and at least half the other side: a size DIS computes safely."""
    w = max(width, DIS_MIN_SIDE, -(-height // 2))
    h = max(height, DIS_MIN_SIDE, -(-width // 2))
    return w, h


def upscale_flow(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a flow field to (height, width) and scale its vectors to match.

    Args:
        flow: (h, w, 2) float32 pixels at the small size.
    Returns:
        (height, width, 2) float32 pixels at the large size.
    """
    h, w = flow.shape[:2]
    if (w, h) == (width, height):
        return flow
    out = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= width / w
    out[..., 1] *= height / h
    return out


class FlowEstimator:
    """A reusable DIS instance for a stream of frames (creating DIS per call is slow).

    Not thread-safe: use one estimator per thread.
    """

    def __init__(self, config: FlowConfig = FlowConfig()) -> None:
        self.config = config
        self._dis = cv2.DISOpticalFlow_create(_PRESETS[config.preset])

    def flow_small(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Flow between two (h, w) uint8 grey images already at working size: (h, w, 2) float32.

        Images DIS cannot take (a side under 12 px, or a strip so flat that its coarsest pyramid level is
        thinner than a patch, which segfaults inside OpenCV) are edge-padded to :func:`dis_safe_size` first
        and the flow cropped back; vectors of the padded margin never reach the caller.
        """
        if src.shape != dst.shape:
            raise ValueError(f"src and dst differ in shape: {src.shape} vs {dst.shape}")
        h, w = src.shape[:2]
        safe_w, safe_h = dis_safe_size(w, h)
        if (safe_w, safe_h) == (w, h):
            return self._dis.calc(src, dst, None)
        pad = (0, safe_h - h, 0, safe_w - w)
        a = cv2.copyMakeBorder(src, *pad, cv2.BORDER_REPLICATE)
        b = cv2.copyMakeBorder(dst, *pad, cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(self._dis.calc(a, b, None)[:h, :w])

    def flow(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Dense flow src -> dst at full resolution.

        Args:
            src: (H, W, 3) RGB or (H, W) grey, uint8/uint16/float in [0, 1].
            dst: same shape as `src`.
        Returns:
            (H, W, 2) float32 pixels: src(x) ~ dst(x + flow(x)).
        """
        if src.shape[:2] != dst.shape[:2]:
            raise ValueError(f"src and dst differ in size: {src.shape[:2]} vs {dst.shape[:2]}")
        height, width = src.shape[:2]
        w, h = working_size(width, height, self.config.working_width)
        a, b = to_gray(src), to_gray(dst)
        if (w, h) != (width, height):
            a = cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)
            b = cv2.resize(b, (w, h), interpolation=cv2.INTER_AREA)
        return upscale_flow(self.flow_small(a, b), width, height)


_local = threading.local()


def compute_flow(src: np.ndarray, dst: np.ndarray, config: FlowConfig = FlowConfig()) -> np.ndarray:
    """Dense flow src -> dst (H, W, 2) float32 px at full resolution: src(x) ~ dst(x + flow(x)).

    Inputs grey or RGB (see :func:`to_gray`). Reuses one :class:`FlowEstimator`
    per thread and config; for a stream prefer holding a :class:`FlowEstimator`.
    """
    cache = getattr(_local, "estimators", None)
    if cache is None:
        cache = _local.estimators = {}
    if config not in cache:
        cache[config] = FlowEstimator(config)
    return cache[config].flow(src, dst)
