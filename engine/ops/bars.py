"""Letterbox and pillarbox bars: found on sampled frames, kept flat at the screen plane.

CONVENTIONS.md: bars get d = 0 (on the screen plane) and are left out of δ normalisation, so they
neither warp nor float and do not stretch the shot's depth range. A row (column) belongs to a bar
when, on every sampled frame, its brightest pixel is dark (≤ `threshold` of full scale) and it is
joined to the frame's edge by such rows; bars thinner than `min_bar` px, or that would leave less
than half the frame, are not bars (a dark scene, a fade).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bars:
    """Bar widths in pixels at each edge of a frame of `size` (width, height)."""

    top: int
    bottom: int
    left: int
    right: int
    size: tuple[int, int]

    @property
    def any(self) -> bool:
        return bool(self.top or self.bottom or self.left or self.right)

    def scaled(self, size: tuple[int, int]) -> Bars:
        """The same bars on a frame of another (width, height) (rounded inward, so no picture is lost)."""
        sw, sh = size[0] / self.size[0], size[1] / self.size[1]
        return Bars(int(self.top * sh), int(self.bottom * sh), int(self.left * sw), int(self.right * sw), size)

    def mask(self) -> np.ndarray:
        """(H, W) bool, True on the bars."""
        w, h = self.size
        out = np.zeros((h, w), bool)
        out[:self.top], out[h - self.bottom:], out[:, :self.left], out[:, w - self.right:] = True, True, True, True
        return out

    def describe(self) -> str:
        parts = [f"{v} px {k}" for k, v in (("top", self.top), ("bottom", self.bottom), ("left", self.left),
                                             ("right", self.right)) if v]
        return ", ".join(parts)


def _edge_run(dark: np.ndarray) -> int:
    """Length of the run of True from index 0."""
    return int(dark.size if dark.all() else np.argmin(dark))


def dark_limit(dtype: np.dtype, threshold: float) -> int:
    """The largest integer value v of `dtype` (uint8 / uint16) that is dark: ``float32(v) / full scale <=
    threshold``, the test done in float32 (-1 when even 0 is not). The test is monotone in v, so a row is
    dark exactly when its brightest value is at most this limit: one table look-up instead of a float
    conversion of every pixel."""
    top = 65535 if np.dtype(dtype) == np.uint16 else 255
    levels = np.arange(top + 1, dtype=np.float32) / np.float32(float(top))
    dark = np.flatnonzero(levels <= np.float32(threshold))
    return int(dark[-1]) if dark.size else -1


def _undecided(rows: np.ndarray, cols: np.ndarray, min_bar: int) -> bool:
    """Whether a later frame can still change the outcome: some edge still has a dark run of >= min_bar
    (later frames only shorten runs, so once none has, there are no bars)."""
    return any(bool(edge[:min_bar].all()) for edge in (rows, rows[::-1], cols, cols[::-1]))


def detect_bars(frames: Iterable[np.ndarray], threshold: float = 0.07, min_bar: int = 2) -> Bars | None:
    """Letterbox / pillarbox bars common to `frames`, or None.

    Frames are taken one at a time and no more once the answer is known (no edge left with a dark run
    of `min_bar`): pass a generator, and the frames not needed are never decoded.

    Args:
        frames: (H, W, 3) uint8/uint16 RGB frames of one clip or shot (a few, spread over it).
        threshold: a bar pixel is at most this fraction of full scale in every channel.
        min_bar: thinner runs are not bars.
    """
    rows = cols = None
    for frame in frames:
        if rows is None:
            h, w = frame.shape[:2]
            limit = dark_limit(frame.dtype, threshold)
            rows, cols = np.ones(h, bool), np.ones(w, bool)
        bright = frame.max(axis=2)
        rows &= bright.max(axis=1) <= limit
        cols &= bright.max(axis=0) <= limit
        if not _undecided(rows, cols, max(1, min_bar)):
            return None
    if rows is None or rows.all() or cols.all():
        return None  # no frames, or black frames (a fade): nothing to tell picture from bar
    top, bottom = _edge_run(rows), _edge_run(rows[::-1])
    left, right = _edge_run(cols), _edge_run(cols[::-1])
    top, bottom, left, right = (v if v >= min_bar else 0 for v in (top, bottom, left, right))
    if h - top - bottom < h / 2:
        top = bottom = 0
    if w - left - right < w / 2:
        left = right = 0
    bars = Bars(top, bottom, left, right, (w, h))
    return bars if bars.any else None


__all__ = ["Bars", "dark_limit", "detect_bars"]
