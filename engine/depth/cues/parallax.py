"""Motion-parallax cue: inverse depth from the flow of a translating camera.

From the flow between the current frame and a reference frame, the relative
camera motion (R, t) is estimated with an essential matrix (RANSAC) under an
assumed pinhole camera (focal length = ``focal_ratio`` × width, centred
principal point). With the rotation removed, the remaining flow of a pixel is
its parallax, which is proportional to inverse depth:
``x' u_z − u_xy = ρ (t_xy − x' t_z)`` with ``u = R x̃`` and ρ = 1/Z (|t| = 1).
ρ is solved per pixel in least squares; its confidence combines the flow's
forward-backward consistency, the size of the parallax the motion gives there
(small near the epipole, or when the camera barely translates) and how well the
flow agrees with the epipolar geometry (independently moving objects do not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.opencv import cv2


@dataclass(frozen=True)
class ParallaxSettings:
    """Parameters of the parallax cue (one set for all footage).

    Attributes:
        focal_ratio: assumed focal length / image width (1.0 ≈ 53° horizontal field of view).
        flow_noise_px: typical flow error in pixels; parallax below it is not trusted.
        epipolar_tol_px: tolerated distance from the epipolar direction in pixels.
        min_parallax_px: 90th-percentile translational flow below which the pair carries no depth.
        min_homography_residual_px: 75th-percentile residual of the best homography below which the flow is
            taken as explained without depth (static camera, pure rotation, a plane); rotation and
            sideways translation are hard to tell apart there (the bas-relief ambiguity).
        max_rotation_deg: larger frame-to-frame rotations are taken as a failed pose decomposition.
        min_positive: fraction of consistent pixels that must not lie clearly behind the camera.
        grid_step: spacing of the flow samples used to fit the motion, in pixels.
        trust_rate: weight of the newest pair in the provider's running motion trust, the EMA of
            "this pair gave usable motion" (``WeightsFreeDepth._motion_trust``).
    """

    focal_ratio: float = 1.0
    flow_noise_px: float = 0.35
    epipolar_tol_px: float = 1.0
    min_parallax_px: float = 0.5
    min_homography_residual_px: float = 0.75
    max_rotation_deg: float = 20.0
    min_positive: float = 0.8
    grid_step: int = 8
    trust_rate: float = 0.4


@dataclass(frozen=True)
class Parallax:
    """Inverse depth from one frame pair, in the current frame's pixels.

    Attributes:
        rho: (h, w) float32 inverse depth for |t| = 1 (relative scale), 0 where unknown.
        confidence: (h, w) float32 in [0, 1].
        peak_px: 90th percentile of the translational flow in pixels (0 when the motion was unusable).
        translation: (3,) unit camera translation of the pair (x_ref = R x + t), None when unusable.
    """

    rho: np.ndarray
    confidence: np.ndarray
    peak_px: float
    translation: np.ndarray | None = None


def intrinsics(width: int, height: int, focal_ratio: float) -> np.ndarray:
    """(3, 3) float64 pinhole K with focal `focal_ratio` × width and the principal point at the centre."""
    f = focal_ratio * width
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def homography_residual(p1: np.ndarray, p2: np.ndarray, pct: float = 90.0) -> float:
    """`pct` percentile of the distance (px) of p2 from the best RANSAC homography image of p1.

    A high percentile, because a dominant plane (a back wall) is fit exactly and the
    parallax of everything else is the signal. p1, p2: (N, 2) float64.
    """
    hom, _ = cv2.findHomography(p1, p2, cv2.RANSAC, 0.5)
    if hom is None:
        return float("inf")
    mapped = cv2.perspectiveTransform(p1[None], hom)[0]
    return float(np.percentile(np.linalg.norm(mapped - p2, axis=1), pct))


def estimate_motion(flow: np.ndarray, confidence: np.ndarray, k: np.ndarray,
                    settings: ParallaxSettings) -> tuple[np.ndarray, np.ndarray] | None:
    """Relative pose (R, t) with x2 = R x1 + t, |t| = 1, from a dense flow (x1 -> x1 + flow).

    Args:
        flow: (h, w, 2) float32 pixels, current -> reference.
        confidence: (h, w) float32 in [0, 1].
        k: (3, 3) intrinsics.
    Returns:
        (R (3, 3), t (3,)) or None when too few confident samples, when a homography
        explains the flow (no parallax to measure) or when RANSAC fails.
    """
    h, w = flow.shape[:2]
    s = settings.grid_step
    ys, xs = np.mgrid[s // 2:h:s, s // 2:w:s]
    keep = confidence[ys, xs] > 0.5
    if int(keep.sum()) < 30:
        return None
    p1 = np.stack([xs[keep], ys[keep]], axis=1).astype(np.float64)
    p2 = p1 + flow[ys[keep], xs[keep]].astype(np.float64)
    if homography_residual(p1, p2) < settings.min_homography_residual_px:
        return None  # a homography explains the flow: static camera, pure rotation or a planar scene
    e, inliers = cv2.findEssentialMat(p1, p2, k, method=cv2.RANSAC, prob=0.999, threshold=0.5)
    if e is None or e.shape != (3, 3) or inliers is None or int(inliers.sum()) < 20:
        return None
    _, r, t, _ = cv2.recoverPose(e, p1, p2, k, mask=inliers.copy())
    angle = np.degrees(np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)))
    if angle > settings.max_rotation_deg:
        return None
    return r, t.ravel()


def solve_inverse_depth(flow: np.ndarray, k: np.ndarray, r: np.ndarray,
                        t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel least-squares ρ for a known motion.

    Args:
        flow: (h, w, 2) float32 pixels, current -> reference.
        k, r, t: intrinsics, rotation and unit translation (x2 = R x1 + t).
    Returns:
        rho (h, w); gain (h, w) = |t_xy − x' t_z| × f, the parallax in pixels per unit ρ;
        the epipolar residual (h, w) in pixels; and the translational flow (h, w), the
        flow left once the rotation is removed, in pixels; all float32.
    """
    h, w = flow.shape[:2]
    f, cx, cy = k[0, 0], k[0, 2], k[1, 2]
    x = ((np.arange(w, dtype=np.float32) - cx) / f)[None, :]
    y = ((np.arange(h, dtype=np.float32) - cy) / f)[:, None]
    r = r.astype(np.float32)
    u = [r[i, 0] * x + r[i, 1] * y + r[i, 2] for i in range(3)]
    xp = x + flow[..., 0] / f
    yp = y + flow[..., 1] / f
    ax, ay = xp * u[2] - u[0], yp * u[2] - u[1]
    bx, by = np.float32(t[0]) - xp * np.float32(t[2]), np.float32(t[1]) - yp * np.float32(t[2])
    bb = np.maximum(bx * bx + by * by, 1e-12)
    rho = (ax * bx + ay * by) / bb
    # Distance from the epipolar direction, measured in the reference image (divide by u_z).
    uz = np.maximum(np.abs(u[2]), 1e-3)
    resid = np.hypot(ax - rho * bx, ay - rho * by) * f / uz
    translational = np.hypot(ax, ay) * f / uz
    return tuple(a.astype(np.float32) for a in (rho, np.sqrt(bb) * f, resid, translational))


