"""Measuring a delivered stereo pair from its pixels: disparity, eye order, vertical and colour mismatch.

Master QC never trusts a sidecar: it estimates the disparity between the two eyes with
OpenCV's semi-global matcher (SGBM, 3-way), once referenced to each eye, keeps the pixels that
pass a left-right consistency check, and reports per frame what a graded render would have
reported. On top of that:

- **eye order** from the occlusion side at depth edges (not the parallax sign, which misfires
  on content that sits behind the screen): an occlusion band — pixels of the left-referenced
  map without a consistent match — always lies where disparity rises to the right; in a true
  left/right pair its pixels belong to the *farther* surface (the background the right eye
  cannot see behind the foreground's left edge), in a swapped pair to the *nearer* side as the
  matcher measures it. Each band votes by whether its colour continues the surface on its
  lower-disparity side or on its higher one;
- **vertical disparity** from matched ORB features (median dy);
- **colour mismatch** as the CIE76 ΔE between the eyes' mean L*a*b* colours.

Conventions: d > 0 in front of the screen, x_R = x_L − d (CONVENTIONS.md). Images are
(H, W, 3) uint8 RGB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.opencv import cv2

SEARCH_FRACTION = 0.06  # disparities searched: ±6 % of the width (past every preset's divergence limit)
LR_TOLERANCE_PX = 1.5  # left-right consistency tolerance
BLACK_LEVEL = 6  # a border column darker than this (8-bit) in every row is a mask or a bar
EDGE_MIN_STEP_PX = 2.0  # a depth edge: the disparity rises by at least this across an occlusion band
PHOTO_TOLERANCE = 10.0  # grey levels (3 × 3 mean) between a pixel and its match
TEXTURE_MIN = 1.5  # mean |∂x| (8-bit grey levels) over a 5 × 5 block: below it a match is a guess


@dataclass(frozen=True)
class PairDisparity:
    """Disparity of one stereo pair.

    Attributes:
        left: (H, W) float32 d in the left eye's pixels (x_R = x_L − d); NaN where no consistent match.
        right: (H, W) float32 d in the right eye's pixels (x_L = x_R + d); NaN likewise.
        matched: share of the left eye's textured pixels with a consistent match (a real stereo pair
            matches most of them; two unrelated images, e.g. the halves of a mono frame, few).
    """

    left: np.ndarray
    right: np.ndarray
    matched: float

    def qc_map(self, strip: int) -> np.ndarray:
        """(H, W) d for QC: left-referenced, with the left border strip taken from the right-referenced map.

        An object in front of the screen at the left border of the left eye has no match in the
        right eye (it is cut off there: the very window violation), while the right eye's left
        border does match; symmetrically the right border is measured in the left eye's map
        (content behind the screen there has no match in it and falls back to the other map).
        """
        out = self.left.copy()
        out[:, -strip:] = np.where(np.isfinite(out[:, -strip:]), out[:, -strip:], self.right[:, -strip:])
        left_strip, right_map_strip = self.left[:, :strip], self.right[:, :strip]
        out[:, :strip] = np.where(np.isfinite(right_map_strip), right_map_strip, left_strip)
        return out


def _matcher(width: int, flipped: bool) -> cv2.StereoSGBM:
    reach = max(16, int(math.ceil(SEARCH_FRACTION * width / 16.0)) * 16)
    block = 5
    return cv2.StereoSGBM.create(minDisparity=-reach, numDisparities=2 * reach, blockSize=block,
                                 P1=8 * 3 * block * block, P2=32 * 3 * block * block, disp12MaxDiff=-1,
                                 uniquenessRatio=10, speckleWindowSize=100, speckleRange=2,
                                 mode=cv2.StereoSGBM_MODE_SGBM_3WAY)


def _raw_disparity(first: np.ndarray, second: np.ndarray, matcher: cv2.StereoSGBM) -> np.ndarray:
    """SGBM disparity of `first` (NaN = none), computed on copies padded by the search reach.

    OpenCV leaves a border as wide as the search range unmatched; padding both images
    (edge pixels repeated) lets the pixels next to the real borders be matched too, which is
    where window violations are.
    """
    pad = matcher.getNumDisparities() // 2 + matcher.getBlockSize()
    a, b = (cv2.copyMakeBorder(x, 0, 0, pad, pad, cv2.BORDER_REPLICATE) for x in (first, second))
    raw = matcher.compute(a, b).astype(np.float32)[:, pad:-pad] / 16.0
    raw[raw <= matcher.getMinDisparity() - 1 + 1e-3] = np.nan
    return np.ascontiguousarray(raw)


def _consistent(d_ref: np.ndarray, d_other: np.ndarray, sign: float) -> np.ndarray:
    """Keep d_ref where the other map, sampled at the matched pixel, agrees (sign: −1 for left-referenced)."""
    h, w = d_ref.shape
    xs = np.arange(w, dtype=np.float32)[None, :] + sign * np.nan_to_num(d_ref, nan=1e6)
    xi = np.rint(xs).astype(np.int64)
    inside = (xi >= 0) & (xi < w) & np.isfinite(d_ref)
    rows = np.broadcast_to(np.arange(h)[:, None], (h, w))
    other = np.full((h, w), np.nan, dtype=np.float32)
    other[inside] = d_other[rows[inside], xi[inside]]
    ok = inside & (np.abs(other - d_ref) <= LR_TOLERANCE_PX)
    return np.where(ok, d_ref, np.nan).astype(np.float32)


def textured(gray: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels with enough horizontal texture for a reliable match (flat sky, walls -> False)."""
    gx = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)) / 4.0
    return cv2.blur(gx, (5, 5)) >= TEXTURE_MIN


