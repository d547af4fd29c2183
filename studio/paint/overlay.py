"""The viewer's paint overlay: the strokes' weight on the shown frame (painted or carried) as a tinted image."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

PAINT_COLOUR = (255, 140, 0)  # orange: readable over skin, sky and foliage
MAX_ALPHA = 0.5


def overlay_rgba(weight: np.ndarray, colour: tuple[int, int, int] = PAINT_COLOUR,
                 max_alpha: float = MAX_ALPHA) -> np.ndarray:
    """(H, W) weight in [0, 1] -> (H, W, 4) uint8 RGBA, alpha = max_alpha · w (premultiplied colour).

    Args:
        weight: e.g. ``Session.edit_overlay(n)[0]`` (the largest stroke weight per pixel).
    """
    if weight.ndim != 2:
        raise ValueError(f"overlay weight must be (H, W), got {weight.shape}")
    alpha = np.clip(np.nan_to_num(weight), 0.0, 1.0) * float(max_alpha)
    out = np.empty(weight.shape + (4,), np.uint8)
    for c, value in enumerate(colour):
        out[..., c] = np.round(alpha * value).astype(np.uint8)
    out[..., 3] = np.round(alpha * 255).astype(np.uint8)
    return out


def overlay_qimage(weight: np.ndarray, colour: tuple[int, int, int] = PAINT_COLOUR) -> QImage:
    """The overlay as a QImage (premultiplied RGBA8888, owning its pixels), for a texture or a QPainter."""
    rgba = np.ascontiguousarray(overlay_rgba(weight, colour))
    h, w = weight.shape
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888_Premultiplied).copy()
