"""The weights-free depth provider: plausible relative depth with no model weights.

Per frame, at ``DepthConfig.working_width``:

1. **Motion parallax** (:mod:`engine.depth.cues.parallax`): DIS flow to the
   previous frame (the first frame uses the next one), camera motion from an
   essential matrix, inverse depth from the derotated flow, trusted where the
   forward-backward check passes and the parallax is large enough.
2. **Temporal accumulation**: the parallax estimate is an exponentially
   weighted, confidence-weighted average carried along the flow, so depth is
   stable and fills in as the camera moves; occluded pixels drop their history.
   A running **motion trust** (version 6) scales each new observation's weight: it
   falls when pairs give no usable motion or a translation whose direction jumps
   from the last one (a camera that mostly rotates), so such pairs add little and,
   as the history decays, depth falls back to the single-image cues instead of
   reading independently moving objects as near. The history itself is weighed by
   the trust its observations had (version 8; before, the current trust also scaled
   the whole history's share in the fusion).
3. **Single-image priors** (:mod:`engine.depth.cues.layering`, ``priors``,
   ``defocus``): layering (the geodesic distance from the top of the frame
   through image boundaries: lower and behind more contours = nearer), blended
   with ground contact (lower in frame = nearer; an upright region is as near as
   its lowest point); sky is the farthest thing; and, when the frame shows a
   spread of blur, sharp = nearer. In a clip the prior is averaged along the
   flow (where it is consistent), so it does not flicker when the camera stands.
   The prior is calibrated to the parallax by a weighted least-squares scale and
   shift (smoothed over time), and fills where parallax is missing. A frame whose
   parallax ranks the scene against the prior gives no fit (version 8: it used to
   give slope 0, and a few dozen such frames flattened the prior to a constant).
4. **Edge-aware refinement** (:mod:`engine.depth.cues.refine`): parallax is
   filled along image edges (fast global smoother) and the fused map snapped to
   image edges (guided filter), whose coefficients are applied to the full-resolution
   frame (version 7), so depth edges follow the image at full resolution.

Output kind: ``inverse`` (larger = nearer), roughly affine in true inverse depth
where parallax was seen; values are O(1) (the 90th percentile of the first
parallax seen in a shot is scaled to 1, the prior spans 0.25 .. 1.25 by default).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from engine.depth.cues.defocus import defocus_spread, edge_blur
from engine.depth.cues.layering import layering_prior
from engine.depth.cues.parallax import ParallaxSettings, parallax_from_flow
from engine.depth.cues.priors import ground_contact, sky_likelihood, vertical_prior
from engine.depth.cues.refine import (
    edge_aware_fill,
    edge_aware_smooth,
    guide_image,
    guided_upsample,
    texture_confidence,
    upsample,
)
from engine.depth.protocol import DepthConfig
from engine.flow import FlowConfig, FlowEstimator, fb_confidence, to_gray, warp_backward, working_size
from engine.opencv import cv2


@dataclass(frozen=True)
class WeightsFreeSettings:
    """The weights-free provider's parameters (one set for all footage; see docs/depth_eval.md).

    Attributes:
        flow_preset: DIS preset for the frame-to-frame flow.
        parallax: motion-parallax cue parameters.
        use_parallax: False = single-image cues only (for stills and ablations).
        use_defocus: False = ignore the defocus cue.
        use_sky: False = ignore the sky cue (smooth blue or bright grey regions are farthest).
        layering_weight: share of the layering cue in the geometric prior (the rest is ground contact;
            0 = ground contact only, the provider's behaviour before version 2).
        layering_sigma: edge scale of the layering cue in pixels at working size.
        layering_suppression: texture suppression of the layering cue's edges (share of the local mean).
        layering_height_cost: cost of one frame height without edges, in CIELAB units.
        vertical_weight: share of the plain vertical ramp ("lower is nearer") blended into the geometric
            prior; chosen on the real stills so that no held-out still ranks worse than the ramp alone
            (leximin leave-one-out with `chroma_full`, docs/depth_eval.md "Never worse than the vertical prior").
        chroma_full: mean CIELAB chroma of the frame at which its colour boundaries are fully trusted; below
            it the geometric prior blends further towards the vertical ramp and the sky cue fades, down to the
            ramp alone and no sky for a colourless frame (version 7; see :func:`single_image_prior`). 0 = off.
        prior_rate: in a clip, weight of the current frame's prior against the previous prior carried
            along the flow (1 = no temporal smoothing of the prior).
        history_decay: per-frame factor on the accumulated parallax weight (memory ≈ 1 / (1 − decay) frames).
        prior_fit_rate: EMA rate of the prior-to-parallax calibration (scale, shift).
        prior_fit_min_corr: weighted correlation of prior and accumulated parallax at or below which a frame's
            fit is not used (the calibration drifts back to the default instead; version 8: a negative fit
            used to be clamped to slope 0, which flattened the prior to a constant over a few dozen frames).
        support_half: filled parallax support at which parallax and prior weigh equally.
        defocus_spread_px: (start, full) inter-decile blur spread in px over which the defocus cue fades in.
        defocus_weight: weight of the defocus cue in the prior at full spread.
        fill_lambda: smoothness of the edge-aware parallax fill.
        refine_radius: guided-filter radius at working size.
        refine_eps: guided-filter regularisation (inverse-depth units squared).
        snap_full_resolution: apply the guided filter's coefficients to the full-resolution frame (version 7:
            depth edges follow the image's at full resolution: thin poles, rails, beams); False = bilinear
            upsampling of the working-size result.
    """

    flow_preset: str = "fast"
    parallax: ParallaxSettings = field(default_factory=ParallaxSettings)
    use_parallax: bool = True
    use_defocus: bool = True
    use_sky: bool = True
    layering_weight: float = 1.0
    layering_sigma: float = 3.0
    layering_suppression: float = 0.5
    layering_height_cost: float = 100.0
    vertical_weight: float = 0.6
    chroma_full: float = 8.0
    prior_rate: float = 0.3
    history_decay: float = 0.85
    prior_fit_rate: float = 0.2
    prior_fit_min_corr: float = 0.0
    support_half: float = 0.15
    defocus_spread_px: tuple[float, float] = (1.2, 3.0)
    defocus_weight: float = 0.5
    fill_lambda: float = 400.0
    refine_radius: int = 4
    refine_eps: float = 2e-3
    snap_full_resolution: bool = True


#: prior (nearness in [0, 1]) -> inverse-depth units before any parallax is seen: 0.25 .. 1.25
#: (parallax is scaled so that its 90th percentile is about 1).
_DEFAULT_FIT = (1.0, 0.25)


def single_image_prior(rgb: np.ndarray, gray: np.ndarray,
                       settings: WeightsFreeSettings) -> tuple[np.ndarray, np.ndarray]:
    """Nearness in [0, 1] from layering and ground contact, sky (farthest) and, when informative, defocus.

    The frame's colour confidence (:func:`colour_confidence`) scales both colour-dependent cues: a
    monochrome frame has no hue to tell a bright grey sky from a white wall, window or lamp, nor colour
    boundaries to tell an occluding contour from shading or a flat marking, so with no colour the
    geometric prior is the vertical ramp and nothing is called sky.

    Args:
        rgb: (h, w, 3) uint8 RGB at working size.
        gray: (h, w) uint8, its luma.
    Returns:
        prior (h, w) float32, 1 nearest; and the sky likelihood (h, w) float32 in [0, 1].
    """
    colour = colour_confidence(rgb, settings.chroma_full)
    prior = geometric_prior(rgb, gray, settings, colour)
    sky = sky_likelihood(rgb) * np.float32(colour) if settings.use_sky else np.zeros(gray.shape, np.float32)
    if settings.use_defocus:
        sigma, mask = edge_blur(gray)
        start, full = settings.defocus_spread_px
        spread = defocus_spread(sigma, mask)
        weight = settings.defocus_weight * float(np.clip((spread - start) / (full - start), 0, 1))
        if weight > 0.0:
            blur, _ = edge_aware_fill(sigma, mask.astype(np.float32), guide_image(gray))
            lo, hi = np.percentile(blur, [2.0, 98.0])
            sharpness = np.clip((hi - blur) / max(hi - lo, 1e-3), 0.0, 1.0)
            prior = (1.0 - weight) * prior + weight * sharpness
    return (prior * (1.0 - sky)).astype(np.float32), sky


def geometric_prior(rgb: np.ndarray, gray: np.ndarray, settings: WeightsFreeSettings,
                    colour: float | None = None) -> np.ndarray:
    """Nearness in [0, 1]: layering and ground contact blended by `settings.layering_weight`, then the
    vertical ramp mixed in by :func:`vertical_share` (`settings.vertical_weight`, more for a colourless frame).

    Args:
        rgb: (h, w, 3) uint8 RGB at working size.
        gray: (h, w) uint8, its luma.
        colour: the frame's :func:`colour_confidence` if already known.
    Returns:
        (h, w) float32, 1 nearest.
    """
    if colour is None:
        colour = colour_confidence(rgb, settings.chroma_full)
    safety = vertical_share(settings.vertical_weight, colour)
    if safety >= 1.0:
        return vertical_prior(*gray.shape)
    weight = float(np.clip(settings.layering_weight, 0.0, 1.0))
    if weight == 0.0:
        prior = ground_contact(gray)
    else:
        prior = layering_prior(rgb, settings.layering_sigma, settings.layering_suppression,
                               settings.layering_height_cost)
        if weight < 1.0:
            prior = weight * prior + (1.0 - weight) * ground_contact(gray)
    if safety > 0.0:
        prior = (1.0 - safety) * prior + safety * vertical_prior(*gray.shape)
    return prior.astype(np.float32)


def colour_confidence(rgb: np.ndarray, chroma_full: float) -> float:
    """How far a frame's edges can be read as colour boundaries: mean CIELAB chroma / `chroma_full`, in [0, 1].

    Args:
        rgb: (h, w, 3) uint8 RGB.
        chroma_full: mean chroma (CIELAB units) that counts as fully coloured; 0 = always 1.
    Returns:
        0 for a grey (monochrome) frame, 1 at or above `chroma_full`.
    """
    if chroma_full <= 0.0:
        return 1.0
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    a = lab[..., 1].astype(np.float32) - 128.0
    b = lab[..., 2].astype(np.float32) - 128.0
    return float(np.clip(np.sqrt(a * a + b * b).mean() / chroma_full, 0.0, 1.0))


def vertical_share(vertical_weight: float, colour: float) -> float:
    """Share of the vertical ramp in the geometric prior: 1 − (1 − vertical_weight) × colour confidence.

    Args:
        vertical_weight: the share for a fully coloured frame.
        colour: the frame's colour confidence in [0, 1].
    Returns:
        a weight in [0, 1] (1 = the ramp alone).
    """
    return 1.0 - (1.0 - float(np.clip(vertical_weight, 0.0, 1.0))) * float(np.clip(colour, 0.0, 1.0))


def fit_prior(prior: np.ndarray, target: np.ndarray, weights: np.ndarray,
              min_corr: float = 0.0) -> tuple[float, float] | None:
    """Weighted least squares a, b with a * prior + b ≈ target, when the two agree on the order of the scene.

    A fit only says something about the prior's scale when prior and target correlate positively: where the
    parallax ranks the scene against the prior (a rotating camera's flow noise, independently moving objects)
    the least-squares slope is negative, and taking it as a = 0 would flatten the prior to a constant (version 8:
    None instead, so the caller keeps its calibration).

    Args:
        prior: (h, w) nearness.
        target: (h, w) accumulated inverse depth.
        weights: (h, w) its weight (>= 0).
        min_corr: weighted correlation at or below which there is no fit.
    Returns:
        (a > 0, b), or None when the weights cover less than 2 % of the frame, the prior is flat or the
        correlation is at most `min_corr`.
    """
    w = weights.ravel().astype(np.float64)
    if w.sum() < 0.02 * w.size:
        return None
    p, y = prior.ravel().astype(np.float64), target.ravel().astype(np.float64)
    sw, mp, my = w.sum(), (w * p).sum() / w.sum(), (w * y).sum() / w.sum()
    var_p, var_y = (w * (p - mp) ** 2).sum() / sw, (w * (y - my) ** 2).sum() / sw
    cov = (w * (p - mp) * (y - my)).sum() / sw
    if var_p < 1e-9 or var_y < 1e-12 or cov <= min_corr * np.sqrt(var_p * var_y):
        return None
    a = cov / var_p
    return a, my - a * mp


def keep_sky_farthest(values: np.ndarray, sky: np.ndarray) -> np.ndarray:
    """Pull sky pixels down to the farthest value (2nd percentile) of the rest of the frame.

    Args:
        values: (h, w) inverse-depth-like map.
        sky: (h, w) sky likelihood in [0, 1].
    Returns:
        (h, w) float32.
    """
    ground = sky < 0.5
    if not ground.any() or not (sky > 0).any():
        return values.astype(np.float32)
    floor = float(np.percentile(values[ground], 2.0))
    return ((1.0 - sky) * values + sky * np.minimum(values, floor)).astype(np.float32)


class _Pair:
    """Flows both ways between two working-size grey frames, computed once."""

    def __init__(self, est: FlowEstimator, a: np.ndarray, b: np.ndarray) -> None:
        self.fw = est.flow_small(a, b)
        self.bw = est.flow_small(b, a)

    def towards(self, forward: bool) -> tuple[np.ndarray, np.ndarray]:
        """(flow from the frame to the other one, its soft FB confidence)."""
        f, g = (self.fw, self.bw) if forward else (self.bw, self.fw)
        return f, fb_confidence(f, g, soft=True)


class WeightsFreeDepth:
    """Weights-free depth provider (name ``weights-free``, output kind ``inverse``).

    Streams with a look-ahead of one frame at the start of a shot only (frame 0
    uses its flow to frame 1); every later frame uses its flow to the previous one.
    """

    name = "weights-free"
    output_kind = "inverse"
    version = "8"  # part of the depth-cache key: bump whenever the output changes for the same settings (5: reverted)

    def __init__(self, config: DepthConfig | None = None,
                 settings: WeightsFreeSettings | None = None) -> None:
        self.config = config or DepthConfig(model="weights-free")
        self.settings = settings or WeightsFreeSettings()
        self._flow = FlowEstimator(FlowConfig(preset=self.settings.flow_preset, working_width=None))
        self.reset()

    def reset(self) -> None:
        """Forget temporal state (call at shot boundaries)."""
        self._acc: np.ndarray | None = None  # accumulated inverse depth, previous frame
        self._weight: np.ndarray | None = None
        self._fit = _DEFAULT_FIT
        self._prior: np.ndarray | None = None  # single-image prior of the previous frame (working size)
        self._translation: np.ndarray | None = None  # unit camera translation of the last usable pair
        self._trust = 1.0  # running trust in the camera motion (translation consistent from pair to pair)

    def estimate(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8/uint16 RGB frames -> (H, W) float32 inverse depth, one per frame, in order."""
        it = iter(frames)
        first = next(it, None)
        if first is None:
            return
        prev = self._prepare(first)
        second = next(it, None)
        if second is None or not self.settings.use_parallax:
            yield self._frame(first, prev, None, None)
            for frame in ([] if second is None else [second, *it]):
                yield self._frame(frame, self._prepare(frame), None, None)
            return
        cur = self._prepare(second)
        pair = _Pair(self._flow, prev[1], cur[1])
        yield self._frame(first, prev, pair.towards(forward=True), None)
        frame = second
        while True:
            yield self._frame(frame, cur, pair.towards(forward=False), pair.bw)
            frame = next(it, None)
            if frame is None:
                return
            prev, cur = cur, self._prepare(frame)
            pair = _Pair(self._flow, prev[1], cur[1])

    def _prepare(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) frame -> (h, w, 3) uint8 RGB and (h, w) uint8 grey at working size."""
        if frame.ndim != 3 or frame.shape[2] not in (3, 4):
            raise ValueError(f"expected (H, W, 3) RGB frames, got shape {frame.shape}")
        height, width = frame.shape[:2]
        w, h = working_size(width, height, self.config.working_width)
        small = frame[..., :3] if (w, h) == (width, height) else cv2.resize(frame[..., :3], (w, h),
                                                                              interpolation=cv2.INTER_AREA)
        if small.dtype == np.uint16:
            small = (small >> 8).astype(np.uint8)
        elif small.dtype != np.uint8:
            small = np.clip(small.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(small), to_gray(small)

    def _frame(self, frame: np.ndarray, small: tuple[np.ndarray, np.ndarray],
               flow_conf: tuple[np.ndarray, np.ndarray] | None, to_prev: np.ndarray | None) -> np.ndarray:
        """Depth of one frame; `flow_conf` = (flow to the reference frame, its FB confidence)."""
        rgb, gray = small
        guide = guide_image(gray)
        prior, sky = single_image_prior(rgb, gray, self.settings)
        # A colourless frame with no other cue gives the ramp alone: nothing image-derived to steady or to
        # snap (the guided filter would only print the image's edges into it) until parallax is seen.
        plain = np.array_equal(prior, vertical_prior(*gray.shape))
        if plain:
            self._prior = prior
        else:
            prior = self._steady_prior(prior, flow_conf, to_prev)
        trust = None if flow_conf is None else texture_confidence(gray) * (1.0 - sky)
        fused = self._fuse(prior, sky, guide, flow_conf, trust, to_prev)
        if plain and self._acc is None:
            return upsample(fused, frame.shape[1], frame.shape[0]).astype(np.float32)
        radius, eps = self.settings.refine_radius, self.settings.refine_eps
        if self.settings.snap_full_resolution and frame.shape[:2] != gray.shape:
            return guided_upsample(fused, guide, to_gray(frame), radius, eps)
        refined = edge_aware_smooth(fused, guide, radius, eps)
        return upsample(refined, frame.shape[1], frame.shape[0]).astype(np.float32)

    def _steady_prior(self, prior: np.ndarray, flow_conf: tuple[np.ndarray, np.ndarray] | None,
                      to_prev: np.ndarray | None) -> np.ndarray:
        """Blend the previous frame's prior, warped along the flow, into this one where the flow is consistent.

        Args:
            prior: (h, w) float32 this frame's prior.
            flow_conf: (flow to the reference frame, its FB confidence (h, w) in [0, 1]) or None.
            to_prev: (h, w, 2) flow to the previous frame, or None (first frame, stills).
        Returns:
            (h, w) float32, also kept for the next frame.
        """
        prev, rate = self._prior, self.settings.prior_rate
        if prev is not None and to_prev is not None and flow_conf is not None and rate < 1.0:
            carry = (1.0 - rate) * flow_conf[1]
            prior = (carry * warp_backward(prev, to_prev) + (1.0 - carry) * prior).astype(np.float32)
        self._prior = prior
        return prior

    def _fuse(self, prior: np.ndarray, sky: np.ndarray, guide: np.ndarray,
              flow_conf: tuple[np.ndarray, np.ndarray] | None, trust: np.ndarray | None,
              to_prev: np.ndarray | None) -> np.ndarray:
        """Accumulate parallax, calibrate the prior to it and blend by support (sky stays prior)."""
        acc, weight = self._accumulate(flow_conf, trust, to_prev)
        a, b = self._fit
        if acc is None or weight is None:
            return keep_sky_farthest(a * prior + b, sky)
        filled, support = edge_aware_fill(acc, weight, guide, lam=self.settings.fill_lambda)
        fit = fit_prior(prior, acc, weight, self.settings.prior_fit_min_corr)
        rate = self.settings.prior_fit_rate
        if fit is None:  # no parallax left in view, or none that agrees with the prior: drift back to the default
            fit, rate = _DEFAULT_FIT, rate / 4.0
        self._fit = a, b = (1 - rate) * a + rate * fit[0], (1 - rate) * b + rate * fit[1]
        alpha = support / (support + self.settings.support_half) * (1.0 - sky)
        fused = alpha * filled + (1.0 - alpha) * (a * prior + b)
        return keep_sky_farthest(fused, sky)

    def _accumulate(self, flow_conf: tuple[np.ndarray, np.ndarray] | None, trust: np.ndarray | None,
                    to_prev: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Carry the history along the flow and add this frame's parallax, scaled to the history.

        `trust` (h, w) in [0, 1] scales the flow confidence (texture, not sky).
        """
        if flow_conf is None:
            return self._acc, self._weight
        flow, conf = flow_conf
        obs = parallax_from_flow(flow, conf if trust is None else conf * trust, self.settings.parallax)
        obs_conf = obs.confidence * np.float32(self._motion_trust(obs.translation))
        acc, weight = self._acc, self._weight
        if acc is not None and weight is not None and to_prev is not None:
            acc = warp_backward(acc, to_prev)
            weight = warp_backward(weight, to_prev) * conf * self.settings.history_decay
        scale = self._scale(obs.rho, obs_conf, acc, weight)
        if scale is None:
            self._acc, self._weight = acc, weight
            return acc, weight
        rho = obs.rho * scale
        if acc is None or weight is None:
            acc, weight = rho, obs_conf
        else:
            total = weight + obs_conf
            acc = np.where(total > 1e-6, (weight * acc + obs_conf * rho) / np.maximum(total, 1e-6), acc)
            weight = total
        self._acc, self._weight = acc.astype(np.float32), weight.astype(np.float32)
        return self._acc, self._weight

    def _motion_trust(self, translation: np.ndarray | None) -> float:
        """Update and return the running trust in the camera motion (1 = parallax usable, 0 = not).

        The trust is an EMA (rate ``parallax.trust_rate``) of whether each pair gave usable motion
        (:func:`engine.depth.cues.parallax.parallax_from_flow` rejects static cameras, rotation, planar
        scenes and implausible poses). In a shot where most pairs are rejected — a camera that mostly
        rotates, like the DAVIS rollercoaster's — the few pairs that pass carry flow noise and
        independently moving objects as "parallax" (the moving cars read as nearest), so their weight
        in the history falls with the trust, and as the history decays depth falls back to the
        single-image prior; a translating camera keeps the trust near 1.
        """
        rate = self.settings.parallax.trust_rate
        agree = 0.0
        if translation is not None:
            agree = 1.0
            if self._translation is not None:
                cos = abs(float(np.dot(translation, self._translation)))
                agree = float(np.clip((cos - 0.5) / 0.4, 0.0, 1.0))
            self._translation = translation
        self._trust = (1.0 - rate) * self._trust + rate * agree
        return self._trust

    @staticmethod
    def _scale(rho: np.ndarray, conf: np.ndarray, acc: np.ndarray | None,
               weight: np.ndarray | None) -> float | None:
        """Factor bringing this frame's ρ (|t| = 1) to the accumulated scale (90th percentile 1 at first)."""
        seen = conf > 0.3
        if int(seen.sum()) < 100:
            return None
        rho_ref = float(np.percentile(rho[seen], 90.0))
        if rho_ref <= 1e-6:
            return None
        if acc is not None and weight is not None:
            # Only pixels with real parallax this frame: a ratio over ρ ≈ 0 would blow the scale up.
            # Symmetric selection (both well above zero) so the ratio is not biased towards either side.
            trusted = seen & (weight > 0.3) & (acc > 0)
            acc_ref = float(np.percentile(acc[trusted], 90.0)) if trusted.any() else 0.0
            both = trusted & (rho > 0.2 * rho_ref) & (acc > 0.2 * acc_ref)
            if int(both.sum()) >= 100:
                return float(np.median(acc[both] / rho[both]))
        return 1.0 / rho_ref
