"""Forward-backward rendering: the occlusion masks of both directions and an exact round trip."""

import pytest
import torch

from engine.dvg import DvgConfig, TemporalStereo, forward_backward
from engine.ops import fill_holes, splat_with_disparity


def test_masks_and_round_trip_on_a_layered_frame(make_clip):
    clip = make_clip(frames=1, fg_box=(60, 30, 32), d_bg=2.0, d_fg=10.0)
    image, disp = clip.images[0], clip.disparities[0]
    fb = forward_backward(image, disp, 1.0)
    view, holes, tdisp = splat_with_disparity(image, disp, 1.0)
    assert torch.equal(fb.target_holes, holes)
    assert torch.equal(fb.target, fill_holes(view, holes, tdisp, 1.0))
    assert not torch.isnan(fb.target_disparity).any()
    assert torch.all(fb.target_disparity[holes] == 2.0)  # inpainted content sits on the background
    # m1: left of the square, the 8 background columns the right view cannot see (hidden by it there)
    rows = slice(30, 62)
    assert fb.reference_holes[0, 0, rows, 52:60].all()
    assert not fb.reference_holes[0, 0, rows, 60:92].any()
    assert not fb.reference_holes[0, 0, :30, 2:120].any() and not fb.reference_holes[0, 0, 62:, 2:120].any()
    assert fb.reference_holes[0, 0, :, :2].all()  # columns whose right-view position is off the frame
    # what both views see comes back exactly (integer disparities)
    seen = ~fb.reference_holes.expand_as(image)
    seen[..., 120:] = False  # the right frame edge: x2 there is inpainted
    assert torch.equal(fb.reference[seen], image[seen])


@pytest.mark.parametrize(("scale", "first"), [(1.0, 52), (-1.0, 92)])
def test_left_and_right_targets_mirror(make_clip, scale, first):
    """m1 is the d_fg - d_bg = 8 background columns beside the square on the side the target
    view looks behind: left of it for a right target, right of it for a left target."""
    clip = make_clip(frames=1, fg_box=(60, 30, 32))
    fb = forward_backward(clip.images[0], clip.disparities[0], scale)
    cols = torch.nonzero(fb.reference_holes[0, 0, 40, 4:-4]).flatten() + 4
    assert cols.tolist() == list(range(first, first + 8))


def test_a_temporal_fill_can_be_the_target(make_clip):
    clip = make_clip(frames=4)
    ts = TemporalStereo(DvgConfig(neighbours=1), "right")
    out = []
    for i, (image, disp) in enumerate(zip(clip.images, clip.disparities, strict=True)):
        out += ts.push(i, image, disp)
    out += ts.flush()
    i, views = out[1]
    fb = forward_backward(clip.images[i], clip.disparities[i], 1.0, target=views.right)
    assert fb.target is views.right
    spatial = forward_backward(clip.images[i], clip.disparities[i], 1.0)
    assert torch.equal(fb.target_holes, spatial.target_holes)
    assert torch.equal(fb.reference_holes, spatial.reference_holes)
    with pytest.raises(ValueError, match="target"):
        forward_backward(clip.images[i], clip.disparities[i], 1.0, target=views.right[..., :10])
