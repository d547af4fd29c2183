"""Depth edits on δ: each kind against its formula, creation order, clamping, NaN, untouched outside."""

from __future__ import annotations

import numpy as np
import pytest

from engine.edits import Edit, Weight, apply_edits, edge_aware_blur, stroke_weight

H, W = 60, 80


def dab(x=40.0, y=30.0, radius=8.0, softness=6.0) -> Weight:
    return stroke_weight([(x, y)], radius, softness, (W, H), (H, W))


def ramp() -> np.ndarray:
    return np.tile(np.linspace(0.1, 0.9, W, dtype=np.float32), (H, 1))


def test_edits_push_is_offset_by_weight_and_leaves_outside_bit_identical():
    delta, w = ramp(), dab()
    out = apply_edits(delta, [Edit("push", w, amount=0.05)])
    dense = w.dense()
    assert np.allclose(out, delta + np.float32(0.05) * dense, atol=1e-7)
    assert np.array_equal(out[dense == 0], delta[dense == 0])
    assert delta[30, 40] == ramp()[30, 40]  # the input is not modified


def test_edits_push_pull_clamps_to_unit_range_inside_only():
    delta = np.full((H, W), 0.5, np.float32)
    delta[0, 0] = 1.5  # out of range, outside the stroke: left as it is
    far = apply_edits(delta, [Edit("push", dab(), amount=0.8)])
    near = apply_edits(delta, [Edit("push", dab(), amount=-0.8)])
    assert far[30, 40] == 1.0 and near[30, 40] == 0.0
    assert far[0, 0] == 1.5 and near[0, 0] == 1.5


def test_edits_flatten_moves_to_the_weighted_mean_of_pre_edit_depth():
    delta, w = ramp(), dab()
    dense = w.dense()
    mean = float((dense * delta).sum(dtype=np.float64) / dense.sum(dtype=np.float64))
    out = apply_edits(delta, [Edit("flatten", w, amount=1.0)])
    core = dense == 1
    assert np.allclose(out[core], mean, atol=1e-6)
    assert np.allclose(out, delta + dense * (mean - delta), atol=1e-6)
    half = apply_edits(delta, [Edit("flatten", w, amount=0.5)])
    assert np.allclose(half[core], delta[core] + 0.5 * (mean - delta[core]), atol=1e-6)


def test_edits_flatten_after_push_uses_the_pushed_depth():
    delta, w = ramp(), dab()
    pushed = apply_edits(delta, [Edit("push", w, amount=0.1)])
    dense = w.dense()
    mean = float((dense * pushed).sum(dtype=np.float64) / dense.sum(dtype=np.float64))
    out = apply_edits(delta, [Edit("push", w, amount=0.1), Edit("flatten", w, amount=1.0)])
    assert np.allclose(out[dense == 1], mean, atol=1e-6)


def test_edits_set_goes_to_value_by_weight_and_order_matters():
    delta, w = ramp(), dab(softness=0)
    core = w.dense() == 1
    out = apply_edits(delta, [Edit("set", w, amount=1.0, value=0.25)])
    assert np.all(out[core] == np.float32(0.25))
    a = apply_edits(delta, [Edit("set", w, value=0.25), Edit("push", w, amount=0.1)])
    b = apply_edits(delta, [Edit("push", w, amount=0.1), Edit("set", w, value=0.25)])
    assert np.allclose(a[core], 0.35) and np.allclose(b[core], 0.25)


def test_edits_smooth_denoises_and_keeps_the_image_edge():
    rng = np.random.default_rng(0)
    delta = (0.5 + rng.normal(0, 0.05, (H, W))).astype(np.float32)
    w = dab(radius=20, softness=4)
    core = w.dense() == 1
    out = apply_edits(delta, [Edit("smooth", w, amount=1.0, blur_radius=5)])
    assert out[core].std() < delta[core].std() / 3
    assert abs(out[core].mean() - delta[core].mean()) < 0.01
    flat_image = np.full((H, W), 128, np.uint8)  # the frame shows no edge there: noise in δ is averaged away
    guided = apply_edits(delta, [Edit("smooth", w, amount=1.0, blur_radius=5)], guide=flat_image)
    assert guided[core].std() < delta[core].std() / 3
    # A depth step that is also an image edge survives an edge-aware smooth.
    step = np.where(np.arange(W)[None, :] < 40, 0.2, 0.8).astype(np.float32).repeat(H, 0)
    image = np.where(step > 0.5, 230, 20).astype(np.uint8)
    smoothed = apply_edits(step, [Edit("smooth", w, amount=1.0, blur_radius=5)], guide=image)
    assert np.abs(smoothed - step).max() < 0.02


def test_edits_nan_stays_unknown_and_is_left_out_of_flatten():
    delta, w = ramp(), dab(softness=0)
    delta[30, 40] = np.nan
    dense = w.dense()
    ok = (dense > 0) & np.isfinite(delta)
    mean = float(delta[ok].mean(dtype=np.float64))
    out = apply_edits(delta, [Edit("flatten", w)])
    assert np.isnan(out[30, 40])
    assert np.allclose(out[ok], mean, atol=1e-6)
    smoothed = apply_edits(delta, [Edit("smooth", w)])
    assert np.isnan(smoothed[30, 40]) and np.isfinite(smoothed[ok]).all()
    blurred = edge_aware_blur(delta, 3)
    assert np.isnan(blurred[30, 40]) and np.isfinite(blurred[ok]).all()


def test_edits_empty_and_mismatched_weights():
    delta = ramp()
    assert apply_edits(delta, []) is delta
    assert apply_edits(delta, [Edit("push", Weight.empty((H, W)), amount=0.3)]) is delta
    with pytest.raises(ValueError, match="differ in size"):
        apply_edits(delta, [Edit("push", stroke_weight([(5.0, 5.0)], 3, 0, (W, H), (30, 40)))])
    with pytest.raises(ValueError, match="kind"):
        Edit("blur", dab())