def _photometric(d_ref: np.ndarray, ref: np.ndarray, other: np.ndarray, sign: float) -> np.ndarray:
    """Keep d_ref where the matched grey level in `other` is within PHOTO_TOLERANCE of `ref` (blurred)."""
    h, w = d_ref.shape
    a, b = (cv2.blur(x.astype(np.float32), (3, 3)) for x in (ref, other))
    xi = np.rint(np.arange(w, dtype=np.float32)[None, :] + sign * np.nan_to_num(d_ref, nan=1e6)).astype(np.int64)
    inside = (xi >= 0) & (xi < w) & np.isfinite(d_ref)
    rows = np.broadcast_to(np.arange(h)[:, None], (h, w))
    sampled = np.full((h, w), np.inf, dtype=np.float32)
    sampled[inside] = b[rows[inside], xi[inside]]
    return np.where(np.abs(sampled - a) <= PHOTO_TOLERANCE, d_ref, np.nan).astype(np.float32)


def black_border_columns(eye: np.ndarray) -> tuple[int, int]:
    """Columns of black (masks, pillarbox bars) at the (left, right) border of one eye (H, W, 3) uint8."""
    dark = eye.max(axis=2).max(axis=0) < BLACK_LEVEL
    w = dark.size
    left = int(np.argmin(dark)) if not dark.all() else w
    right = int(np.argmin(dark[::-1])) if not dark.all() else w
    return left, right


def _match_levels(gray: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`gray` with the mean and spread of `reference` (a global gain / offset between the eyes)."""
    g, r = gray.astype(np.float32), reference.astype(np.float32)
    scaled = (g - g.mean()) * (r.std() / max(float(g.std()), 1e-3)) + r.mean()
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def match_pair(left: np.ndarray, right: np.ndarray) -> PairDisparity:
    """Disparity of a stereo pair, referenced to each eye, with a left-right consistency check.

    Args:
        left, right: (H, W, 3) uint8 RGB eyes of one size.
    Returns:
        PairDisparity in pixels of this size; black border columns (floating windows, bars) are NaN.
    """
    if left.shape != right.shape or left.ndim != 3 or left.shape[2] != 3:
        raise ValueError(f"eyes must be (H, W, 3) of one shape, got {left.shape} and {right.shape}")
    gl, gr = (cv2.cvtColor(np.ascontiguousarray(x), cv2.COLOR_RGB2GRAY) for x in (left, right))
    gr = _match_levels(gr, gl)
    width = gl.shape[1]
    d_left = _raw_disparity(gl, gr, _matcher(width, False))
    # right-referenced: mirror both and swap them (x'_L = x'_R − d in mirrored columns: the same d)
    d_right = _raw_disparity(np.ascontiguousarray(gr[:, ::-1]), np.ascontiguousarray(gl[:, ::-1]),
                              _matcher(width, True))[:, ::-1]
    d_right = np.ascontiguousarray(d_right)
    tex_left = textured(gl)
    left_ok = _photometric(np.where(tex_left, _consistent(d_left, d_right, -1.0), np.nan), gl, gr, -1.0)
    right_ok = _photometric(np.where(textured(gr), _consistent(d_right, d_left, +1.0), np.nan), gr, gl, +1.0)
    for eye, d in ((left, left_ok), (right, right_ok)):
        a, b = black_border_columns(eye)
        d[:, :a] = np.nan
        if b:
            d[:, width - b :] = np.nan
    matched = float(np.isfinite(left_ok).sum() / max(1, int(tex_left.sum())))
    return PairDisparity(left_ok, right_ok, matched)


@dataclass(frozen=True)
class EyeOrderVotes:
    """Occlusion-band votes of one or more frames: how many bands read as a true pair or as swapped."""

    consistent: int = 0
    swapped: int = 0

    def __add__(self, other: EyeOrderVotes) -> EyeOrderVotes:
        return EyeOrderVotes(self.consistent + other.consistent, self.swapped + other.swapped)

    @property
    def total(self) -> int:
        return self.consistent + self.swapped

    def verdict(self, min_votes: int = 30, majority: float = 0.85) -> str:
        """'ok', 'swapped', or 'unknown' (too few depth edges, or no clear majority).

        Camera stereo and clean renders vote > 95 % one way; a conversion whose depth edges
        bleed past the objects (a halo of background carried at foreground disparity) blurs the
        cue toward 60–80 %, which must read as 'unknown', never as a false 'swapped'.
        """
        if self.total < min_votes:
            return "unknown"
        share = self.swapped / self.total
        return "swapped" if share >= majority else "ok" if share <= 1.0 - majority else "unknown"


def _row_cumsum(values: np.ndarray) -> np.ndarray:
    """(R, W, C) -> (R, W + 1, C) running sums along each row, starting at 0 (for band means)."""
    return np.concatenate([np.zeros_like(values[:, :1]), np.cumsum(values, axis=1)], axis=1)


def _occlusion_bands(d: np.ndarray, patch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, starts, ends) of runs of NaN in each row of `d` with `patch` valid-side pixels to spare."""
    invalid = ~np.isfinite(d)
    padded = np.pad(invalid, ((0, 0), (1, 1))).astype(np.int8)
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)
    w = d.shape[1]
    keep = (starts >= patch) & (ends <= w - patch) & (ends - starts >= 2)
    return rows[keep], starts[keep], ends[keep]


