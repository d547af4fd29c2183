"""Temporal stabilisation of raw depth within a shot (before the per-shot normaliser).

Learned relative-depth models (Marigold, and Depth Anything to a lesser degree)
choose their scale and offset afresh for every frame, so the same wall moves in
depth from frame to frame and the stereo "breathes". Two remedies, both
streaming, both reset at shot cuts, both returning raw depth of the input kind so
the per-shot normaliser downstream is unchanged:

``align`` (lag 0)
    In inverse-like space (:func:`to_inverse_like`), at the flow's working size.
    Frame t is matched by flow (both ways, forward-backward-consistent pixels only)
    to a *key frame*, an earlier already-stabilised frame, and a robust, symmetric
    scale/shift fit a·x_t + b ≈ stabilised_key is applied to the whole map. The
    key frame is renewed every ``key_interval`` frames, or sooner when less than
    ``min_overlap`` of the frame still matches it: chaining every frame to the
    previous one would add up one small fit error per frame (a random walk: several
    % over 200 frames on the tests' synthetic pan), key frames add up one per key.
    The fit is a trimmed reduced-major-axis fit on pairs pooled from both warp
    directions: least squares would shrink the scale whenever the source is noisy,
    and interpolating only one side smooths it, each a bias that compounds into drift.
    Degenerate fits (too few matched pixels, a <= 0, weak correlation, a scale step
    beyond ``max_step``) fall back to the previous frame, then to matching the robust
    range of the previous stabilised frame. ``anchor_pull`` > 0 additionally pulls
    each transform towards the shot's mean transform (bounded drift on very long
    shots, at the price of leaking that fraction of the per-frame jitter; 0 by
    default, see docs/depth_eval.md). ``metric`` depth gets a scale-only fit so 1/Z
    stays positive.
``ema`` (lag ``lookahead``)
    Each frame's robust range (``range_pct`` percentiles) is smoothed by an EMA
    run ``lookahead`` frames ahead of the output (so a range change is
    anticipated and the EMA's own lag is mostly cancelled); each frame's values
    are mapped from its own range into the smoothed one.
``off``
    Pass-through.

``disparity-px`` depth is pixel disparity used as-is (CONVENTIONS.md) and is passed through.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from engine.depth import _maps_numba
from engine.depth.normalise import to_inverse_like
from engine.depth.protocol import DepthProvider
from engine.depth.temporal_filter import FilterFrame, TemporalDepthFilter, TemporalFilterConfig
from engine.flow import FlowConfig, FlowEstimator, fb_confidence, to_gray, warp_backward, working_size
from engine.opencv import cv2
from engine.vocabulary import DEPTH_KINDS
from engine.vocabulary import STABILISE_MODES as MODES


@dataclass(frozen=True)
class StabiliseConfig:
    """How raw depth is stabilised over time.

    Attributes:
        mode: ``align`` (flow-matched scale/shift, lag 0) | ``ema`` (smoothed range,
            lag `lookahead`) | ``off``.
        flow: flow used by ``align`` (its working width is also the fit's resolution).
        ema: ``ema`` mode: weight of the past in the range EMA (memory ≈ 1 / (1 − ema) frames).
        lookahead: ``ema`` mode: frames read ahead of the output.
        max_sample: most pixels used per frame for a fit or a range.
        anchor_pull: ``align``: weight of the shot's mean transform (geometric mean scale,
            mean shift since the cut) blended into each frame's fitted transform.
        key_interval: ``align``: frames between key-frame renewals (1 = chain every frame).
        min_overlap: ``align``: renew the key frame sooner when less than this fraction
            of the frame is matched to it.
        min_pixels: ``align``: fewest confident pixels for a fit.
        min_corr: ``align``: weakest correlation of matched inliers accepted.
        max_step: ``align``: largest frame-to-frame scale change accepted (and 1 / it).
        range_pct: robust (low, high) percentiles of a frame's range.
        seed: seed of the pixel sampling (results are deterministic).
    """

    mode: str = "align"
    flow: FlowConfig = FlowConfig(preset="fast", working_width=320)
    ema: float = 0.9
    lookahead: int = 8
    max_sample: int = 20000
    anchor_pull: float = 0.0
    key_interval: int = 10
    min_overlap: float = 0.5
    min_pixels: int = 500
    min_corr: float = 0.5
    max_step: float = 4.0
    range_pct: tuple[float, float] = (2.0, 98.0)
    seed: int = 0
    temporal: TemporalFilterConfig = TemporalFilterConfig()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown stabilisation mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        if self.lookahead < 0:
            raise ValueError(f"lookahead must be >= 0 frames, got {self.lookahead}")
        if self.key_interval < 1 or not 0.0 <= self.min_overlap <= 1.0:
            raise ValueError(f"need key_interval >= 1 and min_overlap in [0, 1], got {self.key_interval}, "
                             f"{self.min_overlap}")
        if not 0.0 <= self.anchor_pull <= 1.0:
            raise ValueError(f"anchor_pull must be in [0, 1], got {self.anchor_pull}")
        if self.max_sample < 100 or self.min_pixels < 10:
            raise ValueError(f"need max_sample >= 100 and min_pixels >= 10, got {self.max_sample}, "
                             f"{self.min_pixels}")
        if self.max_step <= 1.0:
            raise ValueError(f"max_step must be > 1, got {self.max_step}")
        lo, hi = self.range_pct
        if not 0.0 <= lo < hi <= 100.0:
            raise ValueError(f"range_pct must satisfy 0 <= low < high <= 100, got {self.range_pct}")


@dataclass(frozen=True)
class Affine:
    """y = a·x + b in inverse-like units (a > 0)."""

    a: float = 1.0
    b: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x * np.float32(self.a) + np.float32(self.b)).astype(np.float32, copy=False)

    def blend(self, other: Affine, weight: float) -> Affine:
        """The map whose output is (1 − weight)·self(x) + weight·other(x)."""
        return Affine((1 - weight) * self.a + weight * other.a, (1 - weight) * self.b + weight * other.b)


IDENTITY = Affine()


def from_inverse_like(values: np.ndarray, kind: str) -> np.ndarray:
    """Inverse of :func:`to_inverse_like`: "larger = nearer" values back to raw depth of `kind`.

    Args:
        values: any shape, float; NaN = unknown.
        kind: ``relative`` (-> −v), ``inverse`` (-> v) or ``metric`` (-> 1/v; v <= 0 -> NaN).
    Returns:
        float32 array of `values`' shape.
    """
    values = np.asarray(values, np.float32)
    if kind == "inverse":
        return values.copy()
    if kind == "relative":
        return -values
    if kind == "metric":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(values > 0, 1.0 / values, np.nan).astype(np.float32)
    raise ValueError(f"cannot convert back to depth kind {kind!r}: choose relative, inverse or metric")


def mapped_back(x: np.ndarray, affine: Affine, kind: str) -> np.ndarray:
    """``from_inverse_like(affine(x), kind)`` in one pass for the relative and inverse kinds (bit-identical).

    Args:
        x: (H, W) float32 inverse-like values.
    Returns:
        (H, W) float32 raw depth of `kind`.
    """
    if kind not in ("relative", "inverse") or x.dtype != np.float32 or not x.size:
        return from_inverse_like(affine(x), kind)
    out = np.empty(x.shape, np.float32)
    _maps_numba.affine(np.ascontiguousarray(x).reshape(-1), np.float32(affine.a), np.float32(affine.b),
                       kind == "relative", out.reshape(-1))
    return out


def sample_values(values: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `count` finite values of `values` (any shape), drawn at random (with replacement)."""
    flat = values.ravel()
    if flat.size > 2 * count:
        flat = flat[rng.integers(0, flat.size, 2 * count)]
    flat = flat[np.isfinite(flat)]
    return flat[:count]


