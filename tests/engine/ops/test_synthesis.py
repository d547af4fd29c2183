"""One eye end to end: settings, the classic render, and each step's effect."""

from __future__ import annotations

import pytest
import torch

from engine.errors import UsageError
from engine.ops import fill_holes, render_views, splat_with_disparity
from engine.ops.synthesis import SynthesisConfig, synthesize_eye


def test_bad_settings_are_usage_errors():
    with pytest.raises(UsageError, match="kernel"):
        SynthesisConfig(kernel="sinc")
    with pytest.raises(UsageError, match="edge_blend"):
        SynthesisConfig(edge_blend=2.0)
    with pytest.raises(UsageError, match="fill"):
        SynthesisConfig(fill="telea")


def test_classic_is_the_mesh_splat_with_the_row_fill():
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 16, 40, generator=gen)
    disp = 3.0 + 4.0 * torch.rand(1, 1, 16, 40, generator=gen)
    view, holes, target = splat_with_disparity(image, disp, 1.0)
    expected = fill_holes(view, holes, target, 1.0)
    got, got_holes, _ = synthesize_eye(image, disp, 1.0, SynthesisConfig.classic())
    assert torch.equal(got, expected) and torch.equal(got_holes, holes)


@pytest.mark.parametrize("fill", ["row", "diffuse", "texture"])
def test_every_fill_completes_the_view_in_range(fill):
    gen = torch.Generator().manual_seed(1)
    image = torch.rand(1, 3, 24, 48, generator=gen)
    disp = torch.full((1, 1, 24, 48), 1.0)
    disp[..., 6:18, 12:30] = 9.0
    views = render_views(image, disp, "both", synthesis=SynthesisConfig(fill=fill))
    for eye, holes in ((views.left, views.left_holes), (views.right, views.right_holes)):
        assert eye.shape == image.shape and bool(holes.any())
        assert torch.isfinite(eye).all() and float(eye.min()) >= 0.0 and float(eye.max()) <= 1.0
