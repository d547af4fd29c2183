import pytest

from engine.document import DepthCurve, Grade, Keyframe, StereoParams, Track


def test_defaults_follow_conventions():
    p = StereoParams()
    assert p.divergence == 3.0
    assert p.convergence == pytest.approx(1 / 3)
    assert p.curve == DepthCurve(0.0, 1.0, 1.0) and p.curve.is_identity
    near, far = p.parallax_range_pct()
    assert near == pytest.approx(-1.0) and far == pytest.approx(2.0)


def test_linear_interpolation_and_hold_outside():
    t = Track((Keyframe(10, 2.0), Keyframe(20, 4.0)))
    assert t.value_at(0, 9.0) == 2.0 and t.value_at(15, 9.0) == pytest.approx(3.0) and t.value_at(25, 9.0) == 4.0
    assert Track().value_at(5, 9.0) == 9.0


def test_hold_and_smooth_segments():
    hold = Track((Keyframe(0, 2.0, "hold"), Keyframe(10, 4.0)))
    assert hold.value_at(9, 0) == 2.0 and hold.value_at(10, 0) == 4.0
    smooth = Track((Keyframe(0, 2.0, "smooth"), Keyframe(10, 4.0)))
    assert smooth.value_at(5, 0) == pytest.approx(3.0)
    assert smooth.value_at(1, 0) < 2.0 + 0.2 * 1  # eases in slower than linear


def test_tracks_are_independent():
    g = Grade(divergence=Track((Keyframe(0, 2.0), Keyframe(10, 4.0))), convergence=Track((Keyframe(5, 0.5),)),
              gamma=Track((Keyframe(0, 1.0), Keyframe(10, 2.0, "hold"))))
    p = g.at(5)
    assert p.divergence == pytest.approx(3.0) and p.convergence == 0.5
    assert p.curve.gamma == pytest.approx(1.5) and p.curve.near == 0.0 and p.curve.far == 1.0
    assert g.keyed_frames() == (0, 5, 10)


def test_constant_grade_keys_d_and_c_and_a_non_identity_curve():
    g = Grade.constant(StereoParams(2.0, 0.25), frame=7)
    assert g.divergence.frames == (7,) and g.near.frames == () and g.at(100) == StereoParams(2.0, 0.25)
    curved = Grade.constant(StereoParams(2.0, 0.25, DepthCurve(0.1, 0.8, 0.5)))
    assert curved.at(3).curve == DepthCurve(0.1, 0.8, 0.5)


def test_crossing_near_and_far_keys_give_a_valid_curve():
    g = Grade(near=Track((Keyframe(0, 0.0), Keyframe(10, 0.9))), far=Track((Keyframe(0, 0.5), Keyframe(10, 1.0))))
    curve = g.at(6).curve  # near 0.54, far 0.8: fine; at 10: 0.9 < 1.0
    assert curve.near < curve.far
    g = Grade(near=Track((Keyframe(0, 0.6),)), far=Track((Keyframe(0, 0.3),)))
    curve = g.at(0).curve
    assert curve.near == 0.6 and curve.far == pytest.approx(0.61)


def test_track_within_keeps_every_value():
    t = Track((Keyframe(0, 1.0), Keyframe(10, 3.0, "hold"), Keyframe(20, 5.0), Keyframe(40, 1.0)))
    part = t.within(5, 30)
    for f in range(5, 30):
        assert part.value_at(f, 0) == pytest.approx(t.value_at(f, 0))
    assert all(5 <= k.frame < 30 for k in part.keyframes)


def test_with_keyframe_replaces_same_frame():
    t = Track((Keyframe(0, 1.0),)).with_keyframe(Keyframe(0, 5.0))
    assert t.keyframes == (Keyframe(0, 5.0),)


@pytest.mark.parametrize("kwargs", [{"divergence": -1.0}, {"convergence": 1.5}, {"divergence": float("nan")}])
def test_out_of_range_params_are_refused(kwargs):
    with pytest.raises(ValueError):
        StereoParams(**kwargs)


@pytest.mark.parametrize("near, far, gamma", [(0.5, 0.5, 1.0), (0.0, 1.0, 0.1), (-0.1, 1.0, 1.0), (0, 1.2, 1)])
def test_bad_curves_are_refused(near, far, gamma):
    with pytest.raises(ValueError):
        DepthCurve(near, far, gamma)


def test_unsorted_keyframes_and_bad_values_refused():
    with pytest.raises(ValueError, match="sorted"):
        Track((Keyframe(5, 1.0), Keyframe(1, 1.0)))
    with pytest.raises(ValueError, match="outside 0.25..4"):
        Grade(gamma=Track((Keyframe(0, 9.0),)))
    with pytest.raises(ValueError, match="interpolation"):
        Keyframe(0, 1.0, "cubic")