def robust_range(values: np.ndarray, pct: tuple[float, float]) -> tuple[float, float] | None:
    """(low, high) percentiles of the finite `values` (1-D); None if fewer than 10."""
    if values.size < 10:
        return None
    lo, hi = np.percentile(values, pct)
    return float(lo), float(hi)


def range_match(src: tuple[float, float], dst: tuple[float, float], scale_only: bool) -> Affine | None:
    """The map taking range `src` = (lo, hi) onto `dst`; None if `src` or `dst` is flat.

    `scale_only` (for positive 1/Z): a = (dst_lo + dst_hi) / (src_lo + src_hi), b = 0.
    """
    if scale_only:
        s, d = src[0] + src[1], dst[0] + dst[1]
        return Affine(d / s, 0.0) if s > 1e-12 and d > 1e-12 else None
    width_s, width_d = src[1] - src[0], dst[1] - dst[0]
    tiny = 1e-9 * max(1.0, abs(src[0]), abs(src[1]))
    if width_s <= tiny or width_d <= 1e-9 * max(1.0, abs(dst[0]), abs(dst[1])):
        return None
    a = width_d / width_s
    return Affine(a, dst[0] - a * src[0])


@dataclass(frozen=True)
class FitResult:
    """A robust fit and how well the matched pixels agree."""

    affine: Affine
    corr: float
    inliers: int


