"""engine.metrics.ewarp: E_warp (Lai et al. 2018), its hole-restricted form and fill flicker."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.flow import FlowConfig
from engine.metrics.ewarp import (
    EwarpAccumulator,
    carry_mask,
    fill_flicker,
    hole_pixels,
    motion_boundary,
    non_occluded,
    warp_error,
)

FULL_RES = FlowConfig(preset="medium", working_width=None)
H, W, SPEED = 64, 96, 2  # frames are windows of a wider texture sliding 2 px a frame


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    rng = np.random.default_rng(0)
    tex = cv2.GaussianBlur(rng.random((120, 220, 3)).astype(np.float32), (0, 0), 2.0)
    return (tex - tex.min()) / (tex.max() - tex.min())


def window(texture: np.ndarray, t: int) -> np.ndarray:
    """Frame t: the content moves left by SPEED px a frame (pure translation, exact pixels)."""
    return texture[20 : 20 + H, 10 + SPEED * t : 10 + SPEED * t + W].copy()


def constant_flow(dx: float, dy: float = 0.0, shape: tuple[int, int] = (H, W)) -> np.ndarray:
    return np.broadcast_to(np.array([dx, dy], np.float32), (*shape, 2)).copy()


def test_exact_translation_with_its_true_flow_has_zero_error(texture):
    f0, f1 = window(texture, 0), window(texture, 1)
    flow = constant_flow(-SPEED)  # f0(x) = f1(x - 2)
    valid = np.ones((H, W), bool)
    valid[:, :SPEED] = False  # these pixels have left the frame at t+1
    assert warp_error(f0, f1, flow, valid) == pytest.approx(0.0, abs=1e-12)
    assert warp_error(f0, f1, constant_flow(0.0), valid) > 1e-3  # the wrong flow is seen


def test_pair_error_is_the_per_channel_mean_of_squared_rgb_differences():
    f0 = np.full((8, 8, 3), 0.5, np.float32)
    f1 = f0.copy()
    f1[..., 0] += 0.1  # only red changes
    err = warp_error(f0, f1, constant_flow(0.0, shape=(8, 8)), np.ones((8, 8), bool))
    assert err == pytest.approx(0.01 / 3, rel=1e-5)  # (0.1² + 0 + 0) / 3, as the authors' code divides
    assert warp_error(f0, f1, constant_flow(0.0, shape=(8, 8)), np.zeros((8, 8), bool)) is None
    f1_8 = np.round(f1 * 255).astype(np.uint8)
    f0_8 = np.round(f0 * 255).astype(np.uint8)
    err8 = warp_error(f0_8, f1_8, constant_flow(0.0, shape=(8, 8)), np.ones((8, 8), bool))
    assert err8 == pytest.approx(((f1_8[0, 0, 0] - f0_8[0, 0, 0]) / 255) ** 2 / 3, rel=1e-5)


def test_hole_restriction_picks_only_hole_pixels():
    rng = np.random.default_rng(1)
    f0 = rng.random((20, 30, 3)).astype(np.float32)
    f1 = f0.copy()
    f1[2:6, 2:8] += 0.4  # a large change outside the holes
    f1[10:14, 20:24] += 0.05  # a small change exactly inside the holes
    holes = np.zeros((20, 30), bool)
    holes[10:14, 20:24] = True
    flow, everything = constant_flow(0.0, shape=(20, 30)), np.ones((20, 30), bool)
    in_holes = everything & hole_pixels(holes, np.zeros_like(holes), flow)
    assert warp_error(f0, f1, flow, in_holes) == pytest.approx(0.05**2, rel=1e-4)
    assert warp_error(f0, f1, flow, everything) > 0.05**2


def test_holes_at_t_plus_1_are_carried_along_the_flow():
    holes_t1 = np.zeros((10, 40), bool)
    holes_t1[:, 20:24] = True  # in frame t+1's coordinates
    flow = constant_flow(3.0, shape=(10, 40))  # content moves right 3 px: t(x) ~ t+1(x + 3)
    carried = carry_mask(holes_t1, flow)
    assert np.array_equal(np.flatnonzero(carried[0]), np.arange(17, 21))
    holes_t = np.zeros((10, 40), bool)
    holes_t[:, 2] = True
    union = hole_pixels(holes_t, holes_t1, flow)
    assert np.array_equal(np.flatnonzero(union[5]), [2, 17, 18, 19, 20])
    assert not carry_mask(np.ones((10, 40), bool), flow)[:, -3:].any()  # leaves the frame: not a hole


def test_fill_flicker_counts_pixels_filled_at_both_frames():
    f0 = np.full((10, 10, 3), 0.2, np.float32)
    f1 = f0.copy()
    f1[:, :4] = 0.5  # the fill changed by 0.3 in columns 0..3
    filled_t, filled_t1 = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    filled_t[:, :4], filled_t1[:, 2:6] = True, True  # overlap: columns 2, 3
    flow, valid = constant_flow(0.0, shape=(10, 10)), np.ones((10, 10), bool)
    assert fill_flicker(f0, f1, flow, valid, filled_t, filled_t1) == pytest.approx(0.3, rel=1e-5)
    assert fill_flicker(f0, f1, flow, valid, filled_t, np.zeros_like(filled_t)) is None


def test_occlusion_mask_drops_inconsistent_flow_and_motion_boundaries():
    fw = constant_flow(2.0, shape=(20, 20))
    assert non_occluded(fw, -fw)[:, :-3].all()  # consistent round trip, target inside the frame
    bad_bw = -fw.copy()
    bad_bw[5:10, 5:10] = 4.0  # t+1 -> t does not come back
    assert not non_occluded(fw, bad_bw)[5:10, 3:8].any()
    step = constant_flow(0.0, shape=(20, 20))
    step[:, 10:, 0] = 5.0
    assert np.flatnonzero(motion_boundary(step)[0]).tolist() == [9]
    assert not motion_boundary(fw).any()


def test_consistent_sequence_is_near_zero_and_per_frame_noise_raises_it(texture):
    clean, noisy = EwarpAccumulator(FULL_RES), EwarpAccumulator(FULL_RES)
    rng = np.random.default_rng(2)
    sigma = 0.03
    for t in range(6):
        frame = window(texture, t)
        clean.update(frame)
        noisy.update(np.clip(frame + rng.normal(0, sigma, frame.shape).astype(np.float32), 0, 1))
    c, n = clean.result(), noisy.result()
    assert c["n_frames"] == 6 and c["n_pairs"] == 5 and c["valid_fraction"] > 0.8
    assert c["ewarp"] < 1e-4
    assert n["ewarp"] > 20 * c["ewarp"]
    assert n["ewarp"] == pytest.approx(2 * sigma**2, rel=0.35)  # two independent noises
    assert c["ewarp_holes"] is None and c["fill_flicker"] is None


def test_hole_figures_see_a_flickering_fill_the_overall_figure_dilutes(texture):
    holes = np.zeros((H, W), bool)
    holes[:, :8] = True  # a border strip, as a synthesised eye's disocclusions
    stable, flicker = EwarpAccumulator(FULL_RES), EwarpAccumulator(FULL_RES)
    for t in range(6):
        frame = window(texture, t)
        stable.update(frame, holes)
        bad = frame.copy()
        bad[holes] = np.clip(bad[holes] + (0.15 if t % 2 else -0.15), 0, 1)
        flicker.update(bad, holes)
    s, f = stable.result(), flicker.result()
    assert s["n_hole_pairs"] == 5 and s["n_fill_pairs"] == 5
    assert s["ewarp_holes"] < 1e-4 and s["fill_flicker"] < 0.01
    assert f["ewarp_holes"] > 0.03 and f["ewarp_holes"] > 5 * f["ewarp"]
    assert 0.2 < f["fill_flicker"] <= 0.3 + 1e-6


def test_a_fill_its_own_flow_follows_is_caught_by_a_reference_flow(texture):
    """A region that slides its own way scores low under its own flow; under the scene's flow it
    is what it is, a region that does not move with the scene."""
    holes = np.zeros((H, W), bool)
    holes[16:48, 32:72] = True
    own, common = EwarpAccumulator(FULL_RES), EwarpAccumulator(FULL_RES)
    other = texture[::-1, ::-1].copy()
    for t in range(6):
        scene = window(texture, t)
        wrong = scene.copy()
        wrong[holes] = other[20 : 20 + H, 60 - SPEED * t : 60 - SPEED * t + W][holes]  # slides right
        own.update(wrong, holes)
        common.update(wrong, holes, flow_frame=scene)
    o, c = own.result(), common.result()
    assert c["ewarp_holes"] > 10 * o["ewarp_holes"]
    assert c["ewarp_holes"] > 0.01


def test_accumulator_checks_its_inputs():
    acc = EwarpAccumulator(FULL_RES)
    with pytest.raises(ValueError, match="RGB"):
        acc.update(np.zeros((16, 16), np.uint8))
    acc.update(np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="hole mask"):
        acc.update(np.zeros((16, 16, 3), np.uint8), np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="size changed"):
        acc.update(np.zeros((16, 20, 3), np.uint8))
    with pytest.raises(ValueError, match="every frame"):
        acc.update(np.zeros((16, 16, 3), np.uint8), flow_frame=np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="flow frame must be"):
        acc.update(np.zeros((16, 16, 3), np.uint8), flow_frame=np.zeros((8, 16, 3), np.uint8))
    assert acc.result()["ewarp"] is None and acc.result()["n_frames"] == 1


def test_real_footage_ranks_below_its_noisy_and_flickering_versions():
    """DAVIS rollercoaster (fast camera motion): with the flow following real motion, E_warp of the
    clip stays low, and per-frame noise or a per-frame brightness flicker raise it."""
    from engine.media import open_media
    from tests.support.data import shared_data

    path = shared_data("mono_videos", "davis_rollercoaster.mp4")
    with open_media(path) as reader:
        frames = [cv2.resize(f.image, (320, 180), interpolation=cv2.INTER_AREA) for f in reader.frames(0, 6)]
    rng = np.random.default_rng(3)
    accs = {name: EwarpAccumulator(FULL_RES) for name in ("real", "noisy", "flicker")}
    for t, frame in enumerate(frames):
        accs["real"].update(frame)
        accs["noisy"].update(np.clip(frame + rng.normal(0, 8, frame.shape), 0, 255).astype(np.uint8))
        gain = 1.06 if t % 2 else 0.94
        accs["flicker"].update(np.clip(frame * gain, 0, 255).astype(np.uint8))
    real, noisy, flicker = (accs[k].result() for k in ("real", "noisy", "flicker"))
    assert real["ewarp"] < 0.005 and real["valid_fraction"] > 0.5
    assert noisy["ewarp"] > real["ewarp"] + (8 / 255) ** 2  # at least the added noise's variance more
    assert flicker["ewarp"] > 2 * real["ewarp"]
