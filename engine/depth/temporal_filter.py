"""Flow-guided temporal filter of stabilised depth within a shot (lag ``radius`` frames).

Depth estimated frame by frame keeps some per-pixel jitter after :mod:`engine.depth.stabilise` has
fixed each frame's scale and offset: the same surface comes out a little nearer in one frame and a
little farther in the next, and the synthesised eye shimmers where the source is steady (the eye's
E_warp). Here each frame's inverse-like depth is averaged with its neighbours t−R … t+R pulled onto
it along the optical flow (consecutive pair flows, chained), each weighted by

* the flow's forward-backward consistency (0 where it fails: occlusions, wrong matches),
* a range term exp(−Δ² / 2σ²), Δ the difference to this frame's own value in units of its robust
  range (a neighbour that lands on another surface counts little), and
* a temporal Gaussian exp(−(k − t)² / 2τ²);

this frame itself has weight 1. The average is taken at the flow's working size, and the full-size
map receives the difference it made there, upsampled: the full-size edges (snapped to the image)
stay where they are, and the cost stays that of a small map. Frames are only averaged within one
call of :meth:`TemporalDepthFilter.process` (one shot): nothing crosses a cut.

Measured on the DAVIS rollercoaster clip (weights-free depth, DVG, its 480-px case in
``bench/eval_dvg.py``): the synthesised eye's whole-frame E_warp ratio 1.253 → 1.148 with the defaults
(R = 4, σ = 0.5, τ = 2, the stabiliser's DIS fast at 320 px; R = 2: 1.176, R = 6: 1.150). A plain
flow-weighted mean (σ → ∞) pulls a moving object's depth towards its background at the edges (the
tests' moving square: 13 % of the step on average inside it, against 3.4 % with σ = 0.5). A
brightness-constancy weight on the neighbours was tried and made it worse (1.27–1.34 against 1.176 at
R = 2): it varies the smoothing from frame to frame. docs/depth_eval.md, "The temporal filter".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from engine.flow import FlowEstimator, chain_flows, fb_confidence, warp_backward
from engine.opencv import cv2

RANGE_PCT = (2.0, 98.0)  # percentiles of a frame's small map that define its range (the σ unit)


@dataclass(frozen=True)
class TemporalFilterConfig:
    """How depth is averaged over neighbouring frames.

    Attributes:
        radius: R, frames on each side (0 = off); also the filter's lag.
        range_sigma: σ, in units of the frame's robust depth range.
        time_sigma: τ, frames.
        alpha, beta: forward-backward tolerances of :func:`engine.flow.fb_confidence`.
    """

    radius: int = 4
    range_sigma: float = 0.5
    time_sigma: float = 2.0
    alpha: float = 0.01
    beta: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.radius, int) or not 0 <= self.radius <= 8:
            raise ValueError(f"temporal radius must be an integer from 0 to 8, got {self.radius!r}")
        for name in ("range_sigma", "time_sigma", "beta"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"temporal {name} must be a positive number, got {value!r}")
        if not (np.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"temporal alpha must be >= 0, got {self.alpha!r}")


@dataclass
class FilterFrame:
    """One frame in the filter's window.

    Attributes:
        grey: (h, w) uint8 at the flow's working size.
        small: (h, w) float32 inverse-like depth at that size (NaN = unknown).
        full: (H, W) float32 inverse-like depth at full size (dropped once the frame is emitted).
        payload: whatever the caller wants back with the filtered frame.
    """

    grey: np.ndarray
    small: np.ndarray
    full: np.ndarray | None
    payload: object = None


def robust_span(values: np.ndarray) -> float:
    """Width of the RANGE_PCT percentiles of the finite values of `values` (0 when there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0
    lo, hi = np.percentile(finite, RANGE_PCT)
    return float(hi - lo)


def filter_small(values: np.ndarray, neighbours: Sequence[np.ndarray], offsets: Sequence[int],
                 config: TemporalFilterConfig) -> np.ndarray:
    """The weighted average of one frame's small map with its neighbours already pulled onto it.

    Args:
        values: (h, w) float32 this frame's inverse-like depth (NaN = unknown: stays NaN).
        neighbours: per neighbour, (h, w) float32 its depth sampled along the flow from this frame and
            (h, w) float32 the flow's confidence, as a pair.
        offsets: per neighbour, k − t in frames.
    Returns:
        (h, w) float32.
    """
    span = robust_span(values)
    if span <= 0 or not neighbours:
        return values.copy()
    inv_two_sigma2 = np.float32(1.0 / (2.0 * (config.range_sigma * span) ** 2))
    num = np.nan_to_num(values, nan=0.0).astype(np.float32)
    den = np.ones_like(num)
    for (pulled, conf), offset in zip(neighbours, offsets, strict=True):
        time_weight = np.float32(np.exp(-(offset ** 2) / (2.0 * config.time_sigma ** 2)))
        diff = pulled - values
        weight = conf * time_weight * np.exp(-(diff * diff) * inv_two_sigma2)
        weight = np.where(np.isfinite(weight), weight, 0.0).astype(np.float32)
        num += weight * np.nan_to_num(pulled, nan=0.0)
        den += weight
    out = num / den
    out[~np.isfinite(values)] = np.nan
    return out.astype(np.float32, copy=False)


class TemporalDepthFilter:
    """The streaming filter over one shot's frames (lag ``radius``); one instance per thread.

    :meth:`process` takes :class:`FilterFrame` s in order and yields (filtered full-size inverse-like
    depth, payload) in the same order, each once its R later frames (or the shot's end) are in.
    """

    def __init__(self, flow: FlowEstimator, config: TemporalFilterConfig = TemporalFilterConfig()) -> None:
        self.flow = flow
        self.config = config

    def process(self, frames: Iterable[FilterFrame]) -> Iterator[tuple[np.ndarray, object]]:
        radius = self.config.radius
        if radius == 0:
            for frame in frames:
                yield frame.full, frame.payload
            return
        window: deque[FilterFrame] = deque()
        pairs: deque[tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = deque()
        first = 0  # index (within the shot) of window[0]
        done = 0  # frames yielded so far
        for index, frame in enumerate(frames):
            if window:
                pairs.append(self._pair(window[-1], frame))
            window.append(frame)
            while done <= index - radius:  # frame `done` has its R later neighbours
                yield self._filtered(window, pairs, done - first), window[done - first].payload
                window[done - first].full = None  # emitted: later frames read its small map only
                done += 1
                while done - first > radius:  # its R earlier neighbours are all frame `done` still needs
                    window.popleft()
                    pairs.popleft()
                    first += 1
        while done < first + len(window):
            yield self._filtered(window, pairs, done - first), window[done - first].payload
            done += 1

    def _pair(self, a: FilterFrame, b: FilterFrame):
        """((flow a -> b, its confidence), (flow b -> a, its confidence)) at working size."""
        if a.grey.shape != b.grey.shape:
            raise ValueError(f"frames of one shot differ in size: {a.grey.shape} vs {b.grey.shape}")
        fw, bw = self.flow.flow_small(a.grey, b.grey), self.flow.flow_small(b.grey, a.grey)
        c = self.config
        return ((fw, fb_confidence(fw, bw, c.alpha, c.beta).astype(np.float32)),
                (bw, fb_confidence(bw, fw, c.alpha, c.beta).astype(np.float32)))

    def _filtered(self, window: deque[FilterFrame], pairs: deque, at: int) -> np.ndarray:
        """Full-size filtered depth of window[at]: its own map plus the correction made at working size."""
        frame = window[at]
        pulled, offsets = [], []
        for step in (-1, 1):
            chain = None
            for dist in range(1, self.config.radius + 1):
                k = at + step * dist
                if not 0 <= k < len(window):
                    break
                link = pairs[k][1] if step < 0 else pairs[k - 1][0]  # flow (k ∓ 1) -> k
                chain = link if chain is None else chain_flows(chain, link)
                pulled.append((warp_backward(window[k].small, chain[0]), chain[1]))
                offsets.append(step * dist)
        smoothed = filter_small(frame.small, pulled, offsets, self.config)
        change = np.nan_to_num(smoothed - frame.small, nan=0.0)
        height, width = frame.full.shape
        if change.shape != (height, width):
            change = cv2.resize(change, (width, height), interpolation=cv2.INTER_LINEAR)
        return (frame.full + change).astype(np.float32, copy=False)
