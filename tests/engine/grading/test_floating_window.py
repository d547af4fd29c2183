"""Floating windows: which eye and border, width, soft edge, swap through packing."""

import pytest
import torch

from engine.grading.floating_window import apply_floating_windows, edge_alpha
from engine.ops import pack


def test_alpha_width_and_soft_edge():
    a = edge_alpha(2000, 1.0, from_right=False)  # 20 px mask, soft edge 2 px
    assert a[:19].max() == 0.0 and a[21:].min() == 1.0
    assert a[19].item() == pytest.approx(0.25) and a[20].item() == pytest.approx(0.75)
    assert a.sum().item() == pytest.approx(2000 - 20)  # the soft edge is centred: area = nominal width


def test_alpha_from_the_right_mirrors():
    assert torch.equal(edge_alpha(500, 2.0, from_right=True), edge_alpha(500, 2.0, from_right=False).flip(0))


def test_narrow_eye_has_a_one_pixel_antialiased_edge():
    a = edge_alpha(400, 0.625, from_right=False)  # 2.5 px mask, 0.4 px nominal soft edge -> 1 px
    assert a.tolist()[:4] == pytest.approx([0.0, 0.0, 0.5, 1.0])


def test_no_mask_is_identity():
    assert torch.equal(edge_alpha(3000, 0.0, from_right=False), torch.ones(3000))


def test_each_edge_masks_its_own_eye():
    left = torch.ones(1, 3, 4, 200)
    right = torch.ones(1, 3, 4, 200)
    out_l, out_r = apply_floating_windows(left, right, left_pct=5.0, right_pct=2.0)
    assert out_l[..., :9].max() == 0.0 and out_l[..., 11:].min() == 1.0  # 10 px on the left eye's left
    assert out_r[..., -3:].max() == 0.0 and out_r[..., :-5].min() == 1.0  # 4 px on the right eye's right
    assert out_l[..., -1].min() == 1.0 and out_r[..., 0].min() == 1.0  # the other borders untouched
    assert left.min() == 1.0  # inputs not modified


def test_masks_follow_the_eyes_through_swap():
    left, right = torch.ones(1, 3, 2, 100), torch.full((1, 3, 2, 100), 0.5)
    wl, wr = apply_floating_windows(left, right, left_pct=10.0, right_pct=0.0)
    packed = pack(wl, wr, "sbs-full", swap_eyes=True)
    assert packed[..., 100:110].max() == 0.0  # the masked left eye now sits on the right half
    assert packed[..., :100].min() == 0.5


def test_shape_guard():
    with pytest.raises(ValueError, match="one shape"):
        apply_floating_windows(torch.ones(1, 3, 2, 10), torch.ones(1, 3, 2, 11), 1.0, 1.0)
