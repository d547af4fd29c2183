"""engine.depth.stabilise: jitter removal, drift, cuts, lag, kinds, fallbacks, real footage flicker."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from engine.depth import DepthConfig
from engine.depth.normalise import to_inverse_like
from engine.depth.registry import create_provider
from engine.depth.stabilise import (
    Affine,
    DepthStabiliser,
    StabiliseConfig,
    estimate_stabilised,
    from_inverse_like,
    range_match,
    robust_fit,
)
from engine.depth.temporal_filter import TemporalFilterConfig
from engine.media import open_media
from engine.metrics.depth_flicker import depth_flicker_many
from tests.support.data import shared_data


def smooth_field(h: int, w: int, seed: int, sigma: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), sigma)
    return (t - t.min()) / (t.max() - t.min())


Clip = tuple[list[np.ndarray], list[np.ndarray]]


def panning_scene(n: int, h: int = 72, w: int = 96, speed: float = 0.6) -> Clip:
    """A camera panning over a textured scene: RGB frames and the true inverse depth (moves with the image).

    The pan covers more than a frame width over 200 frames, so the content turns over completely.
    """
    big_w = w + int(np.ceil(n * speed)) + 4
    texture = smooth_field(h, big_w, 1, 1.2) * 255.0
    depth = 0.5 + 2.0 * smooth_field(h, big_w, 2, 6.0) + np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    frames, truth = [], []
    for t in range(n):
        mx = xs + speed * t
        grey = np.clip(cv2.remap(texture, mx, ys, cv2.INTER_LINEAR), 0, 255).astype(np.uint8)
        frames.append(np.repeat(grey[..., None], 3, axis=2))
        truth.append(cv2.remap(depth, mx, ys, cv2.INTER_LINEAR))
    return frames, truth


def jitter(maps: list[np.ndarray], seed: int, scale: float = 0.3, shift: float = 0.2,
           noise: float = 0.0) -> tuple[list[np.ndarray], list[tuple[float, float]]]:
    """Per-frame random affine s·x + o (log s ~ U(−scale, scale), o ~ U(−shift, shift)·range), plus noise.

    Models the frame-to-frame scale/shift inconsistency of learned relative-depth models.
    """
    rng = np.random.default_rng(seed)
    out, params = [], []
    for m in maps:
        lo, hi = np.nanpercentile(m, [2, 98])
        s, o = float(np.exp(rng.uniform(-scale, scale))), float(rng.uniform(-shift, shift) * (hi - lo))
        noisy = m + noise * (hi - lo) * cv2.GaussianBlur(rng.standard_normal(m.shape).astype(np.float32),
                                                          (0, 0), 1.0)
        out.append((s * noisy + o).astype(np.float32))
        params.append((s, o))
    return out, params


ALIGN_ONLY = StabiliseConfig(temporal=TemporalFilterConfig(radius=0))
"""The align stage alone (the temporal filter after it has tests of its own: test_temporal_filter.py)."""


def fit_to_truth(out: list[np.ndarray], truth: list[np.ndarray]) -> np.ndarray:
    """Per frame (a, b) of the least-squares line out ≈ a·truth + b (noise-free truth: exact)."""
    return np.array([np.polyfit(t.ravel(), o.ravel(), 1) for o, t in zip(out, truth, strict=True)])


# ------------------------------------------------------------------------------------------- pieces


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="unknown stabilisation mode"):
        StabiliseConfig(mode="median")
    with pytest.raises(ValueError, match="ema"):
        StabiliseConfig(ema=1.0)
    with pytest.raises(ValueError, match="lookahead"):
        StabiliseConfig(lookahead=-1)
    with pytest.raises(ValueError, match="range_pct"):
        StabiliseConfig(range_pct=(98.0, 2.0))
    with pytest.raises(ValueError, match="unknown depth kind"):
        DepthStabiliser("depthish")


def test_robust_fit_recovers_affine_despite_outliers_and_is_symmetric():
    rng = np.random.default_rng(0)
    src = rng.uniform(0.0, 4.0, 5000)
    tgt = 2.5 * src - 1.0 + rng.normal(0, 0.02, src.size)
    bad = rng.random(src.size) < 0.2  # mismatched pixels (occlusions, moving objects)
    tgt[bad] = rng.uniform(-10, 10, bad.sum())
    fit = robust_fit(src, tgt)
    assert fit is not None and fit.corr > 0.99
    assert fit.affine.a == pytest.approx(2.5, rel=0.01) and fit.affine.b == pytest.approx(-1.0, abs=0.03)
    back = robust_fit(tgt, src)
    assert back is not None and back.affine.a == pytest.approx(1 / fit.affine.a, rel=0.01)
    # noise on the source: least squares would shrink the slope by 1 / (1 + σ²/var) ≈ 0.9; this does not
    clean = rng.uniform(0.0, 1.0, 20000)
    noisy_src = clean + rng.normal(0, 0.1, clean.size)
    noisy_tgt = 2.0 * clean + rng.normal(0, 0.2, clean.size)
    assert np.polyfit(noisy_src, noisy_tgt, 1)[0] < 1.85
    assert robust_fit(noisy_src, noisy_tgt).affine.a == pytest.approx(2.0, rel=0.03)


def test_robust_fit_refuses_degenerate_input():
    x = np.linspace(0, 1, 100)
    assert robust_fit(np.ones(100), x) is None  # no spread
    assert robust_fit(x, -x) is None  # a < 0: not a depth re-scaling
    assert robust_fit(x[:5], x[:5]) is None  # too few pairs
    scale = robust_fit(x + 1, 3 * (x + 1), scale_only=True)
    assert scale.affine == Affine(pytest.approx(3.0), 0.0)


def test_range_match_and_kind_round_trip():
    assert range_match((0.0, 1.0), (2.0, 6.0), scale_only=False) == Affine(4.0, 2.0)
    assert range_match((1.0, 3.0), (2.0, 6.0), scale_only=True) == Affine(2.0, 0.0)
    assert range_match((1.0, 1.0), (2.0, 6.0), scale_only=False) is None
    raw = np.array([[0.5, 2.0], [4.0, np.nan]], np.float32)
    for kind in ("relative", "inverse", "metric"):
        back = from_inverse_like(to_inverse_like(raw, kind), kind)
        np.testing.assert_allclose(back[np.isfinite(raw)], raw[np.isfinite(raw)], rtol=1e-6)
        assert np.isnan(back[1, 1])
    assert np.isnan(from_inverse_like(np.array([-1.0, 0.0]), "metric")).all()  # 1/Z <= 0: no depth


# ------------------------------------------------------------------------------------------- align


def test_align_removes_jitter_without_drift_over_200_frames():
    frames, truth = panning_scene(200)
    jittered, params = jitter(truth, seed=3, scale=0.3, shift=0.2, noise=0.02)
    stab = DepthStabiliser("inverse", ALIGN_ONLY)
    out = list(stab.process(zip(frames, jittered, strict=True)))
    before, after = fit_to_truth(jittered, truth), fit_to_truth(out, truth)
    # the input's scale against the truth jumps by up to ±35 % a frame ...
    assert np.abs(np.diff(np.log(before[:, 0]))).max() > 0.3
    # ... the output holds frame 0's scale and offset: jitter removed, no drift beyond 3 %
    rel_scale = after[:, 0] / after[0, 0]
    assert np.abs(np.diff(np.log(rel_scale))).max() < 0.02
    assert np.abs(rel_scale - 1.0).max() < 0.03
    depth_range = after[0, 0] * (np.percentile(truth[0], 98) - np.percentile(truth[0], 2))
    mid = 1.75  # middle of the true depth values
    offset = (after[:, 0] * mid + after[:, 1]) - (after[0, 0] * mid + after[0, 1])
    assert np.abs(offset).max() < 0.03 * depth_range
    assert stab.fallbacks == 0
    assert params[0][0] != pytest.approx(1.0)  # frame 0 itself was jittered: it is the anchor, kept as is
    np.testing.assert_array_equal(out[0], jittered[0])


def test_key_frames_drift_less_than_a_frame_to_frame_chain():
    frames, truth = panning_scene(120)
    maps, _ = jitter(truth, seed=5, noise=0.02)
    drift = {}
    for interval in (1, 10):
        stab = DepthStabiliser("inverse", StabiliseConfig(key_interval=interval, temporal=ALIGN_ONLY.temporal))
        out = list(stab.process(zip(frames, maps, strict=True)))
        scale = fit_to_truth(out, truth)[:, 0]
        drift[interval] = float(np.abs(scale / scale[0] - 1).max())
    assert drift[10] < 0.5 * drift[1]


@pytest.mark.parametrize("kind", ["inverse", "relative", "metric"])
def test_kinds_round_trip_through_align(kind):
    frames, truth = panning_scene(12)
    inverse, _ = jitter(truth, seed=7, scale=0.25, shift=0.0 if kind == "metric" else 0.2)
    raw = [from_inverse_like(m, kind) for m in inverse]  # relative: −x, metric: Z = 1/x
    raw[4][10:20, 10:20] = np.nan  # unknown depth stays unknown
    out = list(DepthStabiliser(kind, ALIGN_ONLY).process(zip(frames, raw, strict=True)))
    assert all(o.dtype == np.float32 and o.shape == truth[0].shape for o in out)
    np.testing.assert_allclose(out[0], raw[0], rtol=1e-6)  # the shot's first frame is the anchor
    assert np.isnan(out[4][10:20, 10:20]).all() and np.isfinite(out[4][30:, 30:]).all()
    if kind == "metric":
        assert np.nanmin(np.stack(out)) > 0  # Z stays positive: scale-only fit
    back = [to_inverse_like(o, kind) for o in out]
    scales = [np.polyfit(t[np.isfinite(b)], b[np.isfinite(b)], 1)[0]
              for b, t in zip(back, truth, strict=True)]
    assert np.ptp(np.log(scales)) < 0.02  # one scale for the whole shot, in the input kind's own terms


def test_reset_at_a_cut_starts_a_new_chain():
    frames_a, truth_a = panning_scene(6, speed=0.5)
    frames_b, truth_b = panning_scene(6, speed=-0.5)
    frames_b = [255 - f for f in frames_b]  # a different picture after the cut
    maps_a, _ = jitter(truth_a, seed=1)
    maps_b = [3.0 * m + 5.0 for m in truth_b]  # and a very different depth scale
    stab = DepthStabiliser("inverse", ALIGN_ONLY)
    list(stab.process(zip(frames_a, maps_a, strict=True)))
    carried_over = next(stab.process(zip(frames_b[:1], maps_b[:1], strict=True)))
    assert not np.allclose(carried_over, maps_b[0])  # without reset the new shot is bent to the old one
    stab.reset()
    out_b = list(stab.process(zip(frames_b, maps_b, strict=True)))
    np.testing.assert_array_equal(out_b[0], maps_b[0])
    assert stab.fallbacks == 0
    for o, m in zip(out_b, maps_b, strict=True):  # consistent input stays (nearly) untouched
        np.testing.assert_allclose(o, m, atol=0.01 * np.ptp(m))


def test_degenerate_frame_falls_back_and_the_chain_recovers():
    frames, truth = panning_scene(10)
    maps, _ = jitter(truth, seed=2)
    maps[4] = np.full_like(maps[4], 2.0)  # a flat map: no spread to fit
    maps[6] = np.random.default_rng(0).random(maps[6].shape, dtype=np.float32)  # a map unrelated to the scene
    stab = DepthStabiliser("inverse", ALIGN_ONLY)
    out = list(stab.process(zip(frames, maps, strict=True)))
    assert stab.fallbacks == 2
    assert all(np.isfinite(o).all() for o in out)
    scale = fit_to_truth(out, truth)[:, 0]
    good = [0, 1, 2, 3, 5, 7, 8, 9]
    assert np.abs(scale[good] / scale[0] - 1).max() < 0.03  # the chain goes on past the bad frames


# ---------------------------------------------------------------------------------------- streaming


@pytest.mark.parametrize(("mode", "radius", "lag"), [("align", 0, 0), ("ema", 0, 4), ("off", 2, 0),
                                                     ("align", 2, 2), ("ema", 3, 7)])
def test_streaming_lag_is_bounded(mode, radius, lag):
    """The lag: ema's look-ahead plus the temporal filter's radius (off: none of either)."""
    frames, truth = panning_scene(12)
    consumed = 0

    def source():
        nonlocal consumed
        for pair in zip(frames, truth, strict=True):
            consumed += 1
            yield pair

    stab = DepthStabiliser("inverse", StabiliseConfig(mode=mode, lookahead=4,
                                                      temporal=TemporalFilterConfig(radius=radius)))
    assert stab.lag == lag
    outputs = 0
    for k, _ in enumerate(stab.process(source())):
        assert consumed <= k + 1 + lag
        outputs += 1
    assert outputs == len(frames)


def test_ema_maps_each_frame_into_the_smoothed_range_and_resets():
    frames, truth = panning_scene(30)
    maps, _ = jitter(truth, seed=4)
    cfg = StabiliseConfig(mode="ema", ema=0.9, lookahead=8)
    stab = DepthStabiliser("inverse", cfg)
    out = list(stab.process(zip(frames, maps, strict=True)))
    ranges = lambda ms: np.array([np.percentile(m, [2, 98]) for m in ms])  # noqa: E731
    assert np.abs(np.diff(ranges(out), axis=0)).mean() < 0.3 * np.abs(np.diff(ranges(maps), axis=0)).mean()
    # after a cut the range restarts from the new shot, not from the old one's EMA
    far = [m + 100.0 for m in truth[:10]]
    stab.reset()
    after_cut = list(stab.process(zip(frames[:10], far, strict=True)))
    assert all(np.percentile(o, 2) > 99.0 for o in after_cut)


def test_disparity_px_and_off_pass_through():
    frames, truth = panning_scene(3)
    for kind, cfg in (("disparity-px", StabiliseConfig()), ("inverse", StabiliseConfig(mode="off"))):
        out = list(DepthStabiliser(kind, cfg).process(zip(frames, truth, strict=True)))
        for o, t in zip(out, truth, strict=True):
            np.testing.assert_array_equal(o, t)


class ReadAheadProvider:
    """Depth = the frame's red channel; reads two frames ahead like a temporal provider."""

    name, output_kind = "read-ahead", "inverse"

    def estimate(self, frames):
        it = iter(frames)
        window = list(itertools.islice(it, 2))
        for frame in it:
            window.append(frame)
            yield window.pop(0)[..., 0].astype(np.float32)
        for frame in window:
            yield frame[..., 0].astype(np.float32)

    def reset(self):
        pass


