"""The viewer modes on the CPU (numpy), for machines without OpenGL 3.3: compose.frag's twin.

Eyes come from the engine's exact per-frame path (``api.render_frame``); this module only
arranges them and the depth into the picture of each mode.
"""

from __future__ import annotations

import numpy as np

from engine import api
from studio.viewer.modes import Budget, LiveGrade


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """(…, 3) float sRGB in [0, 1] -> linear light."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """(…, 3) float linear light in [0, 1] -> sRGB."""
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.maximum(c, 1e-12) ** (1 / 2.4) - 0.055)


def curved(delta: np.ndarray, grade: LiveGrade) -> np.ndarray:
    """The depth curve δ' = clamp((δ − n) / (f − n), 0, 1) ^ γ."""
    t = np.clip((delta - grade.near) / max(grade.far - grade.near, 1e-6), 0.0, 1.0)
    return t ** grade.gamma


def parallax_pct(delta: np.ndarray, grade: LiveGrade) -> np.ndarray:
    """Screen parallax p = −d in % of the width for every pixel of δ."""
    return -grade.divergence * (grade.convergence - curved(delta, grade))


def _unit(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0)


def _heatmap(rgb: np.ndarray, delta: np.ndarray, grade: LiveGrade, budget: Budget) -> np.ndarray:
    p = parallax_pct(delta, grade)
    span = max(abs(budget.low), abs(budget.high), 1e-3)
    t = np.clip(p / span, -1.0, 1.0)[..., None]
    warm, cool, white = np.array([0.95, 0.35, 0.05]), np.array([0.1, 0.4, 0.95]), np.ones(3)
    c = np.where(t < 0, white + (warm - white) * -t, white + (cool - white) * t)
    grey = (rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32))[..., None]
    c = c + (c * grey * 1.4 - c) * 0.35
    h, w = p.shape
    stripe = ((np.arange(w)[None, :] + np.arange(h)[:, None]) % 8 < 4)[..., None]
    over = ((p < budget.low) | (p > budget.high))[..., None]
    diverge = (p > budget.divergence_limit)[..., None]
    magenta = np.array([1.0, 0.0, 1.0])
    c = np.where(over, magenta + (c - magenta) * 0.4 * stripe, c)
    return np.where(diverge, np.where(stripe, 0.1, np.array([1.0, 0.0, 0.0])), c)


def resize_nearest(delta: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """δ at the frame size, nearest sample (the CPU view is a fallback, not the master)."""
    if delta.shape == shape:
        return delta
    ys = (np.arange(shape[0]) * delta.shape[0] // shape[0]).clip(0, delta.shape[0] - 1)
    xs = (np.arange(shape[1]) * delta.shape[1] // shape[1]).clip(0, delta.shape[1] - 1)
    return delta[ys[:, None], xs[None, :]]


def compose(mode: str, rgb: np.ndarray, delta: np.ndarray, eyes: tuple[np.ndarray, np.ndarray] | None,
            grade: LiveGrade, budget: Budget, swap: bool = False) -> np.ndarray:
    """The picture of `mode` as (H, W', 3) uint8.

    Args:
        mode: a viewer mode name (studio.viewer.modes.MODES).
        rgb: (H, W, 3) uint8/uint16 frame; delta: (h, w) δ; eyes: the two (H, W, 3) eyes or None
            (the eye modes need them).
    """
    src = _unit(rgb)
    d = resize_nearest(np.asarray(delta, np.float32), src.shape[:2])
    if mode in ("source", "depth", "depth-colour", "heatmap") or eyes is None:
        if mode == "heatmap":
            out = _heatmap(src, d, grade, budget)
        elif mode in ("depth", "depth-colour"):
            near = 1.0 - curved(d, grade)
            out = np.repeat(near[..., None], 3, axis=2)
            if mode == "depth-colour":
                out = np.stack([np.clip(1.5 - abs(4 * near - k), 0, 1) for k in (3, 2, 1)], axis=2)
        else:
            out = src
        return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
    left, right = (_unit(e) for e in eyes)
    a, b = (right, left) if swap else (left, right)
    if mode == "anaglyph":
        m_l, m_r = np.asarray(api.DUBOIS_LEFT, np.float32), np.asarray(api.DUBOIS_RIGHT, np.float32)
        out = linear_to_srgb(np.clip(srgb_to_linear(a) @ m_l.T + srgb_to_linear(b) @ m_r.T, 0, 1))
    elif mode == "sbs":
        out = np.concatenate([a, b], axis=1)
    elif mode == "tb":
        out = np.concatenate([a, b], axis=0)
    elif mode == "left":
        out = left
    elif mode == "right":
        out = right
    elif mode == "blend":
        out = linear_to_srgb(0.5 * (srgb_to_linear(left) + srgb_to_linear(right)))
    elif mode == "difference":
        out = np.abs(left - right)
    else:
        raise ValueError(f"unknown viewer mode {mode!r}")
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
