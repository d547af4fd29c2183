"""Depth edits applied to normalised depth δ (CONVENTIONS.md "Depth edits").

Each edit moves δ by the brush weight w ∈ [0, 1] (a :class:`engine.edits.raster.Weight`) scaled by
the stroke's strength s (``amount`` for flatten / smooth / set, in [0, 1]):

* ``push``    δ ← δ + a·w                      (a = amount ∈ [-1, 1]; > 0 farther, < 0 nearer)
* ``flatten`` δ ← δ + s·w·(m − δ)              m = Σ w·δ / Σ w over the stroke on this frame, δ as it is
                                               before this stroke (the pre-edit δ for the first stroke)
* ``smooth``  δ ← δ + s·w·(blur(δ) − δ)        blur: a guided filter of δ (edge-aware: guided by the
                                               frame's image when given, else by δ itself)
* ``set``     δ ← δ + s·w·(v − δ)              (v = value ∈ [0, 1])

Strokes apply in creation order; δ is clamped to [0, 1] after all edits, only where some stroke
has w > 0. Pixels with w = 0 are never written, so δ outside every footprint is bit-identical to
the unedited δ. NaN (unknown depth) stays NaN and does not enter flatten's mean or smooth's blur.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.document import STROKE_KINDS
from engine.edits.raster import Weight
from engine.opencv import cv2

GUIDED_EPS = 1e-3  # guided-filter regulariser for an image guide in [0, 1] (edges with contrast >~ 0.03 hold)
SELF_GUIDED_EPS = 1e-2  # for δ guiding itself: δ steps above ~0.1 hold, noise below is averaged


@dataclass(frozen=True)
class Edit:
    """One stroke as it acts on one frame: what to do, and where (its weight on that frame).

    Attributes:
        kind: push | flatten | smooth | set.
        weight: the stroke's weight on this frame, same (H, W) as δ.
        amount: push: the offset a ∈ [-1, 1]; other kinds: strength s ∈ [0, 1].
        value: set: the target δ ∈ [0, 1].
        blur_radius: smooth: the guided filter's window radius in pixels of δ (>= 1).
    """

    kind: str
    weight: Weight
    amount: float = 1.0
    value: float = 0.0
    blur_radius: int = 4

    def __post_init__(self) -> None:
        if self.kind not in STROKE_KINDS:
            raise ValueError(f"edit kind {self.kind!r} is not one of {', '.join(STROKE_KINDS)}")


def guide_gray(guide: np.ndarray) -> np.ndarray:
    """(h, w) float32 in [0, 1] luma of an (h, w, 3) RGB or (h, w) grey guide (uint8/uint16/float)."""
    g = np.asarray(guide)
    if g.dtype == np.uint8:
        g = g.astype(np.float32) / 255.0
    elif g.dtype == np.uint16:
        g = g.astype(np.float32) / 65535.0
    g = g.astype(np.float32, copy=False)
    if g.ndim == 3:
        g = cv2.cvtColor(np.ascontiguousarray(g[..., :3]), cv2.COLOR_RGB2GRAY)
    return g


def edge_aware_blur(delta: np.ndarray, radius: int, guide: np.ndarray | None = None,
                    eps: float | None = None) -> np.ndarray:
    """Guided-filter smoothing of δ (He et al. 2010): flat regions are averaged, guide edges kept.

    Args:
        delta: (h, w) float32 δ; NaN = unknown (filled with the finite mean for filtering, kept NaN).
        radius: window radius in pixels (>= 1).
        guide: (h, w, 3) RGB or (h, w) grey image of the same frame; None = δ guides itself.
        eps: regulariser (guide in [0, 1] units squared); None = GUIDED_EPS for an image, SELF_GUIDED_EPS
            when δ guides itself.
    Returns:
        (h, w) float32 smoothed δ (NaN where `delta` is NaN).
    """
    finite = np.isfinite(delta)
    if not finite.any():
        return delta.copy()
    src = np.where(finite, delta, np.float32(delta[finite].mean())).astype(np.float32)
    g = src if guide is None else guide_gray(guide)
    if eps is None:
        eps = SELF_GUIDED_EPS if guide is None else GUIDED_EPS
    if g.shape != src.shape:
        raise ValueError(f"guide {g.shape} and delta {src.shape} differ in size")
    out = cv2.ximgproc.guidedFilter(np.ascontiguousarray(g), src, int(max(1, radius)), float(eps))
    return np.where(finite, out, np.nan).astype(np.float32)


def _target(delta: np.ndarray, edit: Edit, guide: np.ndarray | None) -> np.ndarray | float:
    """What δ moves towards inside the crop of `edit` (push has none: it is handled by the caller)."""
    rows, cols = edit.weight.slices
    crop, w = delta[rows, cols], edit.weight.crop
    if edit.kind == "set":
        return float(edit.value)
    if edit.kind == "flatten":
        ok = np.isfinite(crop) & (w > 0)
        total = float(w[ok].sum(dtype=np.float64))
        return float((w[ok] * crop[ok]).sum(dtype=np.float64) / total) if total > 0 else 0.0
    r = int(edit.blur_radius)  # smooth: filter a margin around the crop so its border sees real context
    h, wd = delta.shape
    y0, y1 = max(rows.start - r, 0), min(rows.stop + r, h)
    x0, x1 = max(cols.start - r, 0), min(cols.stop + r, wd)
    g = None if guide is None else guide[y0:y1, x0:x1]
    blurred = edge_aware_blur(delta[y0:y1, x0:x1], r, g)
    return blurred[rows.start - y0: rows.stop - y0, cols.start - x0: cols.stop - x0]


def apply_edit_inplace(delta: np.ndarray, edit: Edit, guide: np.ndarray | None = None) -> None:
    """Apply one edit to `delta` in place (no clamp; see :func:`apply_edits`).

    Args:
        delta: (H, W) float32 δ, written only where the edit's weight is > 0.
        edit: the edit, its weight of shape (H, W).
        guide: (H, W, 3) or (H, W) image of the frame (smooth's edge guide), or None.
    """
    if edit.weight.shape != delta.shape:
        raise ValueError(f"edit weight {edit.weight.shape} and delta {delta.shape} differ in size")
    if edit.weight.is_empty:
        return
    rows, cols = edit.weight.slices
    w = edit.weight.crop
    crop = delta[rows, cols]
    on = w > 0
    if edit.kind == "push":
        moved = crop + np.float32(edit.amount) * w
    else:
        moved = crop + np.float32(edit.amount) * w * (np.asarray(_target(delta, edit, guide), np.float32) - crop)
    crop[on] = moved[on]


def apply_edits(delta: np.ndarray, edits: Sequence[Edit], guide: np.ndarray | None = None) -> np.ndarray:
    """δ after `edits` in order, clamped to [0, 1] where any edit has w > 0.

    Args:
        delta: (H, W) float32 normalised depth (0 nearest, 1 farthest; NaN = unknown). Not modified.
        edits: in creation order, each with a weight of shape (H, W).
        guide: (H, W, 3) RGB or (H, W) grey image of the same frame (smooth's edge guide), or None.
    Returns:
        (H, W) float32 edited δ (a new array; `delta` itself when there is nothing to do).
    """
    if delta.ndim != 2:
        raise ValueError(f"delta must be (H, W), got {delta.shape}")
    edits = [e for e in edits if not e.weight.is_empty]
    if not edits:
        return delta
    out = np.array(delta, np.float32, copy=True)
    for edit in edits:
        apply_edit_inplace(out, edit, guide)
    for edit in edits:
        rows, cols = edit.weight.slices
        crop, on = out[rows, cols], edit.weight.crop > 0
        crop[on] = np.clip(crop[on], 0.0, 1.0)
    return out
