"""A synthetic stereo pair with known disparity, built by shifting textures with numpy.

Left view: a textured background with a textured box pasted on it. Right view: every point moved
by x_R = x_L − d (CONVENTIONS.md), background by `d_bg`, box by `d_fg`, the box occluding.
"""

import cv2
import numpy as np

MARGIN = 32


def _texture(rng, h, w, tint):
    noise = (rng.random((h, w, 1)) * 255).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 1.0)[..., None]
    return np.clip(noise * np.asarray(tint, np.float32), 0, 255).astype(np.uint8)


def shifted_pair(d_bg=-6, d_fg=4, h=160, w=240, box=(20, 140, 80, 160), seed=0):
    """(left, right) (h, w, 3) uint8; `box` = (y0, y1, x0, x1) of the foreground in the left view."""
    rng = np.random.default_rng(seed)
    bg = _texture(rng, h, w + 2 * MARGIN, (0.6, 1.0, 0.7))
    fg = _texture(rng, h, w + 2 * MARGIN, (1.0, 0.35, 0.3))
    y0, y1, x0, x1 = box
    cols = np.arange(w)
    left = bg[:, MARGIN : MARGIN + w].copy()
    left[y0:y1, x0:x1] = fg[y0:y1, MARGIN + x0 : MARGIN + x1]
    right = bg[:, MARGIN + d_bg : MARGIN + d_bg + w].copy()  # R(x) = scene(x + d)
    src = cols + d_fg
    inside = (src >= x0) & (src < x1)
    right[y0:y1][:, inside] = fg[y0:y1][:, MARGIN + src[inside]]
    return left, right
