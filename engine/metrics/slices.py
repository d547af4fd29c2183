"""x–t slices: one image row per frame, stacked over time — the visual check for temporal stability.

A static scene point draws a vertical line; a moving one a slanted line; flicker shows as
horizontal streaks and ragged edges (the paper's per-frame vs DVG comparison).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class XtSlice:
    """Collects row `row` of each frame fed to :meth:`add` (bounded: one row per frame)."""

    def __init__(self, row: int) -> None:
        if row < 0:
            raise ValueError(f"slice row must be >= 0, got {row}")
        self.row = row
        self._rows: list[np.ndarray] = []

    def add(self, frame: np.ndarray) -> None:
        """Take the row from one (H, W, C) or (H, W) frame; every frame the same size and dtype."""
        if frame.ndim not in (2, 3):
            raise ValueError(f"expected an (H, W) or (H, W, C) frame, got {frame.shape}")
        if self.row >= frame.shape[0]:
            raise ValueError(f"slice row {self.row} is outside a {frame.shape[0]}-row frame")
        if self._rows and (self._rows[0].shape != frame.shape[1:] or self._rows[0].dtype != frame.dtype):
            raise ValueError(f"frames differ: row {self._rows[0].shape} {self._rows[0].dtype} "
                             f"vs {frame.shape[1:]} {frame.dtype}")
        self._rows.append(np.array(frame[self.row], copy=True))

    def image(self) -> np.ndarray:
        """(T, W, C) (or (T, W)): row t is the slice row of frame t."""
        if not self._rows:
            raise ValueError("no frames were added to the slice")
        return np.stack(self._rows)


def xt_slice(frames: Iterable[np.ndarray], row: int) -> np.ndarray:
    """One image row per frame stacked over time.

    Args:
        frames: (H, W, 3) images (any dtype), in time order.
        row: which row (0 = top).
    Returns:
        (T, W, 3) with the input dtype; row t is row `row` of frame t.
    """
    acc = XtSlice(row)
    for frame in frames:
        acc.add(frame)
    return acc.image()


def side_by_side(images: Sequence[np.ndarray], gap: int = 4, fill: float = 0.5) -> np.ndarray:
    """Images of the same height and dtype next to each other, `gap` columns of grey between.

    Args:
        images: (T, W_i, C) arrays, same T, C and dtype.
        gap: separator width in pixels.
        fill: separator level as a fraction of the dtype's full scale (1.0 for floats).
    Returns:
        (T, Σ W_i + gap · (n − 1), C).
    """
    if not images:
        raise ValueError("no images to place side by side")
    first = images[0]
    if any(im.shape[0] != first.shape[0] or im.shape[2:] != first.shape[2:] or im.dtype != first.dtype
           for im in images):
        found = [(im.shape, str(im.dtype)) for im in images]
        raise ValueError(f"images differ in height, channels or dtype: {found}")
    top = np.iinfo(first.dtype).max if first.dtype.kind in "ui" else 1.0
    sep = np.full((first.shape[0], gap, *first.shape[2:]), fill * top, dtype=first.dtype)
    parts: list[np.ndarray] = []
    for i, im in enumerate(images):
        parts += [sep, im] if i and gap else [im]
    return np.concatenate(parts, axis=1)
