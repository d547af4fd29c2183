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