def robust_fit(src: np.ndarray, tgt: np.ndarray, scale_only: bool = False, k: float = 3.0,
               iterations: int = 3) -> FitResult | None:
    """Robust, symmetric fit a·src + b ≈ tgt (trimmed reduced-major-axis).

    Starts from median / inter-quartile matching, then `iterations` times keeps the
    pairs whose residual is within `k` robust sigmas (MAD) and sets a = std(tgt) /
    std(src), b = mean(tgt) − a·mean(src) on them. Symmetric in its arguments (no
    regression dilution: noise on either side does not bias a towards 0).
    `scale_only`: b = 0 and a = exp(median(log tgt − log src)) over positive pairs.

    Args:
        src, tgt: (N,) float, finite.
    Returns:
        the fit, or None when it is undefined (too few pairs, no spread, a <= 0).
    """
    if src.shape != tgt.shape or src.ndim != 1:
        raise ValueError(f"src and tgt must be equal-length 1-D arrays, got {src.shape} and {tgt.shape}")
    src, tgt = src.astype(np.float64), tgt.astype(np.float64)
    if scale_only:
        return _scale_fit(src, tgt, k)
    q_s, q_t = np.percentile(src, [25, 50, 75]), np.percentile(tgt, [25, 50, 75])
    if q_s[2] - q_s[0] <= 1e-12 or q_t[2] - q_t[0] <= 1e-12:
        return None
    a = (q_t[2] - q_t[0]) / (q_s[2] - q_s[0])
    b = q_t[1] - a * q_s[1]
    keep = np.ones(src.size, bool)
    for _ in range(iterations):
        keep = _inliers(a * src + b - tgt, k)
        s, t = src[keep], tgt[keep]
        if s.size < 10 or s.std() <= 1e-12:
            return None
        corr = float(np.corrcoef(s, t)[0, 1])
        if not corr > 0:
            return None
        a = t.std() / s.std()
        b = t.mean() - a * s.mean()
    return FitResult(Affine(float(a), float(b)), corr, int(keep.sum()))


def _scale_fit(src: np.ndarray, tgt: np.ndarray, k: float) -> FitResult | None:
    pos = (src > 0) & (tgt > 0)
    if pos.sum() < 10:
        return None
    log_ratio = np.log(tgt[pos]) - np.log(src[pos])
    keep = _inliers(log_ratio - np.median(log_ratio), k)
    s, t = src[pos][keep], tgt[pos][keep]
    if s.size < 10 or s.std() <= 1e-12 or t.std() <= 1e-12:
        return None
    corr = float(np.corrcoef(s, t)[0, 1])
    return FitResult(Affine(float(np.exp(np.median(log_ratio[keep]))), 0.0), corr, int(s.size))


