"""Working-resolution flow: chaining, cut detection, and carrying flow into the target view."""

import numpy as np
import pytest
import torch

from engine.dvg import carry_to_target, compose, pair_flow, source_motion
from engine.dvg.fields import FLOW_MARGIN_PX
from engine.flow import FlowConfig, FlowEstimator, to_gray


def _const_flow(h, w, u, v, conf=1.0):
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0], flow[..., 1] = u, v
    return flow, np.full((h, w), conf, np.float32)


def _gray(like):
    """A flat grey frame: brightness constancy holds for every flow."""
    return np.full(like.shape, 128, np.uint8)


def test_compose_adds_translations_and_multiplies_confidence():
    h, w = 20, 30
    a = _const_flow(h, w, 2.0, -1.0, 1.0)
    b = _const_flow(h, w, 3.0, 0.5, 1.0)
    b[1][:, 25:] = 0.0  # b is not confident on the right
    flow, conf = compose(a, b)
    assert np.allclose(flow[..., 0], 5.0) and np.allclose(flow[..., 1], -0.5)
    assert np.all(conf[5:15, 5:20] == 1.0)
    assert np.all(conf[5:15, 24:28] == 0.0)  # x + 2 lands where b is not confident
    assert np.all(conf[:, 28:] == 0.0)  # lands outside b


def test_pair_flow_tracks_a_pan_and_flags_a_cut(make_clip):
    clip = make_clip(frames=2, bg_speed=2, fg_speed=2)
    est = FlowEstimator(FlowConfig())
    gray = [to_gray(im[0].permute(1, 2, 0).numpy()) for im in clip.images]
    pan = pair_flow(est, gray[0], gray[1], 0.01, 0.5, False)
    inner = (slice(10, -10), slice(10, -10))
    assert abs(float(np.median(pan.forward[inner][..., 0])) - 2.0) < 0.25
    assert abs(float(np.median(pan.backward[inner][..., 0])) + 2.0) < 0.25
    assert pan.matched_fraction > 0.8
    other = make_clip(frames=1, seed=9, fg_box=(10, 50, 20))
    cut = pair_flow(est, gray[0], to_gray(other.images[0][0].permute(1, 2, 0).numpy()), 0.01, 0.5, False)
    assert cut.matched_fraction < 0.2


def test_target_flow_follows_disparity_change_and_screen_flow_does_not():
    """A surface approaching (d 2 -> 3) while moving 1 px right: in the right view (s = 1) its
    points move by 1 - (3 - 2) = 0 px; the screen flow stays the source flow."""
    h, w = 16, 40
    flow = _const_flow(h, w, 1.0, 0.0)
    d_t = np.full((h, w), 2.0, np.float32)
    d_k = np.full((h, w), 3.0, np.float32)
    gray = _gray(d_t)
    for scale, expected in ((1.0, 0.0), (-1.0, 2.0), (0.5, 0.5)):
        fields = carry_to_target(source_motion([flow], d_t, [d_k], gray, [gray]), d_t, scale, 1.0)
        inner = fields.fill[0, :, :, 8:-8]
        assert torch.allclose(inner[0], torch.tensor(expected)), scale
        assert torch.allclose(fields.propagate([0])[0, 0, :, 8:-8], torch.tensor(1.0))
        assert torch.allclose(inner[2], torch.tensor(1.0))


