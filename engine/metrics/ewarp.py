"""Temporal stability: the flow warping error E_warp (Lai et al., ECCV 2018) and fill flicker.

For a pair of consecutive frames (t, t+1) with flow t -> t+1 and a non-occlusion mask M_t:

    E_warp(V_t, V_t+1) = 1 / (3 Σ_i M_t(i)) · Σ_i M_t(i) ||V_t(i) − warp(V_t+1)(i)||²

with RGB in [0, 1] and warp(V_t+1)(x) = V_t+1(x + flow(x)) (bilinear), and for a sequence the
mean over its pairs, E_warp(V) = 1 / (T − 1) · Σ_t E_warp(V_t, V_t+1). The paper writes the
squared norm over RGB divided by Σ M; the authors' evaluate_WarpError.py divides by the sum of a
3-channel mask, i.e. by 3 Σ M — the per-channel mean written above. We follow the code, so the
figures compare with published tables. Pairs with no non-occluded pixel are left out (the
authors' code counts them as 0).

The mask follows the authors' detect_occlusion (Ruder et al. 2016): forward-backward
consistency (:func:`engine.flow.fb_confidence`, α = 0.01, β = 0.5 px²) and, optionally, no
motion boundary (|∇u|² + |∇v|² ≤ 0.01 |w|² + 0.002). One difference, by design: the authors
compute flow once on the *input* video and apply it to every output; here each sequence is
scored with flow computed on itself (DIS), because the two eyes of a stereo render are not
registered with the source.

Restricted to holes: the same per-pair figure over pixels that are non-occluded AND were holes
(disocclusions the renderer had to fill) at t or at t+1 — t+1's mask carried to t along the flow
(nearest sample) — averaged over the pairs that have such pixels. There filling, not the source,
decides the result.

Fill flicker: over pixels that are non-occluded and filled at BOTH t and t+1 (t+1 carried), the
mean absolute difference |V_t − warp(V_t+1)| averaged over RGB, in [0, 1]; averaged over pairs
that have such pixels. A fill that is stable over time scores like the rest of the frame; one
re-invented every frame scores high.
"""

from __future__ import annotations

import numpy as np

from engine.flow import (
    FlowConfig,
    FlowEstimator,
    fb_confidence,
    to_gray,
    upscale_flow,
    warp_backward,
    working_size,
)
from engine.metrics.image import as_unit_float
from engine.opencv import cv2

#: flow for the metric: DIS "medium" at up to 640 px wide, vectors upscaled to full resolution.
EWARP_FLOW = FlowConfig(preset="medium", working_width=640)


def _check_pair(frame_t: np.ndarray, frame_t1: np.ndarray, flow: np.ndarray) -> None:
    if frame_t.shape != frame_t1.shape or frame_t.ndim != 3:
        raise ValueError(f"frames must both be (H, W, C), got {frame_t.shape} and {frame_t1.shape}")
    if flow.shape != (*frame_t.shape[:2], 2):
        raise ValueError(f"flow must be (H, W, 2) = {(*frame_t.shape[:2], 2)}, got {flow.shape}")


def warp_residual(frame_t: np.ndarray, frame_t1: np.ndarray, flow_t_to_t1: np.ndarray) -> np.ndarray:
    """V_t − warp(V_t+1): frame t+1 pulled back to t along the flow, subtracted from frame t.

    Args:
        frame_t, frame_t1: (H, W, C) images, uint8 / uint16 / float in [0, 1].
        flow_t_to_t1: (H, W, 2) float pixels, frame_t(x) ~ frame_t1(x + flow(x)).
    Returns:
        (H, W, C) float32 residual in [-1, 1] (bilinear warp, edges replicated).
    """
    _check_pair(frame_t, frame_t1, flow_t_to_t1)
    warped = warp_backward(as_unit_float(frame_t1), flow_t_to_t1)
    return as_unit_float(frame_t) - warped.reshape(frame_t.shape)


def warp_error(frame_t: np.ndarray, frame_t1: np.ndarray, flow_t_to_t1: np.ndarray,
               valid: np.ndarray) -> float | None:
    """E_warp of one pair: the mean over `valid` pixels and over channels of (V_t − warp(V_t+1))².

    Args:
        frame_t, frame_t1: (H, W, 3) RGB, uint8 / uint16 / float in [0, 1].
        flow_t_to_t1: (H, W, 2) float pixels, frame t -> t+1.
        valid: (H, W) bool, the non-occlusion mask M_t (and any restriction, e.g. holes).
    Returns:
        the error in [0, 1], or None when no pixel is valid.
    """
    if valid.shape != frame_t.shape[:2]:
        raise ValueError(f"valid must be (H, W) = {frame_t.shape[:2]}, got {valid.shape}")
    if not valid.any():
        return None
    residual = warp_residual(frame_t, frame_t1, flow_t_to_t1)
    return float(np.mean(residual[valid] ** 2, dtype=np.float64))


