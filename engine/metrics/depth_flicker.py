"""Depth flicker: how much a depth sequence changes where the scene does not.

For each consecutive pair (t, t+1): dense flow t -> t+1 on the RGB frames, the
forward-backward-consistent pixels, and mean |δ_t − warp(δ_{t+1})| there, with δ
the depth normalised once over the *whole sequence* (:class:`ShotNormaliser`, the
per-shot robust 2 / 98 % range of CONVENTIONS.md). One range for the sequence
makes the figure scale-free (a provider's units do not matter) yet sensitive to
per-frame scale or shift changes, and comparable before and after stabilisation.
δ is in [0, 1], so the flicker is a fraction of the shot's depth range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from engine.depth.normalise import ShotNormaliser
from engine.flow import FlowConfig, FlowEstimator, fb_confidence, warp_backward
from engine.opencv import cv2

#: flow for the metric: finer than the stabiliser's own (fast, 320 px), so the
#: stabiliser is not scored by the very flow it aligned with.
METRIC_FLOW = FlowConfig(preset="medium", working_width=480)


def pair_flicker(delta_t: np.ndarray, delta_next: np.ndarray, flow_fw: np.ndarray,
                 confident: np.ndarray) -> float | None:
    """Mean |δ_t − warp(δ_{t+1})| over confident pixels where both are valid.

    Args:
        delta_t: (H, W) float normalised depth of frame t (NaN = unknown).
        delta_next: (H, W) float normalised depth of frame t+1.
        flow_fw: (H, W, 2) float pixels, frame t -> t+1 (t(x) ~ t+1(x + flow(x))).
        confident: (H, W) bool, forward-backward-consistent pixels of frame t.
    Returns:
        the mean, or None when no pixel qualifies.
    """
    if delta_t.shape != delta_next.shape or delta_t.shape != confident.shape:
        raise ValueError(f"depth maps and mask differ in shape: {delta_t.shape}, {delta_next.shape}, "
                         f"{confident.shape}")
    warped = warp_backward(delta_next.astype(np.float32, copy=False), flow_fw,
                           border=cv2.BORDER_CONSTANT, border_value=np.nan)
    diff = np.abs(delta_t - warped)
    ok = confident & np.isfinite(diff)
    return float(diff[ok].mean()) if ok.any() else None


def _normalised(depths: Sequence[np.ndarray], kind: str) -> list[np.ndarray]:
    """(H, W) raw maps -> δ per map, with one robust range over the whole sequence."""
    norm = ShotNormaliser(kind)
    for d in depths:
        norm.update(d)
    norm.finalize()
    return [norm.apply(d) for d in depths]


def mean_frame_spread(depths: Sequence[np.ndarray], kind: str,
                      pct: tuple[float, float] = (2.0, 98.0)) -> float:
    """Mean over frames of the robust spread (high − low percentile) of δ normalised over the sequence.

    The companion of the flicker figure: δ is clipped to [0, 1], so when a few
    frames dominate the sequence's range (a provider whose scale runs away) the
    other frames collapse to 0 or 1 and flicker looks low while depth is flat.
    A spread near 0 says the flicker figure means little.

    Args:
        depths: N (H, W) raw depth maps of `kind`.
    Returns:
        mean spread in δ units (0 .. 1); NaN if no frame has a valid pixel.
    """
    spreads = []
    for delta in _normalised(depths, kind):
        valid = delta[np.isfinite(delta)]
        if valid.size:
            lo, hi = np.percentile(valid, pct)
            spreads.append(hi - lo)
    return float(np.mean(spreads)) if spreads else float("nan")


def depth_flicker_many(frames: Sequence[np.ndarray] | Iterable[np.ndarray],
                       variants: Mapping[str, Sequence[np.ndarray]], kind: str,
                       flow: FlowConfig = METRIC_FLOW) -> dict[str, float]:
    """:func:`depth_flicker` of several depth sequences of the same frames (flow computed once).

    Args:
        frames: N (H, W, 3) RGB frames (uint8/uint16/float in [0, 1]).
        variants: name -> N (H, W) raw depth maps of `kind`.
        kind: ``relative`` | ``inverse`` | ``metric``.
        flow: the flow used to match pixels between frames.
    Returns:
        name -> mean flicker over the pairs (NaN when no pair had a confident pixel).
    """
    frames = list(frames)
    for name, depths in variants.items():
        if len(depths) != len(frames):
            raise ValueError(f"{name}: {len(depths)} depth maps for {len(frames)} frames")
    if len(frames) < 2:
        raise ValueError(f"flicker needs at least 2 frames, got {len(frames)}")
    deltas = {name: _normalised(depths, kind) for name, depths in variants.items()}
    est = FlowEstimator(flow)
    per_pair: dict[str, list[float]] = {name: [] for name in variants}
    for t in range(len(frames) - 1):
        fw, bw = est.flow(frames[t], frames[t + 1]), est.flow(frames[t + 1], frames[t])
        confident = fb_confidence(fw, bw)
        for name, ds in deltas.items():
            value = pair_flicker(ds[t], ds[t + 1], fw, confident)
            if value is not None:
                per_pair[name].append(value)
    return {name: float(np.mean(v)) if v else float("nan") for name, v in per_pair.items()}


def depth_flicker(frames: Sequence[np.ndarray] | Iterable[np.ndarray],
                  depths: Sequence[np.ndarray] | Iterable[np.ndarray], kind: str,
                  flow: FlowConfig = METRIC_FLOW) -> float:
    """Mean over consecutive pairs of mean |δ_t − warp(δ_{t+1})| on flow-consistent pixels.

    Args:
        frames: N >= 2 (H, W, 3) RGB frames (uint8/uint16/float in [0, 1]).
        depths: N (H, W) raw depth maps of `kind`, one per frame.
        kind: ``relative`` | ``inverse`` | ``metric`` (``disparity-px`` is never normalised).
        flow: the flow used to match pixels between frames.
    Returns:
        flicker in δ units (fraction of the sequence's robust depth range); lower is steadier.
    """
    return depth_flicker_many(frames, {"depth": list(depths)}, kind, flow)["depth"]