def test_holes_take_the_background_flow_beyond_the_motion_boundary():
    """Foreground (d 10) moving -3 px, background (d 2) +1 px; DIS-like smear: background flow
    within 4 px of the foreground is dragged to -1. The right-view hole must carry +1 and the
    background's confidence, read past the smear; the guide holds the background disparity."""
    h, w = 6, 64
    d = np.full((h, w), 2.0, np.float32)
    d[:, 20:30] = 10.0
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0] = 1.0
    flow[:, 20:30, 0] = -3.0
    flow[:, 30:34, 0] = -1.0  # smeared background next to the edge
    conf = np.ones((h, w), np.float32)
    d_k = np.full((h, w), 2.0, np.float32)
    d_k[:, 17:27] = 10.0  # the foreground 3 px further left in frame k
    fields = carry_to_target(source_motion([(flow, conf)], d, [d_k], _gray(d), [_gray(d)]), d, 1.0, 1.0)
    # right view: foreground lands on 10..19, background from x = 30 on 28.., hole 20..27
    hole = slice(20, 28)
    assert torch.allclose(fields.fill[0, 0, :, hole], torch.tensor(1.0))
    assert torch.allclose(fields.propagate([0])[0, 0, :, hole], torch.tensor(1.0))
    assert torch.all(fields.fill[0, 2, :, hole] == 1.0)
    assert torch.all(fields.guide[:, hole] == 2.0)
    assert torch.allclose(fields.fill[0, 0, :, 10:20], torch.tensor(-3.0))  # the foreground keeps its own
    assert FLOW_MARGIN_PX > 4


@pytest.mark.parametrize(("beyond", "last_column"), [(0.0, 23), (3.5, 21)])
def test_a_background_too_narrow_for_the_margin_stops_at_its_edge(beyond, last_column):
    """A 4-px background strip right of the foreground, then a layer at `beyond`: the walk stops
    at a hole (d 0 opens one after the strip) or at a disparity step (d 3.5 covers its end)."""
    h, w = 4, 40
    d = np.full((h, w), 2.0, np.float32)
    d[:, 10:20] = 10.0
    d[:, 24:] = beyond
    flow = np.zeros((h, w, 2), np.float32)
    flow[:, :, 0] = np.arange(w, dtype=np.float32)  # screen flow = source column: shows where it was read
    conf = np.ones((h, w), np.float32)
    fields = carry_to_target(source_motion([(flow, conf)], d, [d], _gray(d), [_gray(d)]), d, 1.0, 1.0)
    assert torch.all(fields.propagate([0])[0, 0, :, 10:18] == last_column)


@pytest.mark.parametrize("soft", [False, True])
def test_consistency_is_engine_flow_as_float32(soft):
    from engine.dvg.fields import fb_confidence
    from engine.flow import fb_confidence as reference

    g = np.random.default_rng(3)
    fw = np.zeros((40, 60, 2), np.float32)
    fw[..., 0] = 2.5
    fw[..., 1] = -1.25
    bw = (-fw + g.standard_normal((40, 60, 2)) * 0.6).astype(np.float32)
    ours = fb_confidence(fw, bw, 0.01, 0.5, soft)
    ref = reference(fw, bw, 0.01, 0.5, soft).astype(np.float32)
    assert ours.dtype == np.float32
    assert np.array_equal(ours, ref)
    assert 0.05 < float((ref >= 0.5).mean()) < 0.95  # both outcomes occur
    if not soft:
        assert set(np.unique(ours).tolist()) <= {0.0, 1.0}


def test_brightness_constancy_travels_without_the_consistency():
    """Where the forward-backward test fails the fill's confidence is 0, but the match channel still says
    whether the flow lands on the same grey level (the carried fallback's confidence)."""
    h, w = 12, 40
    flow, conf = _const_flow(h, w, 1.0, 0.0, conf=0.0)
    d = np.full((h, w), 2.0, np.float32)
    same = carry_to_target(source_motion([(flow, conf)], d, [d], _gray(d), [_gray(d)]), d, 1.0, 1.0)
    inner = (slice(None), slice(8, -8))
    assert torch.all(same.fill[0, 2][inner] == 0.0)
    assert torch.all(same.match[0][inner] == 1.0)
    fallback = same.brightness_constant(0)
    assert fallback.shape == (3, h, w)
    assert torch.equal(fallback[:2], same.fill[0, :2]) and torch.equal(fallback[2], same.match[0])
    darker = np.full((h, w), 60, np.uint8)
    other = carry_to_target(source_motion([(flow, conf)], d, [d], _gray(d), [darker]), d, 1.0, 1.0)
    assert torch.all(other.match[0][inner] == 0.0)
