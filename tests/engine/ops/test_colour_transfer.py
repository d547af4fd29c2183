"""sRGB <-> linear transfer and luminance."""

import pytest
import torch

from engine.ops import linear_to_srgb, luminance, srgb_to_linear


def test_known_values():
    x = torch.tensor([0.0, 0.04045, 0.5, 1.0], dtype=torch.float64)
    lin = srgb_to_linear(x)
    assert lin[0].item() == 0.0
    assert lin[1].item() == pytest.approx(0.04045 / 12.92, rel=1e-9)  # the linear toe
    assert lin[2].item() == pytest.approx(0.2140411, abs=1e-6)  # mid-grey is ~21 % light, not 50 %
    assert lin[3].item() == pytest.approx(1.0, abs=1e-12)


def test_round_trip():
    x = torch.linspace(0, 1, 1001, dtype=torch.float64)
    assert torch.allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-9)
    x32 = torch.rand(3, 64)
    assert torch.allclose(srgb_to_linear(linear_to_srgb(x32)), x32, atol=2e-6)


def test_luminance_weights():
    rgb = torch.eye(3).view(3, 3, 1, 1)  # pure R, G, B
    y = luminance(rgb).flatten()
    assert torch.allclose(y, torch.tensor([0.2126, 0.7152, 0.0722]))
    with pytest.raises(ValueError):
        luminance(torch.zeros(1, 1, 2, 2))
