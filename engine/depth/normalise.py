"""Per-shot normalisation of raw depth to δ ∈ [0, 1] (CONVENTIONS.md: 0 nearest, 1 farthest).

The range comes from robust percentiles (about 2 % / 98 %) of the whole shot,
never from per-frame min/max (the stereo would "breathe"). Memory stays bounded:
a fixed-size random sample (a reservoir) of values is kept across frames.
"""

from __future__ import annotations

import numpy as np

from engine.depth import _maps_numba
from engine.vocabulary import DEPTH_KINDS

#: δ used when a shot's depth is flat (or has no valid value): the default
#: convergence c = 1/3, so with the default grade everything sits on the screen plane.
FLAT_DELTA = 1.0 / 3.0


def to_inverse_like(raw: np.ndarray, kind: str) -> np.ndarray:
    """Map raw depth monotonically to "larger = nearer" disparity-like values.

    Args:
        raw: (H, W) or any shape, float.
        kind: ``relative`` (-> -raw), ``inverse`` (-> raw) or ``metric`` (-> 1/Z;
            Z <= 0 or non-finite -> NaN). ``disparity-px`` is used as-is downstream
            and is never normalised: ValueError.
    Returns:
        float32 array of `raw`'s shape; non-finite inputs become NaN.
    """
    raw = np.asarray(raw, dtype=np.float32)
    if kind in ("relative", "inverse") and raw.size:
        out = np.empty(raw.shape, np.float32)
        _maps_numba.inverse_like(np.ascontiguousarray(raw).reshape(-1), kind == "relative", out.reshape(-1))
        return out
    if kind == "relative":
        out = -raw
    elif kind == "inverse":
        out = raw.copy()
    elif kind == "metric":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(raw > 0, 1.0 / raw, np.nan).astype(np.float32)
    elif kind == "disparity-px":
        raise ValueError("disparity-px depth is used as pixel disparity as-is and is never normalised")
    else:
        raise ValueError(f"unknown depth kind {kind!r}: choose one of {', '.join(DEPTH_KINDS)}")
    out[~np.isfinite(out)] = np.nan
    return out


class ShotNormaliser:
    """Robust per-shot range of raw depth, then δ = clip((hi - v) / (hi - lo), 0, 1).

    Feed every frame of the shot with :meth:`update`, call :meth:`finalize`, then
    :meth:`apply` to each frame. Ranges are in inverse-like units
    (:func:`to_inverse_like`): ``lo`` is the far end, ``hi`` the near end.
    """

    def __init__(self, kind: str, low_pct: float = 2.0, high_pct: float = 98.0,
                 sample_per_frame: int = 20000, seed: int = 0, capacity: int = 262_144) -> None:
        """`capacity`: reservoir size in samples (float32; the default is 1 MiB)."""
        to_inverse_like(np.zeros(1, np.float32), kind)  # validates the kind
        if not 0.0 <= low_pct < high_pct <= 100.0:
            raise ValueError(f"need 0 <= low_pct < high_pct <= 100, got {low_pct}, {high_pct}")
        self.kind, self.low_pct, self.high_pct = kind, low_pct, high_pct
        self.sample_per_frame = sample_per_frame
        self._rng = np.random.default_rng(seed)
        self.capacity = capacity
        self._reservoir = np.empty(capacity, np.float32)
        self._seen = 0
        self._range: tuple[float, float] | None = None
        self.flat = False
        self.note: str | None = None

    @classmethod
    def from_range(cls, kind: str, lo: float, hi: float) -> ShotNormaliser:
        """Rebuild a finalized normaliser from a cached (lo, hi) range."""
        norm = cls(kind)
        norm._set_range(float(lo), float(hi))
        return norm

    @property
    def range(self) -> tuple[float, float]:
        """(lo, hi) once finalized."""
        if self._range is None:
            raise RuntimeError("ShotNormaliser: call finalize() (or from_range) before using the range")
        return self._range

    def update(self, raw: np.ndarray) -> None:
        """Add one frame's raw depth (H, W) to the shot's sample (finite values only)."""
        values = to_inverse_like(raw, self.kind).ravel()
        values = values[np.isfinite(values)]
        if values.size > self.sample_per_frame:
            values = values[self._rng.choice(values.size, self.sample_per_frame, replace=False)]
        self._reservoir_add(values)
        self._range = None

    def _reservoir_add(self, values: np.ndarray) -> None:
        """Algorithm R, vectorised: item number n (1-based) replaces slot j ~ U[0, n) if j < capacity."""
        free = min(self.capacity - self._seen, values.size) if self._seen < self.capacity else 0
        if free > 0:
            self._reservoir[self._seen:self._seen + free] = values[:free]
        rest = values[free:]
        if rest.size:
            numbers = self._seen + free + np.arange(1, rest.size + 1)
            slots = (self._rng.random(rest.size) * numbers).astype(np.int64)
            keep = slots < self.capacity
            self._reservoir[slots[keep]] = rest[keep]
        self._seen += values.size

    def finalize(self) -> tuple[float, float]:
        """Compute and return (lo, hi) from the sample; a flat or empty shot is noted in :attr:`note`."""
        sample = self._reservoir[:min(self._seen, self.capacity)]
        if sample.size == 0:
            self._set_range(0.0, 0.0)
            self.note = "no valid depth in this shot: everything is placed at the screen plane"
            return self.range
        lo, hi = np.percentile(sample, [self.low_pct, self.high_pct])
        self._set_range(float(lo), float(hi))
        return self.range

    def _set_range(self, lo: float, hi: float) -> None:
        self._range = (lo, hi)
        self.flat = not (hi - lo > 1e-6 * max(1.0, abs(hi), abs(lo)))
        flat_note = "depth is flat in this shot: everything is placed at the screen plane"
        self.note = flat_note if self.flat else None

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """(H, W) raw depth -> (H, W) float32 δ in [0, 1], 0 nearest; NaN stays NaN.

        A flat shot maps every valid pixel to :data:`FLAT_DELTA` (the default convergence).
        """
        lo, hi = self.range
        v = to_inverse_like(raw, self.kind)
        if self.flat:
            return np.where(np.isnan(v), np.nan, FLAT_DELTA).astype(np.float32)
        # in place on the float32 copy, one pass: the float32 operations of clip((hi - v) / (hi - lo), 0, 1)
        v = np.ascontiguousarray(v)
        _maps_numba.normalised(v.reshape(-1), np.float32(hi), np.float32(hi - lo), v.reshape(-1))
        return v