def fill_flicker(frame_t: np.ndarray, frame_t1: np.ndarray, flow_t_to_t1: np.ndarray, valid: np.ndarray,
                 filled_t: np.ndarray, filled_t1: np.ndarray) -> float | None:
    """Flicker inside filled regions: mean |V_t − warp(V_t+1)| over pixels filled at both t and t+1.

    Args:
        frame_t, frame_t1: (H, W, 3) RGB, uint8 / uint16 / float in [0, 1].
        flow_t_to_t1: (H, W, 2) float pixels, frame t -> t+1.
        valid: (H, W) bool non-occlusion mask of frame t.
        filled_t: (H, W) bool, pixels of frame t the renderer filled (holes).
        filled_t1: (H, W) bool, the same for frame t+1, in t+1's own coordinates (carried here).
    Returns:
        the mean absolute difference over pixels and RGB, in [0, 1]; None when no pixel qualifies.
    """
    both = valid & filled_t & carry_mask(filled_t1, flow_t_to_t1)
    if not both.any():
        return None
    residual = warp_residual(frame_t, frame_t1, flow_t_to_t1)
    return float(np.mean(np.abs(residual[both]), dtype=np.float64))


def carry_mask(mask_t1: np.ndarray, flow_t_to_t1: np.ndarray) -> np.ndarray:
    """A mask of frame t+1 seen from frame t: out(x) = mask_t1(x + flow(x)), nearest sample.

    Args:
        mask_t1: (H, W) bool in frame t+1's coordinates.
        flow_t_to_t1: (H, W, 2) float pixels, frame t -> t+1.
    Returns:
        (H, W) bool in frame t's coordinates (False where the flow leaves the frame).
    """
    if mask_t1.shape != flow_t_to_t1.shape[:2]:
        raise ValueError(f"mask must be (H, W) = {flow_t_to_t1.shape[:2]}, got {mask_t1.shape}")
    pulled = warp_backward(mask_t1.astype(np.uint8), flow_t_to_t1, interpolation=cv2.INTER_NEAREST,
                           border=cv2.BORDER_CONSTANT)
    return pulled.astype(bool)


def hole_pixels(holes_t: np.ndarray, holes_t1: np.ndarray, flow_t_to_t1: np.ndarray) -> np.ndarray:
    """Pixels of frame t that are holes at t or at t+1 (t+1's mask carried to t along the flow).

    Args:
        holes_t, holes_t1: (H, W) bool hole masks, each in its own frame's coordinates.
        flow_t_to_t1: (H, W, 2) float pixels, frame t -> t+1.
    Returns:
        (H, W) bool.
    """
    return holes_t | carry_mask(holes_t1, flow_t_to_t1)


def motion_boundary(flow: np.ndarray) -> np.ndarray:
    """Ruder et al.'s motion-boundary test: |∇u|² + |∇v|² > 0.01 |w|² + 0.002 (forward differences).

    Args:
        flow: (H, W, 2) float pixels.
    Returns:
        (H, W) bool, True on motion boundaries.
    """
    grad = np.zeros(flow.shape[:2], np.float32)
    for c in range(2):
        f = flow[..., c]
        grad[:, :-1] += (f[:, :-1] - f[:, 1:]) ** 2
        grad[:-1, :] += (f[:-1, :] - f[1:, :]) ** 2
    return grad > 0.01 * np.sum(flow**2, axis=2) + 0.002


def non_occluded(flow_fw: np.ndarray, flow_bw: np.ndarray, motion_boundaries: bool = True) -> np.ndarray:
    """The mask M_t: forward-backward consistent pixels of frame t, off motion boundaries.

    Args:
        flow_fw: (H, W, 2) float pixels, frame t -> t+1.
        flow_bw: (H, W, 2) float pixels, frame t+1 -> t.
        motion_boundaries: also drop motion-boundary pixels (Ruder et al.; the authors' code does).
    Returns:
        (H, W) bool.
    """
    mask = fb_confidence(flow_fw, flow_bw)
    return mask & ~motion_boundary(flow_fw) if motion_boundaries else mask


