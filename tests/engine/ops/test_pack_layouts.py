"""Packing geometry for every layout, eye placement, swap, area-filter halving, anaglyph maths."""

import pytest
import torch

from engine.errors import UsageError
from engine.ops import LAYOUTS, pack, packed_size, pad_to_even

H, W = 6, 8
LEFT_V, RIGHT_V = 0.25, 0.75


def eyes(h: int = H, w: int = W):
    return torch.full((2, 3, h, w), LEFT_V), torch.full((2, 3, h, w), RIGHT_V)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("h", "w"), [(H, W), (5, 7)])
def test_every_layout_has_its_declared_size(layout, h, w):
    left, right = eyes(h, w)
    out = pack(left, right, layout)
    pw, ph = packed_size(w, h, layout)
    frames = out if layout == "pair" else (out,)
    for frame in frames:
        assert frame.shape == (2, 3, ph, pw)
        assert frame.dtype == left.dtype


@pytest.mark.parametrize("swap", [False, True])
def test_eye_placement_and_swap(swap):
    left, right = eyes()
    first, second = (RIGHT_V, LEFT_V) if swap else (LEFT_V, RIGHT_V)
    sbs = pack(left, right, "sbs-full", swap_eyes=swap)
    assert torch.all(sbs[..., :W] == first) and torch.all(sbs[..., W:] == second)
    tb = pack(left, right, "tb-full", swap_eyes=swap)
    assert torch.all(tb[:, :, :H] == first) and torch.all(tb[:, :, H:] == second)
    sbs_half = pack(left, right, "sbs-half", swap_eyes=swap)
    assert torch.all(sbs_half[..., : W // 2] == first) and torch.all(sbs_half[..., W // 2 :] == second)
    tb_half = pack(left, right, "tb-half", swap_eyes=swap)
    assert torch.all(tb_half[:, :, : H // 2] == first) and torch.all(tb_half[:, :, H // 2 :] == second)
    a, b = pack(left, right, "pair", swap_eyes=swap)
    assert torch.all(a == first) and torch.all(b == second)


def test_half_layouts_use_an_area_filter():
    stripes = (torch.arange(W) % 2).float().expand(1, 3, H, W).contiguous()  # 0,1,0,1... columns
    out = pack(stripes, stripes, "sbs-half")
    assert torch.allclose(out, torch.full_like(out, 0.5))  # decimation would give all 0 or all 1
    rows = (torch.arange(H) % 2).float().view(H, 1).expand(1, 3, H, W).contiguous()
    out = pack(rows, rows, "tb-half")
    assert torch.allclose(out, torch.full_like(out, 0.5))
    ramp = torch.arange(W, dtype=torch.float32).expand(1, 3, H, W).contiguous()
    out = pack(ramp, ramp + 100, "sbs-half")
    assert torch.equal(out[0, 0, 0], torch.tensor([0.5, 2.5, 4.5, 6.5, 100.5, 102.5, 104.5, 106.5]))


def test_odd_width_half_sbs_is_area_filtered_too():
    ramp = torch.arange(7, dtype=torch.float32).expand(1, 3, 2, 7).contiguous()
    out = pack(ramp, ramp, "sbs-half")
    assert out.shape == (1, 3, 2, 8)
    # 7 -> 4 box bins [0,2) [1,4) [3,6) [5,7): each output is the mean of the source pixels it spans
    assert out[0, 0, 0, :4].tolist() == pytest.approx([0.5, 2.0, 4.0, 5.5])


def srgb_encode(v: float) -> float:
    return 12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055


def colour(rgb, h: int = 2, w: int = 2) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float64).view(1, 3, 1, 1).expand(1, 3, h, w).contiguous()


def test_dubois_anaglyph_in_linear_light_hand_values():
    # left pure red, right black: linear (1,0,0) -> first column of the left matrix (0.437, -0.062, -0.048)
    out = pack(colour([1, 0, 0]), colour([0, 0, 0]), "anaglyph")
    assert out[0, :, 0, 0].tolist() == pytest.approx([srgb_encode(0.437), 0.0, 0.0], abs=1e-6)
    assert out[0, 0, 0, 0].item() == pytest.approx(0.6922, abs=2e-4)
    # left mid-grey (sRGB 0.5 = 0.21404 linear), right white:
    # R = 1.050 * 0.21404 - 0.050 = 0.17474 -> sRGB 0.4550; G = -0.148 * 0.21404 + 1.147 > 1 -> 1; B -> 1
    out = pack(colour([0.5, 0.5, 0.5]), colour([1, 1, 1]), "anaglyph")
    assert out[0, :, 0, 0].tolist() == pytest.approx([0.4550, 1.0, 1.0], abs=2e-4)
    # the same matrices applied to the encoded values would give R = 1.05 * 0.5 - 0.05 = 0.475
    assert abs(out[0, 0, 0, 0].item() - 0.475) > 0.01


def test_anaglyph_swap_puts_the_right_eye_behind_the_red_filter():
    red_left = pack(colour([1, 0, 0]), colour([0, 0, 0]), "anaglyph", swap_eyes=True)
    assert red_left[0, 0, 0, 0].item() == 0.0  # the red eye now sees black


def test_half_colour_anaglyph():
    out = pack(colour([1, 0, 0]), colour([0.3, 0.6, 0.9]), "anaglyph-half-colour")
    # red = luminance of the left eye in linear light (0.2126 for pure red), re-encoded
    assert out[0, 0, 0, 0].item() == pytest.approx(srgb_encode(0.2126), abs=1e-6)
    assert out[0, 0, 0, 0].item() == pytest.approx(0.4984, abs=2e-4)
    assert out[0, 1:, 0, 0].tolist() == pytest.approx([0.6, 0.9], abs=1e-6)


def test_packed_size_table():
    assert packed_size(1920, 1080, "sbs-full") == (3840, 1080)
    assert packed_size(1920, 1080, "sbs-half") == (1920, 1080)
    assert packed_size(1920, 1080, "tb-full") == (1920, 2160)
    assert packed_size(1920, 1080, "tb-half") == (1920, 1080)
    assert packed_size(1920, 1080, "anaglyph") == (1920, 1080)
    assert packed_size(1920, 1080, "pair") == (1920, 1080)
    assert packed_size(1919, 1079, "sbs-half") == (1920, 1079)
    assert packed_size(1919, 1079, "tb-half") == (1919, 1080)


def test_pad_to_even_replicates_bottom_and_right():
    image = torch.arange(35, dtype=torch.float32).view(1, 1, 5, 7)
    padded, (pad_bottom, pad_right) = pad_to_even(image)
    assert (pad_bottom, pad_right) == (1, 1)
    assert padded.shape == (1, 1, 6, 8)
    assert torch.equal(padded[..., :5, :7], image)
    assert torch.equal(padded[..., 5, :7], image[..., 4, :])
    assert torch.equal(padded[..., :5, 7], image[..., :, 6])
    assert padded[0, 0, 5, 7] == image[0, 0, 4, 6]
    same, pads = pad_to_even(torch.zeros(1, 3, 4, 6, dtype=torch.uint8))
    assert pads == (0, 0) and same.shape == (1, 3, 4, 6)


def test_bad_layout_is_a_usage_error():
    left, right = eyes()
    with pytest.raises(UsageError) as err:
        pack(left, right, "side-by-side")
    assert err.value.exit_code == 2 and "sbs-half" in str(err.value)
    with pytest.raises(UsageError):
        packed_size(10, 10, "mono")
    with pytest.raises(ValueError, match="differ"):
        pack(left, right[..., :-1], "sbs-full")
