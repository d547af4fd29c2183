"""engine.refiner.composite: the refined view goes in over the dilated, feathered occlusion mask."""

from __future__ import annotations

import pytest
import torch

from engine.refiner.composite import composite_refined, feathered_alpha


def test_alpha_is_one_on_the_grown_mask_and_falls_off():
    mask = torch.zeros(1, 1, 20, 20, dtype=torch.bool)
    mask[..., 8:12, 8:12] = True
    alpha = feathered_alpha(mask, dilate=2, feather=3)
    assert float(alpha[..., 6:14, 6:14].min()) == 1.0  # the hole grown by 2 px
    assert 0.0 < float(alpha[0, 0, 10, 15]) < 1.0 and float(alpha[0, 0, 10, 19]) == 0.0
    assert torch.equal(feathered_alpha(mask, 0, 0), mask.float())


def test_composite_keeps_real_pixels_and_full_takes_everything():
    geo, ref = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    mask = torch.zeros(2, 1, 16, 16, dtype=torch.bool)
    mask[..., 4:8, 4:8] = True
    out = composite_refined(geo, ref, mask, dilate=1, feather=2)
    torch.testing.assert_close(out[..., 3:9, 3:9], ref[..., 3:9, 3:9])
    torch.testing.assert_close(out[..., 12:, 12:], geo[..., 12:, 12:])
    torch.testing.assert_close(composite_refined(geo, ref, mask, "full"), ref)
    with pytest.raises(ValueError):
        composite_refined(geo, ref, mask, "paste")
