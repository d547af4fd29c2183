"""The grade formula d = D/100 * W * (c - delta) (CONVENTIONS.md)."""

import pytest
import torch

from engine.ops import disparity_from_grade


def test_default_grade_numbers_at_1080p():
    delta = torch.tensor([0.0, 1 / 3, 1.0]).view(1, 1, 1, 3)
    d = disparity_from_grade(delta, divergence=3.0, convergence=1 / 3, width=1920)
    assert d.shape == (1, 1, 1, 3)
    assert d[0, 0, 0, 0].item() == pytest.approx(19.2, abs=1e-4)  # nearest: in front of the screen
    assert d[0, 0, 0, 1].item() == pytest.approx(0.0, abs=1e-4)  # convergence plane
    assert d[0, 0, 0, 2].item() == pytest.approx(-38.4, abs=1e-4)  # farthest: behind the screen


def test_range_spans_divergence_percent_of_width():
    delta = torch.linspace(0, 1, 11).view(1, 1, 1, 11)
    d = disparity_from_grade(delta, divergence=2.0, convergence=0.5, width=1000)
    assert (d[..., 0] - d[..., -1]).item() == pytest.approx(20.0, abs=1e-4)  # 2 % of 1000 px
    assert torch.all(d[..., 1:] < d[..., :-1])  # farther = smaller disparity


def test_unknown_depth_stays_unknown():
    delta = torch.tensor([0.2, float("nan")]).view(1, 1, 1, 2)
    d = disparity_from_grade(delta, 3.0, 1 / 3, 1920)
    assert torch.isfinite(d[..., 0]).all() and torch.isnan(d[..., 1]).all()


@pytest.mark.parametrize(
    ("shape", "width"), [((1, 3, 4, 4), 1920), ((4, 4), 1920), ((1, 1, 4, 4), 0)]
)
def test_rejects_bad_shapes_and_width(shape, width):
    with pytest.raises(ValueError):
        disparity_from_grade(torch.zeros(shape), 3.0, 1 / 3, width)


def test_depth_curve_formula():
    from engine.ops import apply_depth_curve

    delta = torch.tensor([0.0, 0.1, 0.3, 0.5, 0.9, 1.0, float("nan")]).view(1, 1, 1, 7)
    out = apply_depth_curve(delta, near=0.1, far=0.9, gamma=0.5)
    expected = [0.0, 0.0, 0.25 ** 0.5, 0.5 ** 0.5, 1.0, 1.0]
    assert out[0, 0, 0, :6].tolist() == pytest.approx(expected, abs=1e-6)
    assert torch.isnan(out[0, 0, 0, 6])
    assert apply_depth_curve(delta) is delta  # the identity curve leaves every master unchanged
    lin = apply_depth_curve(delta, 0.0, 0.5, 1.0)
    assert lin[0, 0, 0, :6].tolist() == pytest.approx([0.0, 0.2, 0.6, 1.0, 1.0, 1.0], abs=1e-6)


def test_gamma_gives_the_foreground_more_relief():
    from engine.ops import apply_depth_curve

    delta = torch.linspace(0, 1, 101).view(1, 1, 1, 101)
    soft, hard = apply_depth_curve(delta, gamma=0.5), apply_depth_curve(delta, gamma=2.0)
    assert (soft[..., 10] - soft[..., 0]) > (delta[..., 10] - delta[..., 0]) > (hard[..., 10] - hard[..., 0])
    assert torch.all(soft[..., 1:] >= soft[..., :-1]) and torch.all(hard[..., 1:] >= hard[..., :-1])


@pytest.mark.parametrize(("near", "far", "gamma"), [(0.5, 0.5, 1.0), (0.2, 0.1, 1.0), (0.0, 1.0, 5.0)])
def test_depth_curve_rejects_bad_parameters(near, far, gamma):
    from engine.ops import apply_depth_curve

    with pytest.raises(ValueError):
        apply_depth_curve(torch.zeros(1, 1, 2, 2), near, far, gamma)


def test_graded_disparity_uses_the_curve():
    from engine.document import DepthCurve, StereoParams
    from engine.grading.render import graded_disparity

    delta = torch.tensor([0.0, 0.25, 0.5, 1.0]).view(1, 1, 1, 4)
    plain = graded_disparity(delta, StereoParams(3.0, 0.5))
    assert plain.tolist() == disparity_from_grade(delta, 3.0, 0.5, 4).tolist()
    curved = graded_disparity(delta, StereoParams(3.0, 0.5, DepthCurve(0.0, 0.5, 1.0)))
    assert curved.tolist() == disparity_from_grade(torch.tensor([0.0, 0.5, 1.0, 1.0]).view(1, 1, 1, 4),
                                                   3.0, 0.5, 4).tolist()