def parallax_from_flow(flow: np.ndarray, fb_conf: np.ndarray, settings: ParallaxSettings) -> Parallax:
    """Inverse depth and confidence of the current frame from its flow to a reference frame.

    Args:
        flow: (h, w, 2) float32 pixels, current -> reference.
        fb_conf: (h, w) float32 in [0, 1], soft forward-backward consistency of `flow`.
        settings: cue parameters.
    Returns:
        :class:`Parallax`; all-zero confidence when the pair carries no usable parallax.
    """
    h, w = flow.shape[:2]
    none = Parallax(np.zeros((h, w), np.float32), np.zeros((h, w), np.float32), 0.0)
    k = intrinsics(w, h, settings.focal_ratio)
    motion = estimate_motion(flow, fb_conf, k, settings)
    if motion is None:
        return none
    rho, gain, resid, translational = solve_inverse_depth(flow, k, *motion)
    consistent = fb_conf > 0.5
    if int(consistent.sum()) < 0.05 * h * w:
        return none
    # Rotation can absorb the far scene's parallax (it then sits at ρ ≈ 0), so only pixels clearly
    # behind the camera count against the pose; many of them mean a failed decomposition.
    plausible = rho * gain > -2.0 * settings.flow_noise_px
    if int((consistent & ~plausible).sum()) > (1.0 - settings.min_positive) * int(consistent.sum()):
        return none
    peak_px = float(np.percentile(translational[consistent], 90.0))
    if peak_px < settings.min_parallax_px:  # static camera or pure rotation: depth is unobservable
        return none
    parallax_px = gain * max(float(np.percentile(rho[consistent], 90.0)), 1e-9)  # for a near pixel
    snr = parallax_px / settings.flow_noise_px
    conf = fb_conf * (snr * snr / (1.0 + snr * snr)) * np.exp(-((resid / settings.epipolar_tol_px) ** 2))
    conf = np.where(plausible, conf, 0.0).astype(np.float32)
    return Parallax(np.maximum(rho, 0.0).astype(np.float32), conf, peak_px, np.asarray(motion[1], np.float64))

