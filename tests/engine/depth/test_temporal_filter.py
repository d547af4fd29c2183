"""engine.depth.temporal_filter: per-pixel jitter removed along the flow, edges and unknowns kept, lag, shots."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.depth.stabilise import DepthStabiliser, StabiliseConfig
from engine.depth.temporal_filter import (
    FilterFrame,
    TemporalDepthFilter,
    TemporalFilterConfig,
    filter_small,
    robust_span,
)
from engine.flow import FlowConfig, FlowEstimator
from tests.engine.depth.test_stabilise import panning_scene


def _noisy(truth: list[np.ndarray], seed: int, amount: float) -> list[np.ndarray]:
    """Independent per-frame noise (blurred a little, as an estimator's jitter is), `amount` × the range."""
    rng = np.random.default_rng(seed)
    out = []
    for m in truth:
        lo, hi = np.percentile(m, [2, 98])
        noise = cv2.GaussianBlur(rng.standard_normal(m.shape).astype(np.float32), (0, 0), 1.0)
        out.append((m + amount * (hi - lo) * noise / noise.std()).astype(np.float32))
    return out


def _frames(images: list[np.ndarray], maps: list[np.ndarray], payloads=None) -> list[FilterFrame]:
    payloads = payloads or [None] * len(maps)
    return [FilterFrame(img[..., 0].copy(), m, m, p) for img, m, p in zip(images, maps, payloads, strict=True)]


def _filter(config: TemporalFilterConfig | None = None) -> TemporalDepthFilter:
    return TemporalDepthFilter(FlowEstimator(FlowConfig(preset="fast", working_width=None)),
                               config or TemporalFilterConfig())


def _steps(maps: list[np.ndarray]) -> float:
    """Mean frame-to-frame change of a map sequence (away from the borders)."""
    return float(np.mean([np.abs(_interior(b - a)).mean() for a, b in zip(maps[:-1], maps[1:], strict=True)]))


def _interior(a: np.ndarray) -> np.ndarray:
    return a[8:-8, 8:-8]  # away from the borders the pan brings in


def test_jitter_along_the_motion_is_removed_without_bias():
    images, truth = panning_scene(16)
    noisy = _noisy(truth, seed=1, amount=0.03)
    out = [values for values, _ in _filter().process(_frames(images, noisy))]
    err_in = np.mean([np.abs(_interior(n - t)).mean() for n, t in zip(noisy, truth, strict=True)])
    err_out = np.mean([np.abs(_interior(o - t)).mean() for o, t in zip(out, truth, strict=True)])
    assert err_out < 0.7 * err_in  # averaging over up to five frames takes out much of the jitter
    bias = np.mean([_interior(o - t).mean() for o, t in zip(out, truth, strict=True)])
    assert abs(bias) < 0.1 * err_in  # and moves nothing on average


def test_a_steady_map_comes_back_unchanged_and_payloads_in_order():
    images, truth = panning_scene(9)
    out = list(_filter().process(_frames(images, truth, payloads=list(range(9)))))
    assert [p for _, p in out] == list(range(9))
    for (values, _), t in zip(out, truth, strict=True):
        assert values.dtype == np.float32 and values.shape == t.shape
        assert np.abs(_interior(values - t)).max() < 0.02 * np.ptp(t)  # consistent depth is left alone


def test_a_foreground_object_keeps_its_depth_while_it_moves():
    """A near square crossing a far background: the range term and the flow's consistency keep the two
    surfaces apart (a plain average would pull the square's depth towards the background at its edges)."""
    h, w, n = 64, 96, 9
    rng = np.random.default_rng(3)
    background = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 1.0) * 200
    square = cv2.GaussianBlur(rng.random((20, 20), dtype=np.float32), (0, 0), 1.0) * 200 + 40
    images, maps, masks = [], [], []
    for t in range(n):
        img, depth, mask = background.copy(), np.full((h, w), 1.0, np.float32), np.zeros((h, w), bool)
        x0 = 20 + 3 * t
        img[22:42, x0:x0 + 20] = square
        depth[22:42, x0:x0 + 20] = 3.0
        mask[22:42, x0:x0 + 20] = True
        images.append(np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2))
        maps.append(depth)
        masks.append(mask)
    out = [values for values, _ in _filter().process(_frames(images, maps))]
    plain = [values for values, _ in _filter(TemporalFilterConfig(range_sigma=1e3)).process(_frames(images, maps))]
    leak = lambda maps_out: np.mean([np.abs(v[m] - 3.0).mean() for v, m in zip(maps_out, masks, strict=True)])  # noqa: E731
    assert leak(out) < 0.05 * 2.0  # under 5 % of the 2.0 step, on average over the square
    assert leak(out) < 0.4 * leak(plain)  # what the range term saves against a plain average
    for values, mask in zip(out, masks, strict=True):
        outer = ~cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert np.abs(values[outer] - 1.0).mean() < 0.02


