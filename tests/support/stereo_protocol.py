"""The scored view-synthesis protocol of issue #17 and its classic baseline, forward-fill.

Protocol: the left view and its ground-truth disparity (H x W float32, x_right = x_left - d) go
through ``spatialdreamer convert LEFT.png --depth d.npy --depth-kind disparity-px --synthesize right
--layout sbs-full -o x.png``; the right half of x.png is compared with the real right view by PSNR
and SSIM on 8-bit RGB (scikit-image), leaving out the right-most ceil(max d) + 1 columns (content
beyond the left image's right edge). Unknown ground-truth disparities are pre-filled from the
farther (smaller) of the nearest known values to their left and right in the row; a row with no
known value at all (Tsukuba's border) takes the nearest row that has one.

Forward-fill, the baseline (what iw3 ships as "forward_fill"): every left pixel moves to
round(x - d) (round half up), the larger disparity wins a target pixel (on a tie the later source
pixel), and each hole run is filled with the colour of its farther neighbour (the end whose winning
disparity is smaller; on a tie the right end, where a right view's disocclusions open); a run
touching the image edge takes its only neighbour.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from tests.support.data import SHARED_DATA

MIDDLEBURY = {  # name: (left, right, GT disparity of the left image, divisor)
    "tsukuba": ("im3.png", "im4.png", "disp3.pgm", 16),
    "venus": ("im2.png", "im6.png", "disp2.pgm", 8),
    "teddy": ("im2.png", "im6.png", "disp2.png", 4),
    "cones": ("im2.png", "im6.png", "disp2.png", 4),
}
PAIRS = (*MIDDLEBURY, "motorcycle")
MIDDLEBURY_DIR = SHARED_DATA / "stereo_pairs" / "middlebury_2001_2003"


def _rgb8(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read {path}")
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def load_pair(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left, right) (H, W, 3) uint8 RGB and the left view's GT disparity (H, W) float32 px, NaN = unknown.

    Raises:
        FileNotFoundError: the shared data is absent (Middlebury pairs).
    """
    if name == "motorcycle":
        from skimage import data

        left, right, disp = data.stereo_motorcycle()
        disp = disp.astype(np.float32)
        disp[~np.isfinite(disp) | (disp <= 0)] = np.nan
        return np.ascontiguousarray(left), np.ascontiguousarray(right), disp
    lname, rname, dname, divisor = MIDDLEBURY[name]
    folder = MIDDLEBURY_DIR / name
    raw = cv2.imread(str(folder / dname), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise FileNotFoundError(f"cannot read {folder / dname}")
    disp = np.where(raw == 0, np.nan, raw.astype(np.float32) / divisor).astype(np.float32)
    return _rgb8(folder / lname), _rgb8(folder / rname), disp


def prefill_unknown(disparity: np.ndarray) -> np.ndarray:
    """Unknown (non-finite) disparities from the farther of the nearest known values in the row.

    Args:
        disparity: (H, W) float32, NaN / inf = unknown.
    Returns:
        (H, W) float32 with no unknown value (rows without any known value copy the nearest row that has one).
    Raises:
        ValueError: no known value at all.
    """
    d = np.asarray(disparity, np.float32)
    h, w = d.shape
    known = np.isfinite(d)
    if not known.any():
        raise ValueError("the disparity map has no known value")
    xs = np.broadcast_to(np.arange(w), (h, w))
    left = np.maximum.accumulate(np.where(known, xs, -1), axis=1)
    right = np.minimum.accumulate(np.where(known, xs, w)[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(h)[:, None]
    d_l = np.where(left >= 0, d[rows, left.clip(0, w - 1)], np.inf)
    d_r = np.where(right < w, d[rows, right.clip(0, w - 1)], np.inf)
    out = np.where(known, d, np.minimum(d_l, d_r)).astype(np.float32)
    full = known.any(axis=1)
    have = np.flatnonzero(full)
    for y in np.flatnonzero(~full):
        out[y] = out[have[np.argmin(np.abs(have - y))]]
    return out


def forward_fill(left: np.ndarray, disparity: np.ndarray) -> np.ndarray:
    """The classic baseline: nearest-pixel forward warp with a z-buffer, holes filled from the farther side.

    Args:
        left: (H, W, C) image (any dtype).
        disparity: (H, W) float px, all finite (see :func:`prefill_unknown`).
    Returns:
        (H, W, C) right view, `left`'s dtype.
    """
    h, w = disparity.shape
    out = np.zeros_like(left)
    zbuf = np.full((h, w), -np.inf, np.float64)
    for y in range(h):
        row_d = disparity[y].astype(np.float64)
        target = np.floor(np.arange(w) - row_d + 0.5).astype(np.int64)
        order = np.lexsort((np.arange(w), row_d))  # ascending d, then source x: later writes win
        order = order[(target[order] >= 0) & (target[order] < w)]
        out[y, target[order]] = left[y, order]
        zbuf[y, target[order]] = row_d[order]
        _fill_runs(out[y], zbuf[y])
    return out


def _fill_runs(row: np.ndarray, zbuf: np.ndarray) -> None:
    """In place: each run of empty pixels (zbuf = -inf) takes its farther neighbour's colour."""
    w = zbuf.size
    empty = np.isneginf(zbuf)
    x = 0
    while x < w:
        if not empty[x]:
            x += 1
            continue
        start = x
        while x < w and empty[x]:
            x += 1
        if start > 0 and x < w:
            src = start - 1 if zbuf[start - 1] < zbuf[x] else x
        elif start > 0:
            src = start - 1
        elif x < w:
            src = x
        else:
            continue
        row[start:x] = row[src]


def crop_columns(disparity: np.ndarray) -> int:
    """Right-most columns left out of the scores: ceil(max d) + 1."""
    return int(math.ceil(float(np.nanmax(disparity)))) + 1


def score(image: np.ndarray, reference: np.ndarray, crop: int) -> tuple[float, float]:
    """(PSNR dB, SSIM) of 8-bit RGB `image` against `reference`, right-most `crop` columns left out."""
    if image.dtype != np.uint8 or reference.dtype != np.uint8:
        raise ValueError("the protocol scores 8-bit images")
    a, b = image[:, : image.shape[1] - crop], reference[:, : reference.shape[1] - crop]
    psnr = peak_signal_noise_ratio(b, a, data_range=255)
    ssim = structural_similarity(b, a, channel_axis=2, data_range=255)
    return float(psnr), float(ssim)
