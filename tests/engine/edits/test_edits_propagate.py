"""Propagation: a stroke follows a moving object through chained flow, fades behind an occluder, stops
at a cut, and strokes of one region painted on several frames blend by temporal distance."""

from __future__ import annotations

import numpy as np
import pytest

from engine.dvg.fields import PairFlow
from engine.edits import Weight, stroke_weight
from engine.edits.propagate import carry, pull_weight, temporal_blend


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def painted(clip, k: int, radius=20.0, softness=8.0) -> Weight:
    x, y = clip.object_xy(k)
    h, w = clip.shape
    return stroke_weight([(x + 30.0, y + 30.0)], radius, softness, (w, h), (h, w))


def reference(clip, weight: Weight, k: int, t: int) -> np.ndarray:
    """Where the painted weight is on frame t if it sticks to the object (and is not behind the bar)."""
    dx, dy = clip.step[0] * (t - k), clip.step[1] * (t - k)
    moved = np.roll(np.roll(weight.dense(), dx, 1), dy, 0)
    return moved * clip.visible[t]


def test_paint_stroke_follows_the_moving_object(moving_clip, moving_pairs):
    k = 8
    w = painted(moving_clip, k)
    carried = carry(w, k, 0, 21, moving_pairs)
    assert (carried.first, carried.last) == (0, 20) and carried.notes == ()
    ious, still = [], []
    for t in range(0, 21):
        ref = reference(moving_clip, w, k, t) > 0.5
        ious.append(iou(carried.at(t, w.shape).dense() > 0.5, ref))
        still.append(iou(w.dense() > 0.5, ref))  # the stroke left where it was painted
    assert min(ious) > 0.9  # measured 0.93-1.00
    assert np.mean([s for i, s in enumerate(still) if abs(i - k) >= 8]) < 0.05


def test_paint_stroke_fades_behind_the_occluder(moving_clip, moving_pairs):
    k = 2
    w = painted(moving_clip, k)
    carried = carry(w, k, 0, len(moving_clip.frames), moving_pairs)
    masses = {t: carried.at(t, w.shape).mass for t in range(k, 30)}
    refs = {t: reference(moving_clip, w, k, t).sum() for t in range(k, 30)}
    assert masses[19] > 0.95 * w.mass  # still in the open
    assert masses[25] < 0.5 * w.mass  # half behind the bar: faded with it
    assert carried.last < 29 and "collapsed" in carried.notes[0]
    bar = slice(*moving_clip.bar)
    for t in range(k, carried.last + 1):
        dense = carried.at(t, w.shape).dense()
        assert dense[:, bar].sum() < 0.05 * max(refs[t], 1.0) + 0.05 * w.mass  # nothing painted on the bar


def test_paint_stroke_stops_at_a_cut(moving_clip, moving_pairs):
    h, w = moving_clip.shape
    zero = np.zeros((h // 2, w // 2, 2), np.float32)
    ones = np.ones((h // 2, w // 2), np.float32)

    def pairs(j):
        if j == 12:
            return PairFlow(zero, zero, ones, ones, 0.01)
        return moving_pairs(j)

    k = 8
    carried = carry(painted(moving_clip, k), k, 0, 20, pairs)
    assert carried.last == 12 and carried.first == 0
    assert "do not match" in carried.notes[0]


def test_paint_pull_weight_along_a_uniform_flow():
    weight = stroke_weight([(40.0, 30.0)], 6, 2, (80, 60), (60, 80))
    flow = np.zeros((30, 40, 2), np.float32)
    flow[..., 0] = 5.0  # working px at half size: frame t's x is at x + 10 (full px) on frame k
    pulled = pull_weight(weight, flow, np.ones((30, 40), np.float32))
    assert pulled.centroid() == pytest.approx((30.0, 30.0), abs=0.05)
    assert pulled.mass == pytest.approx(weight.mass, rel=1e-3)
    half = pull_weight(weight, flow, np.full((30, 40), 0.5, np.float32))
    assert half.mass == pytest.approx(0.5 * weight.mass, rel=1e-3)
    assert pull_weight(weight, flow, np.zeros((30, 40), np.float32)).is_empty


def test_paint_strokes_on_two_frames_blend_by_temporal_distance():
    a = stroke_weight([(40.0, 30.0)], 10, 0, (80, 60), (60, 80))
    b = stroke_weight([(44.0, 30.0)], 10, 0, (80, 60), (60, 80))
    lone = stroke_weight([(5.0, 5.0)], 3, 0, (80, 60), (60, 80))
    out = temporal_blend([10, 30, 50], [a, b, lone], 15)
    both = (a.dense() > 0) & (b.dense() > 0)
    assert np.allclose(out[0].dense()[both], 0.75) and np.allclose(out[1].dense()[both], 0.25)
    only_a = (a.dense() > 0) & (b.dense() == 0)
    assert np.all(out[0].dense()[only_a] == 1.0)
    assert np.array_equal(out[2].dense(), lone.dense())
    on_b = temporal_blend([10, 30], [a, b], 30)
    assert np.all(on_b[0].dense()[both] == 0) and np.all(on_b[1].dense()[both] == 1)
    after = temporal_blend([10, 30], [a, b], 40)  # past both: the nearest one applies fully
    assert np.all(after[0].dense()[both] == 0) and np.all(after[1].dense()[both] == 1)
    same = temporal_blend([10, 10], [a, b], 20)  # painted on one frame: both apply as painted
    assert np.array_equal(same[0].dense(), a.dense()) and np.array_equal(same[1].dense(), b.dense())