class CheckingStabiliser:
    kind = "inverse"

    def process(self, pairs):
        for frame, raw in pairs:
            np.testing.assert_array_equal(raw, frame[..., 0])  # the map arrives with its own frame
            yield raw


def test_estimate_stabilised_pairs_each_map_with_its_own_frame():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(7)]
    out = list(estimate_stabilised(ReadAheadProvider(), frames, CheckingStabiliser()))
    assert len(out) == 7
    with pytest.raises(ValueError, match="gives 'inverse'"):
        estimate_stabilised(ReadAheadProvider(), frames, DepthStabiliser("relative"))


# ---------------------------------------------------------------------------------------- real data


def test_align_halves_flicker_of_a_jittered_provider_on_real_footage():
    clip = shared_data("mono_videos", "davis_rollercoaster.mp4")
    with open_media(clip) as reader:
        frames = [cv2.resize(f.image, (320, 180), interpolation=cv2.INTER_AREA) for f in reader.frames(0, 12)]
    provider = create_provider(DepthConfig(model="weights-free"))
    raw = list(provider.estimate(frames))
    jittered, _ = jitter(raw, seed=11)  # per-frame scale/shift inconsistency, as learned models show
    variants = {"off": jittered}
    for mode in ("align", "ema"):
        stab = DepthStabiliser("inverse", StabiliseConfig(mode=mode))
        variants[mode] = list(stab.process(zip(frames, jittered, strict=True)))
    flicker = depth_flicker_many(frames, variants, "inverse")
    assert flicker["align"] < 0.5 * flicker["off"]
    assert flicker["ema"] < flicker["off"]
