"""render_views: the three synthesis modes and the StereoViews record."""

import dataclasses

import pytest
import torch

from engine.errors import UsageError
from engine.ops import StereoViews, fill_holes, render_views, splat_with_disparity
from engine.ops.synthesis import SynthesisConfig

H, W = 10, 40


def scene():
    image = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(0)) * 0.5
    disp = torch.zeros(1, 1, H, W)
    image[..., 15:25] = 1.0
    disp[..., 15:25] = 6.0
    return image, disp


def test_right_mode_keeps_the_source_as_left_eye():
    image, disp = scene()
    views = render_views(image, disp, synthesize="right", synthesis=SynthesisConfig.classic())
    assert views.left is image
    assert not views.left_holes.any() and views.left_holes.shape == (1, 1, H, W)
    assert torch.equal(views.left_disparity, disp)
    warped, holes, wdisp = splat_with_disparity(image, disp, 1.0)
    assert torch.equal(views.right_holes, holes) and holes.sum() == 6 * H
    assert torch.equal(views.right, fill_holes(warped, holes, wdisp, 1.0))
    assert torch.equal(views.right_disparity.nan_to_num(-1), wdisp.nan_to_num(-1))


def test_default_render_adds_the_background_halo_to_the_holes():
    image, disp = scene()
    classic = render_views(image, disp, synthesize="right", synthesis=SynthesisConfig.classic())
    views = render_views(image, disp, synthesize="right")
    added = views.right_holes & ~classic.right_holes
    assert int(added.sum()) == H and torch.all(added[..., 19 + 6])  # one pixel per row, on the background side
    assert torch.all(views.right_disparity[added].isnan())


def test_left_mode_keeps_the_source_as_right_eye():
    image, disp = scene()
    views = render_views(image, disp, synthesize="left", fill=False, synthesis=SynthesisConfig.classic())
    assert views.right is image and not views.right_holes.any()
    assert views.left_holes.sum() == 6 * H
    assert torch.all(views.left_holes[..., 15:21])  # x_L = x_R + d: hole opens left of the bar


def test_both_mode_splits_the_disparity_and_halves_the_holes():
    image, disp = scene()
    views = render_views(image, disp, fill=False, synthesis=SynthesisConfig.classic())
    assert views.left_holes.sum() == 3 * H and views.right_holes.sum() == 3 * H
    assert torch.all(views.left_holes[..., 15:18]) and torch.all(views.right_holes[..., 22:25])
    # the bar lands 3 px right in the left eye and 3 px left in the right eye: parallax -6 = -d
    assert torch.all(views.left[..., 18:28] == 1.0) and torch.all(views.right[..., 12:22] == 1.0)
    filled = render_views(image, disp, synthesis=SynthesisConfig.classic())
    assert torch.equal(filled.left_holes, views.left_holes)
    assert torch.all(filled.left[..., 15:18] < 1.0) and torch.all(filled.right[..., 22:25] < 1.0)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_backends_give_the_same_views(backend):
    image, disp = scene()
    ref = render_views(image, disp)
    other = render_views(image, disp, backend=backend)
    assert torch.equal(ref.left, other.left) and torch.equal(ref.right, other.right)


def test_views_are_frozen_and_mode_is_checked():
    image, disp = scene()
    views = render_views(image, disp)
    assert isinstance(views, StereoViews)
    with pytest.raises(dataclasses.FrozenInstanceError):
        views.left = image
    with pytest.raises(UsageError):
        render_views(image, disp, synthesize="centre")
