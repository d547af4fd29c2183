"""Working-resolution flow for DVG: pair flows, chaining, and carrying flow into a target view.

All arrays here are at the flow's working resolution (h, w) (:class:`engine.flow.FlowConfig`
``working_width``; the full resolution when the frame is narrower) and in working pixels.

* **Pair flows.** DIS flow between consecutive source frames j -> j+1 and j+1 -> j, and the
  forward-backward confidence C of each (:func:`engine.flow.fb_confidence`; alpha / beta in
  working px). A pair where too few pixels are both
  consistent and brightness-constant is a cut. Farther neighbours are reached by chaining,
  never by a direct t -> t±2 flow:
  F_{t->k} = F_{t->k-1} + F_{k-1->k}(x + F_{t->k-1}(x)) (bilinear), C_{t->k} = C_{t->k-1}(x) *
  C_{k-1->k}(x + F_{t->k-1}(x)) (nearest; 0 outside the frame).
* **Carrying into the target view.** The flow F_{t->k} and confidence C of each source pixel
  are forward-warped into the target view as image channels with
  :func:`engine.ops.splat_with_disparity` — the same z-buffered splat, the same disparity and
  scale as the image — so a target pixel gets the flow of the source pixel that landed there.
  Two x-components travel:

  - the *screen* flow F itself (the brief's carriage), used by mask propagation: a hole of k
    is marked at t where the same screen region moved to, so a hole that flickers in one frame
    (depth noise) is marked in its neighbours too and the masks stay temporally consistent;
  - the *tracking* flow, used to fetch fill content: the source pixel x lands at x - s d_t(x)
    now and at x' - s d_k(x') in frame k (x' = x + F(x)), so its target-view motion is
    F_u(x) - s (d_k(x') - d_t(x)) (d_k read at the nearest pixel; unknown disparity: no
    correction). It follows the scene point through disparity changes (a dolly, a graded push).

  The fill's confidence is C times brightness constancy of the chained flow itself
  (|grey_k(x + F) - grey_t(x)| <= ``MATCH_GREY_LEVELS``): a flow DIS got wrong but consistently
  so both ways (fast motion) fetches nothing. Brightness constancy alone travels too
  (:attr:`TargetFields.match`): where the forward-backward test fails but the flow still lands on
  the same grey level, t±1's content and the previous frame's fill may still be taken
  (:mod:`engine.dvg.inpaint`, candidates 3) instead of a spatial fill redone every frame.

  Target-view holes (disocclusions: revealed background) take the flow of the background side
  of their hole run (the side :func:`engine.ops.fill_holes` takes), read up to
  ``FLOW_MARGIN_PX`` beyond the hole edge along that background surface
  (:func:`engine.dvg._numba.hole_sources`): DIS flow within a couple of patches of a motion
  boundary (its coarse levels and smoothing) is dragged along by the foreground.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.dvg import _numba
from engine.flow import FlowEstimator, sample_grid, warp_backward
from engine.flow import fb_confidence as flow_fb_confidence
from engine.opencv import cv2
from engine.ops import splat_with_disparity

MATCH_GREY_LEVELS = 16  # of 255: brightness constancy (cut test, fill confidence)
FLOW_MARGIN_PX = 16  # working px: 2 DIS patches (8 px in the fast presets; swept on synthetic clips)


@dataclass(frozen=True)
class PairFlow:
    """Flows between consecutive frames j and j+1 (working resolution, working px).

    Attributes:
        forward, backward: (h, w, 2) float32, j -> j+1 and j+1 -> j (src(x) ~ dst(x + flow(x))).
        conf_forward, conf_backward: (h, w) float32 in [0, 1], their forward-backward confidence C.
        matched_fraction: the smaller, over both directions, of the fraction of pixels whose flow
            is confident (C >= 0.5) *and* brightness-constant (|grey_dst(x + flow) - grey_src(x)| <=
            ``MATCH_GREY_LEVELS``). Forward-backward consistency alone does not reveal a cut:
            between unrelated frames DIS returns small, smooth, mutually consistent flows.
    """

    forward: np.ndarray
    backward: np.ndarray
    conf_forward: np.ndarray
    conf_backward: np.ndarray
    matched_fraction: float


def pair_flow(
    estimator: FlowEstimator, gray_a: np.ndarray, gray_b: np.ndarray, alpha: float, beta: float, soft: bool
) -> PairFlow:
    """Both flows between two working-size grey frames and their consistency.

    Args:
        estimator: a DIS estimator (its working width is ignored: inputs are already small).
        gray_a, gray_b: (h, w) uint8.
        alpha, beta: forward-backward test tolerances. soft: graded confidence.
    """
    fw = estimator.flow_small(gray_a, gray_b)
    bw = estimator.flow_small(gray_b, gray_a)
    c_fw = fb_confidence(fw, bw, alpha, beta, soft)
    c_bw = fb_confidence(bw, fw, alpha, beta, soft)
    fraction = min(_matched(gray_a, gray_b, fw, c_fw), _matched(gray_b, gray_a, bw, c_bw))
    return PairFlow(fw, bw, c_fw, c_bw, fraction)


def fb_confidence(
    flow_fw: np.ndarray, flow_bw: np.ndarray, alpha: float, beta: float, soft: bool
) -> np.ndarray:
    """:func:`engine.flow.fb_confidence` as float32 (1 / 0 when hard), the form the DVG fields carry.

    Args:
        flow_fw: (h, w, 2) float32 A -> B. flow_bw: (h, w, 2) float32 B -> A.
        alpha, beta: tolerances. soft: graded confidence.
    Returns:
        (h, w) float32 in [0, 1].
    """
    return flow_fb_confidence(flow_fw, flow_bw, alpha, beta, soft).astype(np.float32, copy=False)


def brightness_match(src: np.ndarray, dst: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Where dst, pulled along flow, reproduces src's grey level (within ``MATCH_GREY_LEVELS``).

    Args:
        src, dst: (h, w) uint8 grey. flow: (h, w, 2) float32 src -> dst.
    Returns:
        (h, w) bool.
    """
    return cv2.absdiff(warp_backward(dst, flow), src) <= MATCH_GREY_LEVELS


