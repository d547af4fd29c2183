"""engine.flow: DIS flow recovers a known shift, FB consistency flags occlusions, warps round-trip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.flow import FlowConfig, FlowEstimator, compute_flow, fb_confidence, to_gray, warp_backward


def texture(h: int, w: int, seed: int = 0, blur: float = 2.0) -> np.ndarray:
    """(h, w) float32 smooth random texture in [0, 1]."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), blur)
    return (t - t.min()) / (t.max() - t.min())


def shifted(tex: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """out(x) = tex(x - (dx, dy)): the content moves by (+dx, +dy)."""
    h, w = tex.shape
    mx = (np.arange(w, dtype=np.float32)[None, :] - dx).repeat(h, 0)
    my = (np.arange(h, dtype=np.float32)[:, None] - dy).repeat(w, 1)
    return cv2.remap(tex, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def to_rgb8(gray: np.ndarray) -> np.ndarray:
    return np.repeat((gray * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)


@pytest.mark.parametrize("working_width", [None, 160])
def test_translation_recovered(working_width):
    shift = (3.4, -2.2)
    tex = texture(240, 320)
    src, dst = to_rgb8(tex), to_rgb8(shifted(tex, *shift))
    flow = compute_flow(src, dst, FlowConfig(preset="medium", working_width=working_width))
    assert flow.shape == (240, 320, 2) and flow.dtype == np.float32
    inner = flow[30:-30, 30:-30]
    err = np.abs(inner - np.array(shift, np.float32))
    assert np.median(err) < 0.2
    assert np.percentile(err, 90) < 0.4


def test_to_gray_bit_depths():
    rgb8 = np.full((4, 5, 3), 200, np.uint8)
    rgb16 = rgb8.astype(np.uint16) * 257
    assert to_gray(rgb8).dtype == np.uint8 and to_gray(rgb8).shape == (4, 5)
    np.testing.assert_array_equal(to_gray(rgb8), 200)
    np.testing.assert_array_equal(to_gray(rgb16), 200)
    np.testing.assert_array_equal(to_gray(np.full((4, 5), 0.5, np.float32)), 128)
    with pytest.raises(ValueError):
        to_gray(np.zeros((4, 5, 2), np.uint8))


def moving_square(shift: int) -> tuple[np.ndarray, np.ndarray]:
    """A textured square moving right by `shift` px over a static textured background."""
    bg = texture(160, 200, seed=1, blur=3.0)
    fg = texture(160, 200, seed=2, blur=3.0)
    a, b = bg.copy(), bg.copy()
    a[50:110, 60:120] = fg[50:110, 60:120]
    b[50:110, 60 + shift:120 + shift] = fg[50:110, 60:120]
    return to_rgb8(a), to_rgb8(b)


def test_fb_confidence_translation_and_occlusion():
    est = FlowEstimator(FlowConfig(preset="medium", working_width=None))
    tex = texture(160, 200, seed=3)
    a, b = to_rgb8(tex), to_rgb8(shifted(tex, 2.0, 1.0))
    fw, bw = est.flow(a, b), est.flow(b, a)
    conf = fb_confidence(fw, bw)
    assert conf.dtype == bool and conf[20:-20, 20:-20].mean() > 0.98
    soft = fb_confidence(fw, bw, soft=True)
    assert soft.dtype == np.float32 and soft.min() >= 0.0 and soft.max() <= 1.0
    assert soft[20:-20, 20:-20].mean() > 0.9

    a, b = moving_square(12)
    fw, bw = est.flow(a, b), est.flow(b, a)
    conf = fb_confidence(fw, bw)
    # Background in frame A right of the square (x in [120, 132)) is covered in B: occluded.
    occluded = conf[60:100, 122:130].mean()
    static = conf[60:100, 10:40].mean()
    on_square = conf[60:100, 70:105].mean()
    assert occluded < 0.3
    assert static > 0.95 and on_square > 0.9
    soft = fb_confidence(fw, bw, soft=True)
    assert soft[60:100, 122:130].mean() < 0.4 < soft[60:100, 10:40].mean()


def test_fb_confidence_target_outside_image():
    fw = np.zeros((20, 30, 2), np.float32)
    fw[:, :, 0] = 5.0
    bw = -fw
    conf = fb_confidence(fw, bw)
    assert conf[:, :24].all() and not conf[:, 26:].any()


def test_warp_backward_round_trip():
    tex = texture(120, 160, seed=4)
    shift = (2.5, -1.5)
    moved = shifted(tex, *shift)
    flow = np.broadcast_to(np.array(shift, np.float32), (120, 160, 2)).copy()
    back = warp_backward(moved, flow)
    np.testing.assert_allclose(back[10:-10, 10:-10], tex[10:-10, 10:-10], atol=0.02)
    rgb = to_rgb8(moved)
    back_rgb = warp_backward(rgb, flow)
    assert back_rgb.shape == rgb.shape and back_rgb.dtype == np.uint8
    nan_out = warp_backward(moved, flow * 100, border=cv2.BORDER_CONSTANT, border_value=np.nan)
    assert np.isnan(nan_out).all()
    with pytest.raises(ValueError):
        warp_backward(moved, flow[:10])


def test_estimator_reused_and_sizes_checked():
    est = FlowEstimator(FlowConfig(preset="ultrafast", working_width=64))
    tex = to_rgb8(texture(90, 120, seed=5))
    assert est.flow(tex, tex).shape == (90, 120, 2)
    assert np.abs(est.flow(tex, tex)).max() < 0.5
    with pytest.raises(ValueError):
        est.flow(tex, tex[:80])
    with pytest.raises(ValueError):
        FlowConfig(preset="slow")


def test_dis_never_crashes_on_tiny_or_flat_frames():
    """Sizes that segfaulted or asserted inside OpenCV's DIS (run in a child: a crash must not kill pytest)."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from engine.flow.dis import FlowConfig, FlowEstimator\n"
        "for w, h in [(1, 1), (2, 2), (11, 40), (100, 28), (100, 8), (640, 8), (480, 4), (4, 480), (3000, 20),\n"
        "             (48, 10), (160, 12), (1920, 540)]:\n"
        "    for preset in ('ultrafast', 'fast', 'medium'):\n"
        "        est = FlowEstimator(FlowConfig(preset=preset, working_width=None))\n"
        "        a = np.random.default_rng(w * h).integers(0, 255, (h, w), dtype=np.uint8)\n"
        "        f = est.flow_small(a, np.roll(a, 1, axis=1))\n"
        "        assert f.shape == (h, w, 2) and np.isfinite(f).all(), (w, h, preset)\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-500:])


def test_padded_flow_still_finds_the_motion():
    from engine.flow.dis import FlowEstimator, dis_safe_size

    assert dis_safe_size(100, 8) == (100, 50) and dis_safe_size(640, 480) == (640, 480)
    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (24, 220), dtype=np.uint8), (5, 5), 1.5)
    a, b = texture[:, 10:210], texture[:, 8:208]  # b is a moved 2 px to the right
    flow = FlowEstimator(FlowConfig(preset="medium", working_width=None)).flow_small(a, b)
    assert flow.shape == (24, 200, 2)
    assert abs(np.median(flow[4:-4, 20:-20, 0]) - 2.0) < 0.5
