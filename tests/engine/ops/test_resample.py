"""Sharp resampling of splatted views: exact integer shifts, sharper than linear, safe at depth edges."""

from __future__ import annotations

import math

import pytest
import torch

from engine.ops import splat_with_disparity
from engine.ops.resample import kernel_table, sharpen_resample


def _signal(width: int, shift: float) -> torch.Tensor:
    """(1, 1, 4, W) band-limited test row: a sum of sines, sampled at x + shift."""
    x = torch.arange(width, dtype=torch.float64) + shift
    row = 0.5 + 0.2 * torch.sin(2 * math.pi * x / 7.3) + 0.15 * torch.sin(2 * math.pi * x / 3.1 + 1.0)
    return row.to(torch.float32).expand(1, 1, 4, width).contiguous()


@pytest.mark.parametrize("kernel", ["cubic", "lanczos3"])
def test_tables_are_normalised_and_exact_at_whole_pixels(kernel):
    table = kernel_table(kernel)
    assert torch.allclose(torch.from_numpy(table.sum(axis=1)), torch.ones(table.shape[0]), atol=1e-6)
    assert table[0].tolist().count(1.0) == 1 and (table[0] != 0).sum() == 1


@pytest.mark.parametrize("kernel", ["cubic", "lanczos3"])
def test_integer_shift_is_exact(kernel):
    image = torch.rand(1, 3, 8, 40, generator=torch.Generator().manual_seed(1))
    disp = torch.full((1, 1, 8, 40), 3.0)
    view, holes, target = splat_with_disparity(image, disp, 1.0)
    assert torch.equal(sharpen_resample(view, holes, image, disp, target, 1.0, kernel), view)


@pytest.mark.parametrize("shift", [0.25, 0.5, 0.75])
def test_fractional_shift_is_closer_to_the_truth_than_linear(shift):
    width = 96
    image = _signal(width, 0.0)
    disp = torch.full((1, 1, 4, width), 5.0 + shift)
    view, holes, target = splat_with_disparity(image, disp, 1.0)
    truth = _signal(width, 5.0 + shift)  # target pixel j shows source x = j + d
    inner = slice(10, width - 16)
    errors = {}
    for kernel in ("linear", "cubic", "lanczos3"):
        out = sharpen_resample(view, holes, image, disp, target, 1.0, kernel)
        errors[kernel] = float((out - truth)[..., inner].abs().mean())
    assert errors["cubic"] < 0.75 * errors["linear"]
    assert errors["lanczos3"] < errors["cubic"]


def test_beside_a_depth_edge_pixels_are_interpolated_linearly_never_with_far_taps():
    image = torch.zeros(1, 1, 2, 40)
    image[..., 20:] = 1.0  # a bright near object from x = 20
    disp = torch.full((1, 1, 2, 40), 2.5)
    disp[..., 20:] = 9.5
    view, holes, target = splat_with_disparity(image, disp, 1.0)
    out = sharpen_resample(view, holes, image, disp, target, 1.0, "lanczos3")
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0  # no ringing across the edge
    # away from the edge the flat regions stay exactly flat
    assert torch.all(out[..., :5] == 0.0) and torch.all(out[..., 14:25] == 1.0)


@pytest.mark.parametrize("scale", [1.0, -1.0, 0.5, -0.5])
@pytest.mark.parametrize("kernel", ["cubic", "lanczos3"])
def test_numba_and_torch_agree_bit_for_bit(kernel, scale):
    gen = torch.Generator().manual_seed(3)
    image = torch.rand(2, 3, 24, 70, generator=gen)
    disp = 4.0 + torch.cumsum(torch.rand(2, 1, 24, 70, generator=gen) * 0.05, dim=3)
    disp[..., 30:44] += 7.0
    disp[0, 0, 3, 9] = float("nan")
    view, holes, target = splat_with_disparity(image, disp, scale)
    a = sharpen_resample(view, holes, image, disp, target, scale, kernel, backend="numba")
    b = sharpen_resample(view, holes, image, disp, target, scale, kernel, backend="torch")
    assert torch.equal(a, b)
    assert not torch.equal(a, view)  # something was re-sampled


def test_bad_arguments_raise():
    image = torch.rand(1, 3, 4, 8)
    disp = torch.zeros(1, 1, 4, 8)
    view, holes, target = splat_with_disparity(image, disp, 1.0)
    with pytest.raises(ValueError, match="kernel"):
        sharpen_resample(view, holes, image, disp, target, 1.0, "bicubic")
    with pytest.raises(ValueError, match="holes"):
        sharpen_resample(view, holes[..., :4], image, disp, target, 1.0)