def _matched(src: np.ndarray, dst: np.ndarray, flow: np.ndarray, conf: np.ndarray) -> float:
    """Fraction of src pixels with confident flow whose grey level dst reproduces."""
    return float(np.mean(brightness_match(src, dst, flow) & (conf >= 0.5)))


@dataclass(frozen=True)
class TargetFields:
    """Flows t -> k carried into one eye's target view (working resolution).

    Attributes:
        fill: (n, 3, h, w) float32 per neighbour: tracking flow u, v (working px) and the fill's
            confidence (forward-backward consistent *and* brightness-constant).
        screen_u: (n, h, w) float32 per neighbour: screen flow u (working px).
        screen_c: (n, h, w) float32 per neighbour: forward-backward confidence C (the rule's).
        match: (n, h, w) float32 per neighbour: brightness constancy of the flow alone (1 / 0), whatever
            its forward-backward consistency.
        guide: (h, w) float32 target-view disparity (working px, the z-buffer winner's), each
            hole run given its background end's; the guide of :mod:`engine.dvg.guided`.
    """

    fill: torch.Tensor
    screen_u: torch.Tensor
    screen_c: torch.Tensor
    match: torch.Tensor
    guide: torch.Tensor

    def propagate(self, index: Sequence[int]) -> torch.Tensor:
        """(len(index), 3, h, w) float32 screen flow u, v and C of the neighbours in `index`."""
        index = list(index)
        return torch.stack([self.screen_u[index], self.fill[index, 1], self.screen_c[index]], dim=1)

    def brightness_constant(self, k: int) -> torch.Tensor:
        """(3, h, w) float32 neighbour k's tracking flow u, v with brightness constancy as its confidence."""
        return torch.cat([self.fill[k, :2], self.match[k : k + 1]], dim=0)


