"""Synthetic layered clips with a known ground-truth right view for the DVG tests."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest
import torch


@dataclass(frozen=True)
class Clip:
    """A left-eye clip with its disparity and the true right view.

    Attributes:
        images, disparities, truth_right: per frame (1, 3, H, W) / (1, 1, H, W) / (1, 3, H, W) float32.
    """

    images: list[torch.Tensor]
    disparities: list[torch.Tensor]
    truth_right: list[torch.Tensor]


def texture(h: int, w: int, seed: int, tint: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """(3, h, w) float32 band-limited noise in about [0.1, 0.9], trackable by DIS and hard to inpaint."""
    rng = np.random.default_rng(seed)
    out = np.empty((3, h, w), np.float32)
    base = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 2.0)
    for c in range(3):
        own = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.5)
        layer = base / (base.std() + 1e-6) * 0.6 + own / (own.std() + 1e-6) * 0.4
        out[c] = np.clip(0.5 + 0.15 * layer, 0.1, 0.9) * tint[c]
    return out


def _render(
    bg: np.ndarray, fg: np.ndarray, shift: int, fg_x: int, fg_y: int, w: int, d_bg: float, d_fg: float,
    eye: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One view of the layered scene: eye 0 = left (the source), 1 = right (x_R = x_L - d)."""
    side = fg.shape[1]
    xs = np.arange(w)
    img = bg[:, :, (xs + shift + int(eye * d_bg)) % bg.shape[2]].copy()
    disp = np.full((bg.shape[1], w), d_bg, np.float32)
    src = xs + int(eye * d_fg) - fg_x
    inside = np.nonzero((src >= 0) & (src < side))[0]
    img[:, fg_y:fg_y + side, inside] = fg[:, :, src[inside]]
    disp[fg_y:fg_y + side, inside] = d_fg
    return img, disp


def layered_clip(
    frames: int = 10,
    size: tuple[int, int] = (128, 96),
    bg_speed: int = 1,
    fg_speed: int = -3,
    d_bg: float = 2.0,
    d_fg: float = 10.0,
    fg_box: tuple[int, int, int] = (60, 30, 32),
    seed: int = 0,
    bg_tint: tuple[float, float, float] = (1.0, 1.0, 1.0),
    fg_tint: tuple[float, float, float] = (1.0, 0.25, 0.25),
    noise: float = 0.0,
) -> Clip:
    """Textured background translating by `bg_speed` px/frame, a textured square (x0, y0, side)
    moving by `fg_speed` px/frame, layered integer disparity, so the splat and the ground truth
    are exact. `noise` adds per-frame Gaussian noise to the left view."""
    w, h = size
    x0, y0, side = fg_box
    margin = frames * abs(bg_speed) + int(d_bg) + 8
    bg = texture(h, w + 2 * margin, seed, bg_tint)
    fg = texture(side, side, seed + 1, fg_tint)
    rng = np.random.default_rng(seed + 2)
    images, disps, truths = [], [], []
    for t in range(frames):
        args = (bg, fg, margin - bg_speed * t, x0 + fg_speed * t, y0, w, d_bg, d_fg)
        left, disp = _render(*args, eye=0)
        right, _ = _render(*args, eye=1)
        if noise:
            left = np.clip(left + rng.normal(0, noise, left.shape).astype(np.float32), 0, 1)
        images.append(torch.from_numpy(left).unsqueeze(0))
        disps.append(torch.from_numpy(disp).view(1, 1, h, w))
        truths.append(torch.from_numpy(right).unsqueeze(0))
    return Clip(images, disps, truths)


@pytest.fixture
def make_clip():
    """The :func:`layered_clip` factory."""
    return layered_clip
