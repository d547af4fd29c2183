"""engine.metrics.depth_flicker: ~0 for consistent depth, scale-free, sees per-frame jitter, spread guard."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.metrics.depth_flicker import depth_flicker, depth_flicker_many, mean_frame_spread, pair_flicker


def panning(n: int = 6, h: int = 64, w: int = 96,
            speed: float = 1.5) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of a textured scene panning sideways and inverse depth that moves with it."""
    rng = np.random.default_rng(0)
    big = w + int(n * speed) + 4
    texture = cv2.GaussianBlur(rng.random((h, big), dtype=np.float32), (0, 0), 1.2)
    texture = (texture - texture.min()) / np.ptp(texture) * 255
    depth = 1.0 + cv2.GaussianBlur(rng.random((h, big), dtype=np.float32), (0, 0), 5.0) * 20
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    frames, depths = [], []
    for t in range(n):
        grey = cv2.remap(texture, xs + speed * t, ys, cv2.INTER_LINEAR).astype(np.uint8)
        frames.append(np.repeat(grey[..., None], 3, axis=2))
        depths.append(cv2.remap(depth, xs + speed * t, ys, cv2.INTER_LINEAR))
    return frames, depths


def test_consistent_depth_barely_flickers_and_jitter_does():
    frames, depths = panning()
    rng = np.random.default_rng(1)
    jittered = [d * np.float32(rng.uniform(0.7, 1.3)) + np.float32(rng.uniform(-0.3, 0.3)) for d in depths]
    result = depth_flicker_many(frames, {"steady": depths, "jittered": jittered}, "inverse")
    assert result["steady"] < 0.01
    assert result["jittered"] > 5 * result["steady"]
    assert depth_flicker(frames, iter(depths), "inverse") == pytest.approx(result["steady"])


def test_flicker_is_scale_free_and_kind_aware():
    frames, depths = panning()
    rng = np.random.default_rng(2)
    wobbly = [d + rng.normal(0, 0.3, d.shape).astype(np.float32) for d in depths]
    base = depth_flicker(frames, wobbly, "inverse")
    assert depth_flicker(frames, [7.0 * d - 3.0 for d in wobbly], "inverse") == pytest.approx(base, rel=1e-3)
    assert depth_flicker(frames, [-d for d in wobbly], "relative") == pytest.approx(base, rel=1e-3)
    assert depth_flicker(frames, [1.0 / d for d in wobbly], "metric") == pytest.approx(base, rel=0.05)


def test_pair_flicker_counts_only_confident_valid_pixels():
    a = np.zeros((4, 4), np.float32)
    b = np.full((4, 4), 0.5, np.float32)
    b[0, 0] = np.nan
    flow = np.zeros((4, 4, 2), np.float32)
    confident = np.ones((4, 4), bool)
    confident[3] = False
    assert pair_flicker(a, b, flow, confident) == pytest.approx(0.5)
    assert pair_flicker(a, b, flow, np.zeros((4, 4), bool)) is None


def test_spread_flags_a_range_dominated_by_a_few_frames():
    frames, depths = panning()
    assert mean_frame_spread(depths, "inverse") > 0.5
    runaway = [d * np.float32(10.0 ** (3 * t)) for t, d in enumerate(depths)]  # scale explodes frame by frame
    assert mean_frame_spread(runaway, "inverse") < 0.25


def test_bad_input_is_refused():
    frames, depths = panning(3)
    with pytest.raises(ValueError, match="2 depth maps for 3 frames"):
        depth_flicker(frames, depths[:2], "inverse")
    with pytest.raises(ValueError, match="at least 2 frames"):
        depth_flicker(frames[:1], depths[:1], "inverse")
    with pytest.raises(ValueError, match="never normalised"):
        depth_flicker(frames, depths, "disparity-px")
