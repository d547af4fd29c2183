"""engine.depth.weights_free: streaming, motion parallax, single-image cues, real data vs baselines."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.stats import spearmanr

from engine.depth import DepthConfig
from engine.depth.cues.defocus import defocus_spread, edge_blur
from engine.depth.cues.layering import boundary_strength, geodesic_from_top, layering_prior
from engine.depth.cues.priors import ground_contact, sky_likelihood, vertical_prior
from engine.depth.cues.refine import edge_aware_smooth, guide_image, guided_upsample
from engine.depth.weights_free import (
    WeightsFreeDepth,
    WeightsFreeSettings,
    colour_confidence,
    fit_prior,
    vertical_share,
)

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
MIDDLEBURY = DATA / "stereo_pairs" / "middlebury_2001_2003"


def texture(h: int, w: int, seed: int, blur: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), blur)
    return (t - t.min()) / (t.max() - t.min())


def translating_camera_clip(n: int = 6, h: int = 120, w: int = 160) -> tuple[list[np.ndarray], np.ndarray]:
    """A camera sliding sideways past a near plane (Z = 2) in front of a far plane (Z = 10).

    Image motion is f * t / Z: the near plane moves 5x faster (2.5 px vs 0.5 px a frame).
    The near plane sits in the upper half, where the vertical prior alone would call it far.
    Returns the RGB frames and the near plane's mask in the last frame.
    """
    far, near = texture(h, w + 80, seed=1), texture(h, w + 80, seed=2)
    ys = np.arange(h, dtype=np.float32)[:, None].repeat(w, 1)
    frames, mask = [], np.zeros((h, w), bool)
    for i in range(n):
        xs = np.arange(w, dtype=np.float32)[None, :].repeat(h, 0) + 40.0
        img = cv2.remap(far, xs - 0.5 * i, ys, cv2.INTER_LINEAR)
        near_img = cv2.remap(near, xs - 2.5 * i, ys, cv2.INTER_LINEAR)
        left = int(round(30 + 2.5 * i))
        mask = np.zeros((h, w), bool)
        mask[8:70, left:left + 80] = True
        img[mask] = near_img[mask]
        frames.append(np.repeat((img * 255).astype(np.uint8)[..., None], 3, axis=2))
    return frames, mask


def erode(mask: np.ndarray, px: int = 6) -> np.ndarray:
    return cv2.erode(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def spearman(pred: np.ndarray, gt: np.ndarray) -> float:
    valid = np.isfinite(gt) & (gt > 0)
    p = pred[valid]
    return 0.0 if np.ptp(p) == 0 else float(spearmanr(p, gt[valid]).statistic)


def test_streams_one_finite_map_per_frame():
    frames, _ = translating_camera_clip(n=5)
    provider = WeightsFreeDepth(DepthConfig(model="weights-free", working_width=96))
    maps = list(provider.estimate(iter(frames)))
    assert len(maps) == 5
    for m in maps:
        assert m.shape == (120, 160) and m.dtype == np.float32 and np.isfinite(m).all()
    assert list(provider.estimate([])) == []
    single = list(provider.estimate([frames[0]]))
    assert len(single) == 1 and single[0].shape == (120, 160)
    deep = [(f.astype(np.uint16) * 257) for f in frames[:2]]
    assert [m.shape for m in provider.estimate(deep)] == [(120, 160)] * 2
    with pytest.raises(ValueError):
        list(provider.estimate([np.zeros((10, 10), np.uint8)]))


def test_estimate_is_lazy_with_bounded_look_ahead():
    frames, _ = translating_camera_clip(n=4)
    pulled = []

    def source():
        for i, f in enumerate(frames):
            pulled.append(i)
            yield f

    stream = WeightsFreeDepth(DepthConfig(model="weights-free", working_width=96)).estimate(source())
    next(stream)
    assert pulled == [0, 1]  # frame 0 needs frame 1's flow, nothing more
    next(stream)
    assert pulled == [0, 1]
    next(stream)
    assert pulled == [0, 1, 2]


def test_near_plane_is_nearer_under_camera_translation():
    frames, mask = translating_camera_clip(n=6)
    maps = list(WeightsFreeDepth(DepthConfig(model="weights-free", working_width=None)).estimate(frames))
    last = maps[-1]
    near = erode(mask)
    far = erode(~mask)
    far[:, :20] = False  # the left edge has just come into view
    assert np.median(last[near]) > np.median(last[far]) * 1.3
    # The single-image prior alone ranks the upper (near) plane farther: the parallax is what fixed it.
    prior_only = WeightsFreeDepth(DepthConfig(model="weights-free", working_width=None),
                                  WeightsFreeSettings(use_parallax=False))
    still = list(prior_only.estimate(frames))[-1]
    assert np.median(still[near]) < np.median(still[far])


def test_reset_clears_temporal_state():
    frames, _ = translating_camera_clip(n=4)
    provider = WeightsFreeDepth(DepthConfig(model="weights-free", working_width=None))
    first = list(provider.estimate(frames))
    assert provider._acc is not None
    provider.reset()
    assert provider._acc is None and provider._weight is None
    again = list(provider.estimate(frames))
    np.testing.assert_allclose(again[0], first[0], rtol=1e-5, atol=1e-6)


def test_static_camera_falls_back_to_the_prior():
    frames, _ = translating_camera_clip(n=1)
    static = [frames[0]] * 4
    provider = WeightsFreeDepth(DepthConfig(model="weights-free", working_width=None))
    maps = list(provider.estimate(static))
    assert provider._acc is None  # no parallax accepted from a camera that does not move
    still = WeightsFreeDepth(DepthConfig(model="weights-free", working_width=None),
                             WeightsFreeSettings(use_parallax=False))
    np.testing.assert_allclose(maps[-1], next(still.estimate(static)), atol=1e-5)


def prior_at(row: int, height: int) -> float:
    return row / (height - 1)


def test_single_image_cues():
    prior = vertical_prior(5, 3)
    assert prior[0, 0] == 0.0 and prior[-1, 0] == 1.0
    # An upright bar standing on the bottom edge takes the nearness of where it touches the ground.
    # Textured ground (an edge every other row) keeps the vertical prior.
    gray = np.where(np.arange(60)[:, None] % 4 < 2, 40, 120).astype(np.uint8).repeat(40, axis=1)
    gray[20:, 15:25] = 200
    contact = ground_contact(gray)
    assert contact[25, 20] > 0.7 and contact[25, 20] > contact[25, 5] + 0.25
    assert abs(contact[25, 5] - prior_at(25, 60)) < 0.05
    # Sky: smooth blue at the top is found; a textured frame has none.
    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[:30] = (90, 150, 230)
    rgb[30:] = (np.random.default_rng(0).random((30, 80, 3)) * 255).astype(np.uint8)
    sky = sky_likelihood(rgb)
    assert sky[5:25].mean() > 0.9 and sky[40:].mean() < 0.05
    # Defocus: blur estimated at a blurred edge is larger than at a sharp one.
    step = np.zeros((64, 128), np.uint8)
    step[:, 32:64] = 200
    step[:, 96:] = 200
    step[:, 64:] = cv2.GaussianBlur(step[:, 64:], (0, 0), 3.0)
    sigma, mask = edge_blur(step)
    sharp, blurred = sigma[:, :64][mask[:, :64]], sigma[:, 64:][mask[:, 64:]]
    assert sharp.size and blurred.size and np.median(blurred) > np.median(sharp) + 1.0
    assert defocus_spread(sigma, mask, min_edges=10) > 1.0


def test_layering_cue():
    # A uniform cost gives the straight-down distance; a smooth frame gives the vertical prior.
    dist = geodesic_from_top(np.full((5, 4), 2.0, np.float32))
    np.testing.assert_allclose(dist[:, 1], [0.0, 2.0, 4.0, 6.0, 8.0], atol=1e-5)
    flat = np.full((50, 60, 3), 100, np.uint8)
    assert np.abs(layering_prior(flat) - vertical_prior(50, 60)).max() < 0.03
    # An object in the upper half, in front of a smooth wall, is nearer than the wall beside it.
    scene = np.full((90, 120, 3), (120, 140, 160), np.uint8)
    scene[10:40, 40:80] = (220, 60, 40)
    near = layering_prior(scene)
    assert near[15:35, 50:70].min() > near[15:35, 5:30].max() + 0.3
    # Surround suppression removes more of a dense texture's edges than of an isolated contour.
    rng = np.random.default_rng(0)
    cells = ((rng.random((20, 30)) > 0.5) * 160 + 40).astype(np.uint8)
    texture_img = np.repeat(cv2.resize(cells, (120, 80), interpolation=cv2.INTER_NEAREST)[..., None], 3, axis=2)
    step = np.full((80, 120, 3), 60, np.uint8)
    step[40:] = 200

    def kept(img: np.ndarray) -> float:
        return float(boundary_strength(img).sum() / boundary_strength(img, suppression=0.0).sum())

    assert kept(texture_img) < kept(step) - 0.15
    with pytest.raises(ValueError):
        boundary_strength(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError):
        geodesic_from_top(np.zeros((0, 4), np.float32))


def test_prior_is_steadied_along_the_flow_on_a_static_shot():
    """Same frame plus noise: the prior carried along the flow varies less than per-frame priors.

    The frames are grey, so the colour confidence is off (chroma_full=0): a grey frame's prior would be the ramp.
    """
    rng = np.random.default_rng(1)
    base = (texture(96, 128, seed=3, blur=3.0) * 200 + 20).astype(np.float32)
    frames = [np.repeat(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)[..., None], 3, 2)
              for _ in range(6)]
    config = DepthConfig(model="weights-free", working_width=None)
    steady = list(WeightsFreeDepth(config, WeightsFreeSettings(chroma_full=0.0)).estimate(frames))
    raw = list(WeightsFreeDepth(config, WeightsFreeSettings(prior_rate=1.0, chroma_full=0.0)).estimate(frames))

    def spread(maps: list[np.ndarray]) -> float:
        norm = [(m - m.mean()) / m.std() for m in maps[2:]]
        return float(np.std(norm, axis=0).mean())

    assert spread(steady) < 0.7 * spread(raw)


def load_middlebury(name: str, left: str, right: str, gt: str, scale: float):
    folder = MIDDLEBURY / name
    if not folder.is_dir():
        pytest.skip(f"shared test data not found at {folder}")
    a = cv2.cvtColor(cv2.imread(str(folder / left)), cv2.COLOR_BGR2RGB)
    b = cv2.cvtColor(cv2.imread(str(folder / right)), cv2.COLOR_BGR2RGB)
    disp = cv2.imread(str(folder / gt), cv2.IMREAD_UNCHANGED).astype(np.float32) / scale
    disp[disp == 0] = np.nan
    return a, b, disp


def test_real_still_beats_constant_baseline():
    left, _, disp = load_middlebury("cones", "im2.png", "im6.png", "disp2.png", 4)
    ours = next(WeightsFreeDepth(DepthConfig(model="weights-free")).estimate([left]))
    constant = np.zeros_like(ours)
    assert spearman(ours, disp) > spearman(constant, disp) + 0.5


def test_real_stills_layering_beats_vertical_gradient_and_v1():
    """Single-image depth on the four Middlebury stills (mean Spearman; measured 0.775 vs 0.732 vertical, v4)."""
    stills = [("tsukuba", "im3.png", "im4.png", "disp3.pgm", 16), ("venus", "im2.png", "im6.png", "disp2.pgm", 8),
              ("teddy", "im2.png", "im6.png", "disp2.png", 4), ("cones", "im2.png", "im6.png", "disp2.png", 4)]
    ours, v1, vertical = [], [], []
    for name, left_name, right_name, gt, scale in stills:
        left, _, disp = load_middlebury(name, left_name, right_name, gt, scale)
        ours.append(spearman(next(WeightsFreeDepth(DepthConfig(model="weights-free")).estimate([left])), disp))
        ground_only = WeightsFreeDepth(DepthConfig(model="weights-free"),  # version 1: no layering, no blend
                                       WeightsFreeSettings(layering_weight=0.0, vertical_weight=0.0))
        v1.append(spearman(next(ground_only.estimate([left])), disp))
        vertical.append(spearman(vertical_prior(*disp.shape), disp))
    assert all(o >= v for o, v in zip(ours, vertical, strict=True))
    assert np.mean(ours) > np.mean(vertical) + 0.03
    assert np.mean(ours) > np.mean(v1) + 0.03


def test_real_motion_parallax_beats_single_image_baselines():
    """The stereo pair seen as a 2-frame clip: the camera translates sideways by the baseline."""
    left, right, disp = load_middlebury("tsukuba", "im3.png", "im4.png", "disp3.pgm", 16)
    config = DepthConfig(model="weights-free")
    moving = next(WeightsFreeDepth(config).estimate([left, right]))
    still = next(WeightsFreeDepth(config).estimate([left]))
    vertical = vertical_prior(*disp.shape)
    assert spearman(moving, disp) > spearman(still, disp) + 0.12
    assert spearman(moving, disp) > spearman(vertical, disp) + 0.25


def test_motion_trust_falls_when_the_translation_jumps_or_no_motion_is_usable():
    """A translating camera keeps the trust at 1; a rotating one (pairs rejected, or a translation whose
    direction jumps from pair to pair, as the essential matrix gives for pure rotation) loses it, and a
    translating camera wins it back."""
    provider = WeightsFreeDepth(DepthConfig(model="weights-free"))
    sideways = np.array([1.0, 0.0, 0.0])
    assert [provider._motion_trust(sideways * s) for s in (1, 1, -1, 1)] == [1.0] * 4  # the sign is free
    jumps = [np.array([0.0, 0.0, 1.0]), sideways, None, np.array([0.0, 1.0, 0.0]), None, np.array([0.0, 0.0, 1.0])]
    trust = [provider._motion_trust(t) for t in jumps]
    assert all(b < a for a, b in zip(trust, trust[1:], strict=False)) and trust[-1] < 0.1
    back = [provider._motion_trust(sideways) for _ in range(6)]
    assert back[-1] > 0.9
    provider.reset()
    assert provider._trust == 1.0 and provider._translation is None


def test_colour_confidence_grows_with_chroma():
    grey = np.full((20, 30, 3), 128, np.uint8)
    assert colour_confidence(grey, 8.0) == 0.0
    vivid = np.zeros((20, 30, 3), np.uint8)
    vivid[..., 0] = 220
    assert colour_confidence(vivid, 8.0) == 1.0
    faint = np.full((20, 30, 3), 128, np.uint8)
    faint[..., 0] = 131  # a faint red cast: about 4 CIELAB units of chroma
    assert 0.1 < colour_confidence(faint, 8.0) < 0.9
    assert colour_confidence(grey, 0.0) == 1.0  # 0 = off
    assert vertical_share(0.6, 1.0) == pytest.approx(0.6)
    assert vertical_share(0.6, 0.0) == 1.0
    assert vertical_share(0.6, 0.5) == pytest.approx(0.8)


def test_colourless_still_gets_the_vertical_ramp_and_no_sky():
    """A monochrome frame (EuRoC's sensor) cannot tell a white window from sky nor a marking from a contour:
    its depth ranks exactly as the vertical ramp, although a bright smooth area touches the top."""
    h, w = 90, 160
    img = (texture(h, w, seed=4, blur=2.0) * 120 + 40).astype(np.uint8)
    img[:30, 50:110] = 250  # bright, smooth, touching the top: the grey-sky branch would fire
    img[50:70, 20:60] = 15  # a dark blob, which layering would read as a nearer object
    grey = np.repeat(img[..., None], 3, axis=2)
    assert sky_likelihood(grey).max() > 0.5
    still = next(WeightsFreeDepth(DepthConfig(model="weights-free", working_width=None),
                                  WeightsFreeSettings(use_parallax=False)).estimate([grey]))
    assert np.ptp(still, axis=1).max() < 1e-6  # every row constant
    assert np.all(np.diff(still[:, 0]) > 0)  # lower is nearer
    coloured = grey.copy()
    coloured[..., 0] = np.clip(coloured[..., 0].astype(int) + 40, 0, 255)
    depth = next(WeightsFreeDepth(DepthConfig(model="weights-free", working_width=None),
                                  WeightsFreeSettings(use_parallax=False)).estimate([coloured]))
    assert np.ptp(depth, axis=1).max() > 0.05  # with colour the image cues act again


def test_guided_upsample_snaps_depth_edges_to_the_full_resolution_image():
    """A 3 px pole at full resolution (under 1 px at working size): the snapped depth follows the pole."""
    h, w, scale = 64, 96, 4
    image = np.full((h * scale, w * scale), 200, np.uint8)
    image[:, 150:153] = 40  # the pole, dark against a bright sky
    small_gray = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    depth = np.full((h, w), 0.2, np.float32)
    depth[:, 37:39] = 1.0  # the working-size depth already has the pole nearer, but blurred over 2 px
    guide = guide_image(small_gray)
    snapped = guided_upsample(depth, guide, image)
    bilinear = cv2.resize(edge_aware_smooth(depth, guide), (w * scale, h * scale), interpolation=cv2.INTER_LINEAR)
    row = h * scale // 2
    assert snapped.shape == image.shape
    assert snapped.min() >= depth.min() - 1e-6 and snapped.max() <= depth.max() + 1e-6  # no overshoot
    pole, beside = snapped[row, 150:153].mean(), snapped[row, [146, 156]].mean()
    assert pole - beside > 1.5 * (bilinear[row, 150:153].mean() - bilinear[row, [146, 156]].mean())
    rng = np.random.default_rng(0)  # at working size it is the plain guided filter (within its range)
    values, grey = rng.random((h, w), dtype=np.float32), (rng.random((h, w)) * 255).astype(np.uint8)
    plain = np.clip(edge_aware_smooth(values, grey), values.min(), values.max())
    np.testing.assert_allclose(guided_upsample(values, grey, grey), plain, atol=1e-4)


def test_geodesic_sweeps_stop_early_only_once_converged():
    """Stopping when a sweep pair changes nothing gives the same distances as sweeping on; a path that has to
    turn back up (round a wall) still gets the later sweeps it needs."""
    rng = np.random.default_rng(5)
    cost = cv2.GaussianBlur(rng.random((40, 50), dtype=np.float32), (0, 0), 1.0) * 5.0
    np.testing.assert_array_equal(geodesic_from_top(cost, sweeps=3), geodesic_from_top(cost, sweeps=12))
    maze = np.ones((40, 50), np.float32)
    maze[10, :45] = 1e4  # walls open at alternate ends: the way down zigzags
    maze[20, 5:] = 1e4
    maze[30, :45] = 1e4
    once, many = geodesic_from_top(maze, sweeps=1), geodesic_from_top(maze, sweeps=12)
    assert many[35, 10] < once[35, 10]
    np.testing.assert_array_equal(many, geodesic_from_top(maze, sweeps=40))


def test_prior_fit_needs_the_parallax_to_rank_the_scene_like_the_prior():
    """Version 8: an anti-correlated parallax gives no fit (it used to give slope 0, which the calibration's EMA
    turned into a constant prior over a few dozen frames: DAVIS's whole map spanned 0.004 by frame 30)."""
    rng = np.random.default_rng(0)
    prior = rng.uniform(0.0, 1.0, (40, 50)).astype(np.float32)
    weights = np.ones_like(prior)
    noise = 0.05 * rng.standard_normal(prior.shape).astype(np.float32)
    a, b = fit_prior(prior, 2.0 * prior + 0.5 + noise, weights)
    assert a == pytest.approx(2.0, abs=0.05) and b == pytest.approx(0.5, abs=0.05)
    assert fit_prior(prior, 1.5 - prior + noise, weights) is None  # ranks the scene against the prior
    assert fit_prior(prior, np.full_like(prior, 0.7), weights) is None  # says nothing about the prior's scale
    assert fit_prior(prior, 2.0 * prior, np.zeros_like(prior)) is None  # no parallax in view
    weak = 0.1 * prior + noise  # correlation ~0.5
    assert fit_prior(prior, weak, weights) is not None and fit_prior(prior, weak, weights, min_corr=0.8) is None


def test_anti_correlated_parallax_does_not_flatten_the_prior(monkeypatch):
    """However long the parallax disagrees with the prior, the fused map keeps the prior's spread."""
    import engine.depth.weights_free as weights_free

    h, w = 48, 64
    prior = np.repeat(np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None], w, axis=1)
    provider = WeightsFreeDepth(DepthConfig(model="weights-free"))
    monkeypatch.setattr(provider, "_accumulate", lambda *a: (1.0 - prior, np.full_like(prior, 0.05)))
    monkeypatch.setattr(weights_free, "edge_aware_fill", lambda acc, weight, guide, lam: (acc, np.zeros_like(acc)))
    sky, guide = np.zeros_like(prior), np.zeros((h, w), np.float32)
    for _ in range(60):
        fused = provider._fuse(prior, sky, guide, None, None, None)
    lo, hi = np.percentile(fused, [2, 98])
    assert provider._fit[0] == pytest.approx(1.0) and hi - lo > 0.9
