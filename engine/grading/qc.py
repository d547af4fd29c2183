"""Stereo QC measures on arrays: per-frame parallax statistics, window strips, salient depth.

Everything here is pure numpy. Two kinds of per-frame input:

- normalised depth δ (the master's δ after edits and curve) with the frame's grade (D, c):
  screen parallax p = −d = D · (δ − c) (% of width) is an increasing affine map of δ, so the
  percentiles of p are exactly the mapped percentiles of δ. :func:`delta_stats` measures δ
  once and :meth:`DeltaStats.parallax` maps it for any grade (the suggestion search needs that);
- pixel disparity d measured on a master (stereo matcher) or imported: :func:`parallax_stats`.

Conventions (CONVENTIONS.md): d > 0 in front of the screen, p = −d; statistics are in % of
the eye width; NaN / ±inf are unknown pixels (bars, window masks, unmatched) and are left out.
The window strip is the 1 % of the width next to the left / right border; a violation is a
99th percentile of d > 0 there (negative parallax touching the edge), and the floating window
that edge needs is that d, in % of width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRIP_FRACTION = 0.01  # the window strip: 1 % of the width from each side border
PERCENTILES = (1.0, 99.0)
SALIENT_BOX = 0.6  # the salient region: the central 60 % × 60 % of the frame ...
SALIENT_NEAREST = 0.5  # ... its nearest half (the subject a viewer fixates after a cut)


@dataclass(frozen=True)
class ParallaxStats:
    """Screen parallax of one frame, % of eye width (p = −d; p < 0 is in front of the screen).

    Attributes:
        p01, p99: 1st / 99th percentiles of p over the valid pixels.
        p_min, p_max: extremes of p.
        salient: median p of the salient region (central box, its nearest half).
        window_left, window_right: 99th percentile of d in the left / right 1 % strip (% of width;
            > 0 is a window violation and the floating-window width that edge needs).
        valid: fraction of the frame's pixels that were measured.
    """

    p01: float
    p99: float
    p_min: float
    p_max: float
    salient: float
    window_left: float
    window_right: float
    valid: float


@dataclass(frozen=True)
class DeltaStats:
    """Normalised depth δ of one frame (0 nearest, 1 farthest), summarised for QC.

    Attributes:
        q01, q99, q_min, q_max: 1st / 99th percentiles and extremes of δ.
        salient: median δ of the salient region.
        strip_left, strip_right: 1st percentile of δ (the nearest) in the left / right 1 % strip.
        valid: fraction of pixels with finite δ (outside the floating-window masks).
        windows: (left, right) floating-window widths (% of width) already applied to the frame.
    """

    q01: float
    q99: float
    q_min: float
    q_max: float
    salient: float
    strip_left: float
    strip_right: float
    valid: float
    windows: tuple[float, float] = (0.0, 0.0)

    def parallax(self, divergence: float, convergence: float) -> ParallaxStats:
        """The frame's parallax statistics under the grade p = D · (δ − c) (D ≥ 0, % of width).

        The window fields are what each edge still needs beyond the window already applied.
        """
        def p(q: float) -> float:
            return divergence * (q - convergence)

        return ParallaxStats(p(self.q01), p(self.q99), p(self.q_min), p(self.q_max), p(self.salient),
                             -p(self.strip_left) - self.windows[0], -p(self.strip_right) - self.windows[1],
                             self.valid)


def _check_map(values: np.ndarray, name: str) -> None:
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] < 2:
        raise ValueError(f"{name} must be (H, W) with W >= 2, got {values.shape}")


def strip_width(width: int) -> int:
    """Pixels in the window strip of an image `width` wide (at least 1)."""
    return max(1, int(round(STRIP_FRACTION * width)))


def salient_mask(shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the central SALIENT_BOX × SALIENT_BOX box (its nearest half is chosen by value)."""
    h, w = shape
    mask = np.zeros((h, w), dtype=bool)
    y0, x0 = int(h * (1 - SALIENT_BOX) / 2), int(w * (1 - SALIENT_BOX) / 2)
    mask[y0 : max(y0 + 1, h - y0), x0 : max(x0 + 1, w - x0)] = True
    return mask


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else float("nan")


