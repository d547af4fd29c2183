"""Forward-backward flow consistency (Sundaram, Brox & Keutzer 2010) and backward warping."""

from __future__ import annotations

import numpy as np

from engine.opencv import cv2


def sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute sampling coordinates x + flow(x) for cv2.remap.

    Args:
        flow: (H, W, 2) float pixels.
    Returns:
        map_x, map_y: (H, W) float32 each.
    """
    h, w = flow.shape[:2]
    map_x = flow[..., 0] + np.arange(w, dtype=np.float32)[None, :]
    map_y = flow[..., 1] + np.arange(h, dtype=np.float32)[:, None]
    return map_x.astype(np.float32, copy=False), map_y.astype(np.float32, copy=False)


def warp_backward(
    image: np.ndarray,
    flow: np.ndarray,
    interpolation: int = cv2.INTER_LINEAR,
    border: int = cv2.BORDER_REPLICATE,
    border_value: float = 0.0,
) -> np.ndarray:
    """Pull `image` along `flow`: out(x) = image(x + flow(x)).

    With ``flow`` from A to B (A(x) ~ B(x + flow(x))), ``warp_backward(B, flow)``
    reconstructs A.

    Args:
        image: (H, W) or (H, W, C) uint8/uint16/float32, C <= 4.
        flow: (H, W, 2) float pixels, same H, W as `image`.
        interpolation: cv2 interpolation flag (INTER_NEAREST keeps labels / unknowns crisp).
        border: cv2 border mode for samples outside the image.
        border_value: fill for BORDER_CONSTANT (e.g. NaN for float images).
    Returns:
        Same shape and dtype as `image`.
    """
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape[:2] != image.shape[:2]:
        raise ValueError(f"flow must be (H, W, 2) matching image {image.shape[:2]}, got {flow.shape}")
    map_x, map_y = sample_grid(flow)
    value = (border_value,) * 4
    return cv2.remap(image, map_x, map_y, interpolation, borderMode=border, borderValue=value)


def fb_confidence(
    flow_fw: np.ndarray,
    flow_bw: np.ndarray,
    alpha: float = 0.01,
    beta: float = 0.5,
    soft: bool = False,
) -> np.ndarray:
    """Forward-backward consistency of a flow pair.

    A pixel x of A is consistent when, with w_f = flow_fw(x) (A -> B) and
    w_b = flow_bw(x + w_f) (B -> A, sampled bilinearly),
    |w_f + w_b|^2 < alpha (|w_f|^2 + |w_b|^2) + beta. Pixels whose forward
    target leaves the image are inconsistent (occluded by the frame border).

    Args:
        flow_fw: (H, W, 2) float pixels, A -> B.
        flow_bw: (H, W, 2) float pixels, B -> A.
        alpha, beta: the test's relative and absolute (px^2) tolerances.
        soft: return a graded confidence instead of a mask.
    Returns:
        (H, W) bool, or float32 in [0, 1] when `soft` (1 / (1 + r^2) with r the
        ratio of the left side to the tolerance: 1 for a perfect round trip, 0.5 at the
        hard threshold, 0 outside the image).
    """
    if flow_fw.shape != flow_bw.shape or flow_fw.ndim != 3 or flow_fw.shape[2] != 2:
        raise ValueError(f"flows must both be (H, W, 2), got {flow_fw.shape} and {flow_bw.shape}")
    h, w = flow_fw.shape[:2]
    map_x, map_y = sample_grid(flow_fw)
    w_b = cv2.remap(flow_bw.astype(np.float32, copy=False), map_x, map_y, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    fx, fy, bx, by = flow_fw[..., 0], flow_fw[..., 1], w_b[..., 0], w_b[..., 1]
    # Component-wise, not np.sum(..., axis=2): same float arithmetic, without numpy's slow 2-wide reduction.
    lhs = (fx + bx) ** 2 + (fy + by) ** 2
    tol = alpha * ((fx**2 + fy**2) + (bx**2 + by**2)) + beta
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    if not soft:
        return (lhs < tol) & inside
    ratio = lhs / tol
    return np.where(inside, 1.0 / (1.0 + ratio * ratio), 0.0).astype(np.float32)


def chain_flows(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Chain a -> b and b -> c into a -> c.

    Args:
        first: flow (h, w, 2) float32 a -> b and its confidence (h, w) float32.
        second: flow b -> c and its confidence.
    Returns:
        flow a -> c (h, w, 2) float32 and confidence (h, w) float32 (product; 0 outside).
    """
    flow, conf = first
    map_x, map_y = sample_grid(flow)
    f2 = cv2.remap(second[0], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    c2 = cv2.remap(second[1], map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return flow + f2, conf * c2