def _inliers(residual: np.ndarray, k: float) -> np.ndarray:
    """|r − median r| <= k · 1.4826 · MAD (at least the pairs tied with the median)."""
    dev = np.abs(residual - np.median(residual))
    sigma = 1.4826 * float(np.median(dev))
    return dev <= k * sigma if sigma > 0 else dev <= 1e-12 * max(1.0, float(dev.max()))


@dataclass(frozen=True)
class _Ref:
    """A frame already stabilised, at the flow's working size."""

    grey: np.ndarray  # (h, w) uint8
    stabilised: np.ndarray  # (h, w) float32 inverse-like


class DepthStabiliser:
    """Streaming: feed (frame RGB, raw depth of a known kind) in order, get stabilised raw depth
    (same kind) out, with a bounded lag (0 for ``align``, ``lookahead`` for ``ema``); reset() at
    shot cuts.

    State carries over between :meth:`process` calls (a shot may be fed in pieces);
    each call yields every map it was given before returning.
    """

    def __init__(self, kind: str, config: StabiliseConfig = StabiliseConfig()) -> None:
        if kind not in DEPTH_KINDS:
            raise ValueError(f"unknown depth kind {kind!r}: choose one of {', '.join(DEPTH_KINDS)}")
        self.kind = kind
        self.config = config
        self.active = config.mode != "off" and kind != "disparity-px"
        self.scale_only = kind == "metric"
        self._flow = FlowEstimator(config.flow)
        self.reset()

    @property
    def lag(self) -> int:
        """Most frames read ahead of the map being yielded."""
        if not self.active:
            return 0
        return (self.config.lookahead if self.config.mode == "ema" else 0) + self.config.temporal.radius

    def reset(self) -> None:
        """Forget the shot (call at every cut): the next frame starts a new chain / range."""
        self._rng = np.random.default_rng(self.config.seed)
        self._prev: _Ref | None = None
        self._key: _Ref | None = None
        self._key_age = 0
        self._last = IDENTITY
        self._sums = np.zeros(3)  # (Σ log a, Σ b, frames) of the transforms applied since the cut
        self._ema: tuple[float, float] | None = None
        self.fallbacks = 0  # frames whose flow fit was refused since the last reset

    def process(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
        """(H, W, 3) RGB frame and its (H, W) raw depth, in order -> (H, W) float32 stabilised depth."""
        if not self.active:
            for _, raw in pairs:
                yield np.asarray(raw, np.float32)
            return
        if self.config.temporal.radius == 0:
            if self.config.mode == "align":
                for frame, raw in pairs:
                    yield self._align(frame, raw)
                return
            yield from self._ema_stream(pairs)
            return
        # then the flow-guided temporal filter (lag R) on the stabilised maps, at the flow's working size
        parts = (self._align_parts(frame, raw) for frame, raw in pairs) if self.config.mode == "align" \
            else self._ema_parts(pairs)
        for values, _ in TemporalDepthFilter(self._flow, self.config.temporal).process(parts):
            yield from_inverse_like(values, self.kind)

    # ----------------------------------------------------------------------------------- align

    def _align(self, frame: np.ndarray, raw: np.ndarray) -> np.ndarray:
        x, affine = self._align_fit(frame, raw)
        return mapped_back(x, affine, self.kind)

    def _align_fit(self, frame: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, Affine]:
        """Fit this frame to the chain (see the module's ``align``): its inverse-like map and the transform."""
        if frame.shape[:2] != raw.shape[:2] or raw.ndim != 2:
            raise ValueError(f"depth {raw.shape} must be (H, W) matching the frame {frame.shape[:2]}")
        x = to_inverse_like(raw, self.kind)
        grey, x_small = self._small(frame, x)
        affine, overlap = (IDENTITY, 0.0) if self._prev is None else self._next_affine(grey, x_small)
        self._prev, self._last = _Ref(grey, affine(x_small)), affine
        self._sums += (np.log(affine.a), affine.b, 1.0)
        self._key_age += 1
        cfg = self.config
        if self._key is None or self._key_age >= cfg.key_interval or overlap < cfg.min_overlap:
            self._key, self._key_age = self._prev, 0
        return x, affine

    def _align_parts(self, frame: np.ndarray, raw: np.ndarray) -> FilterFrame:
        """:meth:`_align` for the temporal filter: the stabilised map as inverse-like values, full size and
        at the flow's working size, with the grey frame there."""
        x, affine = self._align_fit(frame, raw)
        return FilterFrame(self._prev.grey, self._prev.stabilised, affine(x))

    def _ema_parts(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> Iterator[FilterFrame]:
        """The ``ema`` stream for the temporal filter: each frame's mapped values and its grey frame."""
        frames: deque[np.ndarray] = deque()

        def tapped() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for frame, raw in pairs:
                frames.append(frame)
                yield frame, raw

        for mapped in self._ema_stream(tapped()):
            values = to_inverse_like(mapped, self.kind)
            grey, small = self._small(frames.popleft(), values)
            yield FilterFrame(grey, small, values)

    def _small(self, frame: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grey frame (uint8) and inverse-like depth at the flow's working size."""
        height, width = x.shape
        w, h = working_size(width, height, self.config.flow.working_width)
        grey = to_gray(frame)
        if (w, h) == (width, height):
            return grey, x
        return (cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA),
                cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA))

    def _range(self, values: np.ndarray) -> tuple[float, float] | None:
        return robust_range(sample_values(values, self.config.max_sample, self._rng), self.config.range_pct)

    def _next_affine(self, grey: np.ndarray, x_small: np.ndarray) -> tuple[Affine, float]:
        """This frame's transform and the fraction of it matched to the key frame.

        The fit to the key frame, else to the previous frame, else the range of the
        previous stabilised frame, else the last transform; then pulled towards the
        shot's mean transform by ``anchor_pull``.
        """
        fit, overlap = self._flow_fit(grey, x_small, self._key)
        if fit is None and self._key is not self._prev:
            fit, _ = self._flow_fit(grey, x_small, self._prev)
        if fit is None:
            self.fallbacks += 1
            x_range, prev_range = self._range(x_small), self._range(self._prev.stabilised)
            fit = None if x_range is None or prev_range is None else \
                range_match(x_range, prev_range, self.scale_only)
            fit = fit or self._last
        log_a, b, count = self._sums
        return fit.blend(Affine(float(np.exp(log_a / count)), b / count), self.config.anchor_pull), overlap

    def _flow_fit(self, grey: np.ndarray, x_small: np.ndarray, ref: _Ref) -> tuple[Affine | None, float]:
        """Robust fit of this frame to a stabilised reference frame, matched along the flow both ways.

        Pairs are taken at this frame's pixels (the reference warped here) *and* at the
        reference's pixels (this map warped there): interpolation smooths the warped side
        a little, which alone would bias the scale down (or up) at every fit and add up to
        drift over a shot; pooling both directions cancels it to first order.

        Returns:
            the fit (None when degenerate) and the fraction of this frame's pixels matched.
        """
        cfg = self.config
        to_ref, to_cur = self._flow.flow_small(grey, ref.grey), self._flow.flow_small(ref.grey, grey)
        here = self._pairs(x_small, ref.stabilised, to_ref, to_cur)
        there = self._pairs(ref.stabilised, x_small, to_cur, to_ref)
        overlap = here[2] / x_small.size
        src, tgt = np.concatenate([here[0], there[1]]), np.concatenate([here[1], there[0]])
        if src.size < cfg.min_pixels:
            return None, overlap
        result = robust_fit(src, tgt, self.scale_only)
        if result is None or result.corr < cfg.min_corr or result.inliers < cfg.min_pixels // 2:
            return None, overlap
        step = result.affine.a / self._last.a
        if not (1.0 / cfg.max_step <= step <= cfg.max_step) or not np.isfinite(result.affine.b):
            return None, overlap
        return result.affine, overlap

    def _pairs(self, values: np.ndarray, other: np.ndarray, flow: np.ndarray,
               back: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """(values at confident pixels, `other` pulled there along `flow`, number of confident pixels).

        Args:
            values, other: (h, w) float maps of two frames; `flow` (h, w, 2) goes from
                `values`' frame to `other`'s, `back` the other way. At most max_sample / 2 pairs.
        """
        pulled = warp_backward(other, flow, border=cv2.BORDER_CONSTANT, border_value=np.nan)
        index = np.flatnonzero(fb_confidence(flow, back) & np.isfinite(values) & np.isfinite(pulled))
        count, half = index.size, self.config.max_sample // 2
        if count > half:
            index = self._rng.choice(index, half, replace=False)
        return values.ravel()[index], pulled.ravel()[index], count

    # ------------------------------------------------------------------------------------- ema

    def _ema_stream(self, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
        buffer: deque[tuple[np.ndarray, tuple[float, float] | None]] = deque()
        for _, raw in pairs:
            x = to_inverse_like(raw, self.kind)
            own = robust_range(sample_values(x, self.config.max_sample, self._rng), self.config.range_pct)
            if own is not None:
                keep = self.config.ema if self._ema is not None else 0.0
                prev = self._ema or own
                self._ema = (keep * prev[0] + (1 - keep) * own[0], keep * prev[1] + (1 - keep) * own[1])
            buffer.append((x, own))
            if len(buffer) > self.config.lookahead:
                yield self._ema_map(*buffer.popleft())
        while buffer:
            yield self._ema_map(*buffer.popleft())

    def _ema_map(self, x: np.ndarray, own: tuple[float, float] | None) -> np.ndarray:
        """Map a frame from its own range into the current smoothed range (identity if either is flat)."""
        affine = None if own is None or self._ema is None else range_match(own, self._ema, self.scale_only)
        return from_inverse_like((affine or IDENTITY)(x), self.kind)


def estimate_stabilised(provider: DepthProvider, frames: Iterable[np.ndarray],
                        stabiliser: DepthStabiliser) -> Iterator[np.ndarray]:
    """Run `provider` on `frames` and stabilise its maps, pairing each map with its own frame.

    A provider reads frames ahead of the map it yields, so zipping one frame
    iterator with its output would misalign them; here each frame the provider
    pulls is queued until its map comes out (the queue is as long as the
    provider's look-ahead). Neither the provider nor the stabiliser is reset.

    Args:
        frames: (H, W, 3) RGB frames of one shot.
    Returns:
        (H, W) float32 stabilised raw depth of ``provider.output_kind``, one per frame.
    """
    if stabiliser.kind != provider.output_kind:
        raise ValueError(f"stabiliser is for {stabiliser.kind!r} depth but {provider.name} gives "
                         f"{provider.output_kind!r}")
    return stabiliser.process(paired_estimates(provider, frames))


def paired_estimates(provider: DepthProvider, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(frame, its raw map) in order from `provider` over `frames`, whatever the provider's look-ahead.

    The first half of :func:`estimate_stabilised`, so a pipeline can run the provider in one thread and
    the stabiliser in another.

    Args:
        frames: (H, W, 3) RGB frames of one shot.
    """
    pending: deque[np.ndarray] = deque()

    def tapped() -> Iterator[np.ndarray]:
        for frame in frames:
            pending.append(frame)
            yield frame

    for raw in provider.estimate(tapped()):
        yield pending.popleft(), raw