def test_unknown_depth_stays_unknown():
    images, truth = panning_scene(5)
    maps = [t.copy() for t in truth]
    maps[2][10:20, 10:20] = np.nan
    out = [values for values, _ in _filter().process(_frames(images, maps))]
    assert np.isnan(out[2][10:20, 10:20]).all()
    assert np.isfinite(out[1]).all() and np.isfinite(out[3]).all()  # neighbours are not made unknown


def test_the_filter_reads_at_most_radius_frames_ahead_and_radius_0_is_the_identity():
    images, truth = panning_scene(10)
    noisy = _noisy(truth, seed=2, amount=0.03)
    consumed = 0

    def source():
        nonlocal consumed
        for frame in _frames(images, noisy):
            consumed += 1
            yield frame

    for k, _ in enumerate(_filter(TemporalFilterConfig(radius=3)).process(source())):
        assert consumed <= k + 1 + 3
    assert k == 9
    same = [values for values, _ in _filter(TemporalFilterConfig(radius=0)).process(_frames(images, noisy))]
    assert all(np.array_equal(a, b) for a, b in zip(same, noisy, strict=True))


def test_nothing_crosses_a_shot_boundary():
    """Each process() call is one shot: its first frame is filtered from its own shot's frames only."""
    images_a, truth_a = panning_scene(6)
    images_b, truth_b = panning_scene(6, speed=-0.6)
    images_b = [255 - f for f in images_b]
    maps_b = [m + 5.0 for m in truth_b]
    filt = _filter()
    list(filt.process(_frames(images_a, truth_a)))
    alone = [v for v, _ in _filter().process(_frames(images_b, maps_b))]
    after = [v for v, _ in filt.process(_frames(images_b, maps_b))]
    assert all(np.array_equal(a, b) for a, b in zip(alone, after, strict=True))


def test_filter_small_weights():
    values = np.full((4, 4), 1.0, np.float32)
    other = np.full((4, 4), 2.0, np.float32)
    values[0, 0] = 0.0  # a range of 1 around the test values
    config = TemporalFilterConfig(range_sigma=100.0, time_sigma=1e6)
    untrusted = filter_small(values, [(other, np.zeros_like(other))], [1], config)
    np.testing.assert_array_equal(untrusted, values)  # confidence 0: no say
    trusted = filter_small(values, [(other, np.ones_like(other))], [1], config)
    assert trusted[1, 1] == pytest.approx(1.5, abs=1e-3)  # equal weights: the mean
    narrow = filter_small(values, [(other, np.ones_like(other))], [1], TemporalFilterConfig(range_sigma=0.05))
    assert narrow[1, 1] == pytest.approx(1.0, abs=1e-3)  # another surface: ignored
    assert robust_span(np.full((3, 3), np.nan, np.float32)) == 0.0
    np.testing.assert_array_equal(filter_small(np.ones((2, 2), np.float32), [], [], config), np.ones((2, 2)))


@pytest.mark.parametrize("bad", [dict(radius=-1), dict(radius=9), dict(radius=1.5), dict(range_sigma=0.0),
                                 dict(time_sigma=float("nan")), dict(alpha=-1.0), dict(beta=0.0)])
def test_config_is_checked(bad):
    with pytest.raises(ValueError, match="temporal"):
        TemporalFilterConfig(**bad)


def test_the_stabiliser_filters_by_default_and_keeps_its_output_kind():
    images, truth = panning_scene(8)
    noisy = _noisy(truth, seed=4, amount=0.03)
    for kind, to_raw in (("inverse", lambda m: m), ("relative", lambda m: -m), ("metric", lambda m: 1.0 / m)):
        raw = [to_raw(m).astype(np.float32) for m in noisy]
        plain = list(DepthStabiliser(kind, StabiliseConfig(temporal=TemporalFilterConfig(radius=0)))
                     .process(zip(images, raw, strict=True)))
        filtered = list(DepthStabiliser(kind).process(zip(images, raw, strict=True)))
        assert len(filtered) == len(plain) and all(f.dtype == np.float32 for f in filtered)
        if kind == "metric":
            assert min(float(np.nanmin(f)) for f in filtered) > 0  # still a positive distance
        assert _steps(filtered) < _steps(plain)  # less frame-to-frame change


def test_an_emitted_frame_keeps_only_its_small_map():
    """The window holds full-size maps only for frames not yet emitted (9 × 8 MB at 1080p otherwise)."""
    images, truth = panning_scene(10)
    frames = _frames(images, [t.copy() for t in truth])
    for k, _ in enumerate(_filter(TemporalFilterConfig(radius=3)).process(iter(frames))):
        if k < 6:
            assert all(f.full is None for f in frames[:k]) and frames[k].full is not None