def source_motion(
    flows: Sequence[tuple[np.ndarray, np.ndarray]],
    disparity_t: np.ndarray,
    disparities_k: Sequence[np.ndarray],
    gray_t: np.ndarray,
    grays_k: Sequence[np.ndarray],
) -> np.ndarray:
    """Per-neighbour source-view motion of frame t, shared by both eyes.

    Args:
        flows: per neighbour k, flow t -> k (h, w, 2) float32 and confidence (h, w) float32.
        disparity_t: (h, w) float32 source disparity of frame t in working px (NaN = unknown).
        disparities_k: per neighbour, (h, w) float32 source disparity of frame k in working px.
        gray_t: (h, w) uint8 frame t at working size. grays_k: per neighbour, the same of frame k.
    Returns:
        (n, 5, h, w) float32: F_u, F_v, C, the disparity change d_k(x + F(x)) - d_t(x) (0 where
        either is unknown) and brightness constancy (1 / 0, :func:`brightness_match`).
    """
    h, w = disparity_t.shape
    motion = np.empty((len(flows), 5, h, w), np.float32)
    for k, ((flow, conf), disp_k, gray_k) in enumerate(zip(flows, disparities_k, grays_k, strict=True)):
        map_x, map_y = sample_grid(flow)
        d_k = cv2.remap(disp_k, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        motion[k, 0] = flow[..., 0]
        motion[k, 1] = flow[..., 1]
        motion[k, 2] = conf
        np.subtract(d_k, disparity_t, out=motion[k, 3])
        motion[k, 4] = brightness_match(gray_t, gray_k, flow)
    np.nan_to_num(motion[:, 3], copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return motion


def carry_to_target(motion: np.ndarray, disparity_t: np.ndarray, scale: float, tol: float) -> TargetFields:
    """Carry frame t's source-view motion into the target view made with `scale`.

    Args:
        motion: (n, 5, h, w) float32 from :func:`source_motion`.
        disparity_t: (h, w) float32 source disparity of frame t in working px (NaN = unknown).
        scale: splat scale (target x = x - scale * d).
        tol: working px, the largest disparity step between neighbouring pixels of one surface.
    Returns:
        :class:`TargetFields` (CPU tensors). A row that is all hole gets zero flow and confidence.
    """
    n, _, h, w = motion.shape
    channels = np.empty((6 * n, h, w), np.float32)  # n x (u tracking, v, C fill), n x (u screen, C, match)
    per_k = channels[: 3 * n].reshape(n, 3, h, w)
    np.subtract(motion[:, 0], np.float32(scale) * motion[:, 3], out=per_k[:, 0])
    per_k[:, 1] = motion[:, 1]
    np.multiply(motion[:, 2], motion[:, 4], out=per_k[:, 2])
    channels[3 * n : 4 * n] = motion[:, 0]
    channels[4 * n : 5 * n] = motion[:, 2]
    channels[5 * n :] = motion[:, 4]
    disp = torch.from_numpy(np.ascontiguousarray(disparity_t, np.float32)).view(1, 1, h, w)
    warped, holes, target_disp = splat_with_disparity(torch.from_numpy(channels).unsqueeze(0), disp, scale)
    guide = np.empty((h, w), np.float32)
    _numba.hole_sources(holes[0, 0].numpy(), target_disp[0, 0].numpy(), bool(scale > 0), FLOW_MARGIN_PX,
                        float(tol), warped[0].numpy(), guide)
    planes = warped[0]
    return TargetFields(planes[: 3 * n].view(n, 3, h, w), planes[3 * n : 4 * n], planes[4 * n : 5 * n],
                        planes[5 * n :], torch.from_numpy(guide))
