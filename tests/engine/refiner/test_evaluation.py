"""engine.refiner.evaluation: the geometric prior of the residual configs is the product's background fill."""

from __future__ import annotations

import torch

from engine.refiner.evaluation import geometric_fill


def test_geometric_fill_fills_from_the_background_side_only():
    view = torch.zeros(2, 3, 6, 20)
    view[:, 0, :, :8] = 1.0  # red foreground on the left (near: disparity 10)
    view[:, 2, :, 12:] = 1.0  # blue background on the right (far: disparity 1)
    disparity = torch.full((2, 1, 6, 20), 1.0)
    disparity[..., :8] = 10.0
    holes = torch.zeros(2, 1, 6, 20, dtype=torch.bool)
    holes[..., 8:12] = True
    disparity[holes] = float("nan")
    filled = geometric_fill(view, holes, disparity, torch.tensor([-1.0, 1.0]))
    assert filled.shape == view.shape
    inside = filled[..., 8:12]
    assert float(inside[:, 2].min()) > 0.9 and float(inside[:, 0].max()) < 0.1  # blue, no foreground red
    torch.testing.assert_close(filled[..., :8], view[..., :8])  # real pixels untouched
    torch.testing.assert_close(filled[..., 12:], view[..., 12:])
    same = geometric_fill(view, torch.zeros_like(holes), disparity, -1.0)
    torch.testing.assert_close(same, view)