def eye_order_votes(left: np.ndarray, pair: PairDisparity, patch: int = 3) -> EyeOrderVotes:
    """Vote on the eye order from the occlusion bands of the left-referenced map (every other row).

    A band counts when the disparity rises across it by at least EDGE_MIN_STEP_PX and it is no
    wider than that step allows; it votes 'consistent' when its mean colour is closer to the
    patch on its lower-disparity (left) side, 'swapped' when closer to the higher (right) side.

    Args:
        left: (H, W, 3) uint8 the image labelled "left".
        pair: its PairDisparity (same size).
        patch: pixels sampled on each side of a band.
    """
    d = pair.left[::2]
    lab = cv2.cvtColor(np.ascontiguousarray(left), cv2.COLOR_RGB2LAB).astype(np.float32)[::2]
    rows, a, b = _occlusion_bands(d, patch)
    if rows.size == 0:
        return EyeOrderVotes()
    offsets = np.arange(patch)
    left_cols, right_cols = a[:, None] - patch + offsets, b[:, None] + offsets
    with np.errstate(all="ignore"):
        dl = np.nanmedian(d[rows[:, None], left_cols], axis=1)
        dr = np.nanmedian(d[rows[:, None], right_cols], axis=1)
    step = dr - dl
    keep = (step >= EDGE_MIN_STEP_PX) & (b - a <= 2.0 * step + 3)
    rows, a, b = rows[keep], a[keep], b[keep]
    cs = _row_cumsum(lab)
    band = (cs[rows, b] - cs[rows, a]) / (b - a)[:, None]
    far = (cs[rows, a] - cs[rows, a - patch]) / patch
    near = (cs[rows, b + patch] - cs[rows, b]) / patch
    to_far, to_near = np.linalg.norm(band - far, axis=1), np.linalg.norm(band - near, axis=1)
    clear = np.abs(to_far - to_near) >= 2.0
    return EyeOrderVotes(int((clear & (to_far < to_near)).sum()), int((clear & (to_near < to_far)).sum()))


def vertical_disparity(left: np.ndarray, right: np.ndarray, features: int = 800) -> tuple[float, int]:
    """Median vertical offset y_R − y_L (px) of matched ORB features, and the number of matches used.

    Returns (nan, 0) when too few features match (flat images).
    """
    orb = cv2.ORB.create(nfeatures=features)
    gl, gr = (cv2.cvtColor(np.ascontiguousarray(x), cv2.COLOR_RGB2GRAY) for x in (left, right))
    kl, dl = orb.detectAndCompute(gl, None)
    kr, dr = orb.detectAndCompute(gr, None)
    if dl is None or dr is None or len(kl) < 8 or len(kr) < 8:
        return float("nan"), 0
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(dl, dr)
    reach = SEARCH_FRACTION * gl.shape[1]
    dy = [kr[m.trainIdx].pt[1] - kl[m.queryIdx].pt[1] for m in matches
          if abs(kl[m.queryIdx].pt[0] - kr[m.trainIdx].pt[0]) <= reach and m.distance < 48]
    if len(dy) < 8:
        return float("nan"), len(dy)
    return float(np.median(dy)), len(dy)


def colour_difference(left: np.ndarray, right: np.ndarray) -> float:
    """CIE76 ΔE between the mean L*a*b* colours of the two eyes (black border columns left out)."""
    means = []
    for eye in (left, right):
        a, b = black_border_columns(eye)
        core = eye[:, a : eye.shape[1] - b] if a + b < eye.shape[1] else eye
        lab = cv2.cvtColor(np.ascontiguousarray(core).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
        means.append(lab.reshape(-1, 3).mean(axis=0))
    return float(np.linalg.norm(means[0] - means[1]))


__all__ = ["EyeOrderVotes", "PairDisparity", "black_border_columns", "colour_difference", "eye_order_votes",
           "match_pair", "vertical_disparity"]
