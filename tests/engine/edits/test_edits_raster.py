"""Stroke rasterisation: weights at known distances, any eye size, sparse crops, empty cases."""

from __future__ import annotations

import numpy as np
import pytest

from engine.edits.raster import Weight, falloff, polyline_distance, stroke_weight


def test_stroke_dab_weight_by_distance():
    w = stroke_weight([(50.0, 40.0)], radius=10, softness=5, source_size=(100, 80), shape=(80, 100)).dense()
    assert w[40, 50] == 1.0 and w[40, 60] == 1.0  # on the centre and exactly at the radius
    assert w[40, 65] == 0.0 and w[40, 70] == 0.0  # at the footprint's edge and beyond
    assert w[40, 62] == pytest.approx(1 - (0.4**2 * (3 - 0.8)), abs=1e-6)  # smoothstep at 2/5 of the edge
    assert np.all(np.diff(w[40, 50:70]) <= 0)


def test_stroke_polyline_covers_segment_and_caps():
    w = stroke_weight([(20.0, 20.0), (80.0, 20.0)], 4, 0, (100, 50), (50, 100)).dense()
    assert w[20, 20:81].min() == 1.0 and w[24, 50] == 1.0 and w[25, 50] == 0.0
    assert w[20, 84] == 1.0 and w[20, 85] == 0.0  # round cap at the end point
    assert w.sum() == pytest.approx(60 * 9 + np.pi * 16, rel=0.05)


def test_stroke_at_half_eye_size_matches_source_geometry():
    full = stroke_weight([(101.5, 61.5)], 20, 10, (200, 120), (120, 200)).dense()
    half = stroke_weight([(101.5, 61.5)], 20, 10, (200, 120), (60, 100)).dense()
    # Each half-size pixel centre sits on a full-size pixel corner: same distance rule, 1/4 of the area.
    assert half.sum() == pytest.approx(full.sum() / 4, rel=0.02)
    # Source (101.5, 61.5) is half-size pixel ((101.5 + 0.5) / 2 - 0.5, (61.5 + 0.5) / 2 - 0.5).
    assert Weight.from_dense(half).centroid() == pytest.approx((50.5, 30.5), abs=0.05)


def test_stroke_weight_is_sparse_and_round_trips():
    w = stroke_weight([(10.0, 10.0)], 3, 2, (64, 64), (64, 64))
    assert w.crop.shape[0] <= 11 and w.crop.shape[1] <= 11
    dense = w.dense()
    again = Weight.from_dense(dense)
    assert np.array_equal(again.dense(), dense)
    assert w.centroid() == pytest.approx((10.0, 10.0), abs=1e-6)


@pytest.mark.parametrize("points,radius", [([(500.0, 500.0)], 5), ([(-30.0, -30.0)], 10), ([(10.0, 10.0)], 0)])
def test_stroke_outside_frame_or_zero_radius_is_empty(points, radius):
    w = stroke_weight(points, radius, 4, (100, 100), (50, 50))
    assert w.is_empty and w.mass == 0.0 and w.dense().shape == (50, 50) and w.centroid() is None


def test_stroke_partly_outside_is_clipped():
    w = stroke_weight([(0.0, 0.0)], 10, 0, (100, 100), (100, 100))
    assert w.y0 == 0 and w.x0 == 0 and w.dense()[0, 0] == 1.0
    lattice = sum(1 for x in range(11) for y in range(11) if x * x + y * y <= 100)  # pixels of the quarter disc
    assert w.mass == lattice


def test_stroke_rejects_bad_points():
    with pytest.raises(ValueError, match="finite"):
        stroke_weight([(np.nan, 1.0)], 5, 0, (10, 10), (10, 10))
    with pytest.raises(ValueError, match="softness"):
        stroke_weight([(1.0, 1.0)], 5, -1, (10, 10), (10, 10))


def test_stroke_distance_and_falloff_primitives():
    d = polyline_distance(np.array([0.0, 5.0, 13.0]), np.array([4.0]), np.array([[0.0, 0.0], [10.0, 0.0]]))
    assert d[0].tolist() == pytest.approx([4.0, 4.0, 5.0])
    assert falloff(np.array([0.0, 2.0, 3.0, 9.0]), 2.0, 0.0).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert falloff(np.array([2.0, 3.0, 4.0]), 2.0, 2.0).tolist() == pytest.approx([1.0, 0.5, 0.0])
