"""Temporal windows and spatial tiles: where they go and how their results are blended.

Windows are anchored at the shot's first frame with stride ``window − overlap``; the last one may run past
the shot's end (it is padded by repeating the last frame and its extra outputs dropped), so a window's
frames depend only on the shot start — a farm chunk that renders whole shots reproduces a single render.
Overlapping windows are blended in pixel space with complementary linear ramps (weights sum to one), not
replaced autoregressively.

Tiles cover the latent with overlap; all tiles of a window are denoised together at each step and their
predictions averaged with ramped weights (MultiDiffusion-style), so content agrees across tile seams.
"""

from __future__ import annotations

import torch
from torch import Tensor


def plan_windows(length: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) of each temporal window over frames [0, length); `end` may exceed `length` (padding).

    Raises:
        ValueError: window < 1 or overlap outside [0, window).
    """
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f"window {window} with overlap {overlap}: need window >= 1 and 0 <= overlap < window")
    if length < 1:
        return []
    stride, starts = window - overlap, [0]
    while starts[-1] + window < length:
        starts.append(starts[-1] + stride)
    return [(s, s + window) for s in starts]


def window_weights(index: int, windows: list[tuple[int, int]], overlap: int) -> Tensor:
    """(window,) blend weight of each frame of window `index`: ramps up over the frames it shares with the
    previous window and down over those it shares with the next; 1 elsewhere."""
    start, end = windows[index]
    w = torch.ones(end - start)
    ramp = torch.arange(1, overlap + 1, dtype=torch.float32) / (overlap + 1)
    if index > 0 and overlap:
        w[:overlap] = ramp
    if index + 1 < len(windows) and overlap:
        w[-overlap:] = torch.minimum(w[-overlap:], ramp.flip(0))
    return w


class WindowBlender:
    """Accumulates weighted window outputs per frame; hands out frames once no later window touches them."""

    def __init__(self) -> None:
        self._sum: dict[int, Tensor] = {}
        self._weight: dict[int, float] = {}

    def add(self, start: int, frames: Tensor, weights: Tensor, limit: int) -> None:
        """Add window output `frames` ((n, C, H, W)) for frames start.. (those < `limit` only)."""
        for k in range(frames.shape[0]):
            t = start + k
            if t >= limit:
                break
            w = float(weights[k])
            self._sum[t] = self._sum[t] + w * frames[k] if t in self._sum else w * frames[k]
            self._weight[t] = self._weight.get(t, 0.0) + w

    def pop_before(self, frame: int) -> list[tuple[int, Tensor]]:
        """[(t, blended (C, H, W))] for every accumulated t < `frame`, in order."""
        done = sorted(t for t in self._sum if t < frame)
        return [(t, self._sum.pop(t) / self._weight.pop(t)) for t in done]


def plan_tiles(size: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) spans of length `tile` covering [0, size) with at least `overlap` shared (last one flush
    with the end); one span [0, size) when the tile is 0 or covers everything."""
    if tile <= 0 or tile >= size:
        return [(0, size)]
    if not 0 <= overlap < tile:
        raise ValueError(f"tile overlap {overlap} must be in [0, {tile})")
    stride, spans = tile - overlap, []
    start = 0
    while True:
        if start + tile >= size:
            spans.append((size - tile, size))
            break
        spans.append((start, start + tile))
        start += stride
    return spans


def _ramp(length: int, ramp: int, at_start: bool, at_end: bool) -> Tensor:
    w = torch.ones(length)
    r = min(ramp, length // 2)
    if r > 0:
        up = torch.arange(1, r + 1, dtype=torch.float32) / (r + 1)
        if at_start:
            w[:r] = up
        if at_end:
            w[-r:] = torch.minimum(w[-r:], up.flip(0))
    return w


def tile_weight(span_y: tuple[int, int], span_x: tuple[int, int], size: tuple[int, int], ramp: int) -> Tensor:
    """(h, w) weight of one tile: linear ramps of `ramp` cells on the sides that border another tile."""
    (y0, y1), (x0, x1), (h, w) = span_y, span_x, size
    wy = _ramp(y1 - y0, ramp, y0 > 0, y1 < h)
    wx = _ramp(x1 - x0, ramp, x0 > 0, x1 < w)
    return wy[:, None] * wx[None, :]


__all__ = ["WindowBlender", "plan_tiles", "plan_windows", "tile_weight", "window_weights"]