class RunningMean:
    """A running mean of per-pair (or per-frame) figures that ignores None."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def add(self, value: float | None) -> None:
        if value is not None:
            self.total += value
            self.count += 1

    @property
    def value(self) -> float | None:
        return self.total / self.count if self.count else None


class EwarpAccumulator:
    """E_warp of one sequence, fed a frame at a time (bounded memory: one previous frame).

    Flow is computed on the sequence itself (or on a registered reference sequence given as
    ``flow_frame``), forward (t -> t+1) and backward (t+1 -> t), with DIS
    at the config's working width and the vectors upscaled to full resolution. Give a hole mask
    with every frame to also get the hole-restricted E_warp and the fill flicker; pairs where
    either frame lacks a mask count for E_warp only.

    Usage::

        acc = EwarpAccumulator()
        for frame, holes in sequence:
            acc.update(frame, holes)
        acc.result()   # {'ewarp': ..., 'ewarp_holes': ..., 'fill_flicker': ..., ...}
    """

    def __init__(self, flow: FlowConfig = EWARP_FLOW, motion_boundaries: bool = True) -> None:
        self._estimator = FlowEstimator(flow)
        self._motion_boundaries = motion_boundaries
        self._prev: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._ewarp, self._holes, self._flicker, self._valid = (RunningMean() for _ in range(4))
        self._external = False
        self.n_frames = 0

    def _small_gray(self, frame: np.ndarray) -> np.ndarray:
        """(h, w) uint8 grey at the flow's working size."""
        height, width = frame.shape[:2]
        w, h = working_size(width, height, self._estimator.config.working_width)
        gray = to_gray(frame)
        return gray if (w, h) == (width, height) else cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA)

    def flows(self, small_t: np.ndarray, small_t1: np.ndarray,
              size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Forward and backward full-resolution flow between two working-size greys; size = (W, H)."""
        fw = upscale_flow(self._estimator.flow_small(small_t, small_t1), *size)
        bw = upscale_flow(self._estimator.flow_small(small_t1, small_t), *size)
        return fw, bw

    def update(self, frame: np.ndarray, holes: np.ndarray | None = None,
               flow_frame: np.ndarray | None = None) -> None:
        """Add the next frame.

        Args:
            frame: (H, W, 3) RGB, uint8 / uint16 / float in [0, 1]; every frame the same size.
            holes: optional (H, W) bool, pixels of this frame the renderer filled.
            flow_frame: optional (H, W, 3) frame of another sequence, registered with this one,
                to compute the flow on instead of `frame` (one flow for several sequences, as in
                Lai et al.'s own protocol); give it with every frame or with none.
        """
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB frame, got {frame.shape}")
        if holes is not None and holes.shape != frame.shape[:2]:
            raise ValueError(f"hole mask must be (H, W) = {frame.shape[:2]}, got {holes.shape}")
        if flow_frame is not None and flow_frame.shape != frame.shape:
            raise ValueError(f"flow frame must be {frame.shape} like the frame, got {flow_frame.shape}")
        external = flow_frame is not None
        if self.n_frames and external != self._external:
            raise ValueError("give a flow frame with every frame of a sequence or with none")
        self._external = external
        image, small = as_unit_float(frame), self._small_gray(frame if flow_frame is None else flow_frame)
        holes = None if holes is None else holes.astype(bool, copy=False)
        if self._prev is not None:
            if self._prev[0].shape != image.shape:
                raise ValueError(f"frame size changed mid-sequence: {self._prev[0].shape} -> {image.shape}")
            self._score(*self._prev, image, small, holes)
        self._prev = (image, small, holes)
        self.n_frames += 1

    def _score(self, img_t: np.ndarray, small_t: np.ndarray, holes_t: np.ndarray | None,
               img_t1: np.ndarray, small_t1: np.ndarray, holes_t1: np.ndarray | None) -> None:
        fw, bw = self.flows(small_t, small_t1, (img_t.shape[1], img_t.shape[0]))
        valid = non_occluded(fw, bw, self._motion_boundaries)
        self._valid.add(float(valid.mean()))
        if not valid.any():
            return
        residual = warp_residual(img_t, img_t1, fw)
        sq = np.mean(residual**2, axis=2)
        self._ewarp.add(float(sq[valid].mean(dtype=np.float64)))
        if holes_t is None or holes_t1 is None:
            return
        carried = carry_mask(holes_t1, fw)
        in_holes, filled_both = valid & (holes_t | carried), valid & holes_t & carried
        if in_holes.any():
            self._holes.add(float(sq[in_holes].mean(dtype=np.float64)))
        if filled_both.any():
            self._flicker.add(float(np.mean(np.abs(residual[filled_both]), dtype=np.float64)))

    def result(self) -> dict[str, float | int | None]:
        """The sequence's figures (None where no pair qualified).

        Returns:
            ewarp: mean per-pair E_warp; ewarp_holes: the same over hole pixels;
            fill_flicker: mean |V_t − warp(V_t+1)| inside fills; n_frames; n_pairs (pairs scored);
            n_hole_pairs; n_fill_pairs; valid_fraction (mean share of non-occluded pixels).
        """
        return {"ewarp": self._ewarp.value, "ewarp_holes": self._holes.value,
                "fill_flicker": self._flicker.value, "n_frames": self.n_frames, "n_pairs": self._ewarp.count,
                "n_hole_pairs": self._holes.count, "n_fill_pairs": self._flicker.count,
                "valid_fraction": self._valid.value}
