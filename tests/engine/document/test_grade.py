import pytest

from engine.document import Grade, Keyframe, StereoParams


def test_defaults_follow_conventions():
    p = StereoParams()
    assert p.divergence == 3.0
    assert p.convergence == pytest.approx(1 / 3)
    near, far = p.parallax_range_pct()
    assert near == pytest.approx(-1.0) and far == pytest.approx(2.0)


def test_linear_interpolation_and_hold_outside():
    g = Grade((Keyframe(10, StereoParams(2.0, 0.2)), Keyframe(20, StereoParams(4.0, 0.6))))
    assert g.at(0) == StereoParams(2.0, 0.2)
    assert g.at(15).divergence == pytest.approx(3.0)
    assert g.at(15).convergence == pytest.approx(0.4)
    assert g.at(25) == StereoParams(4.0, 0.6)


def test_hold_and_smooth_segments():
    hold = Grade((Keyframe(0, StereoParams(2.0, 0.5), "hold"), Keyframe(10, StereoParams(4.0, 0.5))))
    assert hold.at(9).divergence == 2.0 and hold.at(10).divergence == 4.0
    smooth = Grade((Keyframe(0, StereoParams(2.0, 0.5), "smooth"), Keyframe(10, StereoParams(4.0, 0.5))))
    assert smooth.at(5).divergence == pytest.approx(3.0)
    assert smooth.at(1).divergence < 2.0 + 0.2 * 1  # eases in slower than linear


def test_with_keyframe_replaces_same_frame():
    g = Grade.constant(StereoParams()).with_keyframe(Keyframe(0, StereoParams(5.0, 0.5)))
    assert len(g.keyframes) == 1 and g.at(3).divergence == 5.0


@pytest.mark.parametrize("kwargs", [{"divergence": -1.0}, {"convergence": 1.5}])
def test_out_of_range_params_are_refused(kwargs):
    with pytest.raises(ValueError):
        StereoParams(**kwargs)


def test_unsorted_keyframes_refused():
    with pytest.raises(ValueError, match="sorted"):
        Grade((Keyframe(5, StereoParams()), Keyframe(1, StereoParams())))