def _salient_median(values: np.ndarray, finite: np.ndarray) -> float:
    """Median of the nearest (smallest δ or p) SALIENT_NEAREST of the central box; NaN when it is empty."""
    box = values[salient_mask(values.shape) & finite]
    if box.size == 0:
        return float("nan")
    k = max(1, int(np.ceil(box.size * SALIENT_NEAREST)))
    return float(np.median(np.partition(box, k - 1)[:k]))


def _strips(values: np.ndarray, finite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = strip_width(values.shape[1])
    left, right = values[:, :s], values[:, -s:]
    return left[finite[:, :s]], right[finite[:, -s:]]


def window_columns(width: int, windows: tuple[float, float]) -> np.ndarray:
    """(W,) bool: columns outside the floating-window masks (left, right) given in % of the width."""
    cols = np.arange(width) + 0.5
    return (cols >= windows[0] / 100.0 * width) & (cols <= width - windows[1] / 100.0 * width)


def delta_stats(delta: np.ndarray, windows: tuple[float, float] = (0.0, 0.0)) -> DeltaStats:
    """Summarise one frame's normalised depth.

    Args:
        delta: (H, W) float δ in [0, 1] (0 nearest); non-finite = unknown, left out.
        windows: floating-window widths (left, right), % of W: masked columns are left out of the
            statistics; the border strips are still measured (what the window covers).
    Returns:
        DeltaStats (NaN fields when no pixel is valid).
    """
    _check_map(delta, "delta")
    finite = np.isfinite(delta)
    left, right = _strips(delta, finite)
    if any(windows):
        finite = finite & window_columns(delta.shape[1], windows)[None, :]
    vals = delta[finite]
    q01, q99 = (_percentile(vals, q) for q in PERCENTILES)
    return DeltaStats(q01, q99, float(vals.min()) if vals.size else float("nan"),
                      float(vals.max()) if vals.size else float("nan"),
                      _salient_median(delta, finite),
                      _percentile(left, PERCENTILES[0]), _percentile(right, PERCENTILES[0]),
                      float(finite.mean()), (float(windows[0]), float(windows[1])))


def parallax_stats(disparity: np.ndarray, width: int | None = None) -> ParallaxStats:
    """Summarise one frame's pixel disparity as screen parallax in % of width.

    Args:
        disparity: (H, W) float pixel disparity d (d > 0 in front); non-finite = unknown.
        width: the eye width the pixels are counted in (default: the map's width).
    Returns:
        ParallaxStats in % of width (NaN fields when no pixel is valid).
    """
    _check_map(disparity, "disparity")
    scale = 100.0 / float(width or disparity.shape[1])
    finite = np.isfinite(disparity)
    p = -disparity * scale
    vals = p[finite]
    d_left, d_right = _strips(disparity * scale, finite)
    p01, p99 = (_percentile(vals, q) for q in PERCENTILES)
    return ParallaxStats(p01, p99, float(vals.min()) if vals.size else float("nan"),
                         float(vals.max()) if vals.size else float("nan"),
                         _salient_median(p, finite),
                         _percentile(d_left, PERCENTILES[1]), _percentile(d_right, PERCENTILES[1]),
                         float(finite.mean()))


HIST_EDGES = np.linspace(-10.0, 10.0, 401)  # parallax histogram bins, % of width (0.05 % wide)


def parallax_histogram(parallax_pct: np.ndarray) -> np.ndarray:
    """Counts of finite parallax values (% of width) in HIST_EDGES bins, clipped into the end bins.

    Args:
        parallax_pct: any shape, % of width.
    Returns:
        (len(HIST_EDGES) - 1,) int64 counts.
    """
    vals = parallax_pct[np.isfinite(parallax_pct)]
    vals = np.clip(vals, HIST_EDGES[0], HIST_EDGES[-1] - 1e-9)
    return np.histogram(vals, bins=HIST_EDGES)[0].astype(np.int64)


__all__ = ["HIST_EDGES", "PERCENTILES", "STRIP_FRACTION", "DeltaStats", "ParallaxStats", "delta_stats",
           "parallax_histogram", "parallax_stats", "salient_mask", "strip_width", "window_columns"]
