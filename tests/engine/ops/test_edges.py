"""Depth-edge handling: the background-side halo of holes, and anti-aliased layer boundaries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.ops import splat_with_disparity
from engine.ops.edges import background_halo, soften_edges


def _step_scene(scale: float):
    """A near block (disparity 10) over a far plane (disparity 2): one hole run per row beside it."""
    image = torch.rand(1, 3, 6, 60, generator=torch.Generator().manual_seed(0))
    disp = torch.full((1, 1, 6, 60), 2.0)
    disp[..., 20:35] = 10.0
    return image, disp, *splat_with_disparity(image, disp, scale)


@pytest.mark.parametrize("scale", [1.0, -1.0])
def test_halo_grows_holes_into_the_background_side_only(scale):
    _, _, _, holes, target = _step_scene(scale)
    grown, disp = background_halo(holes, target, scale, width=2)
    added = grown & ~holes
    assert int(added.sum()) == 2 * 6  # two pixels per row
    cols = torch.nonzero(added[0, 0, 0]).flatten()
    hole_cols = torch.nonzero(holes[0, 0, 0, 5:55]).flatten() + 5  # the run beside the block, not the frame-edge strips
    background_side = cols > hole_cols.max() if scale > 0 else cols < hole_cols.min()
    assert bool(background_side.all())
    assert bool(torch.isnan(disp[added]).all())
    assert torch.equal(disp[~grown], target[~grown])  # the foreground side is untouched


def test_halo_leaves_slopes_and_edge_runs_alone():
    disp = torch.linspace(0, 30, 40).view(1, 1, 1, 40).repeat(1, 1, 3, 1).contiguous()  # a slope stretching
    image = torch.rand(1, 3, 3, 40)
    _, holes, target = splat_with_disparity(image, disp, -1.0)
    grown, _ = background_halo(holes, target, -1.0, width=1, min_step_px=2.0)
    assert torch.equal(grown, holes)


@pytest.mark.parametrize("width", [0, 1, 3])
@pytest.mark.parametrize("scale", [1.0, -1.0, 0.5, -0.5])
def test_halo_numba_and_torch_agree(scale, width):
    gen = torch.Generator().manual_seed(5)
    image = torch.rand(2, 3, 20, 50, generator=gen)
    disp = torch.rand(2, 1, 20, 50, generator=gen) * 2
    disp[..., 10:22] += 7
    disp[:, :, 4:9, 30:33] += 14
    _, holes, target = splat_with_disparity(image, disp, scale)
    a = background_halo(holes, target, scale, width, backend="numba")
    b = background_halo(holes, target, scale, width, backend="torch")
    assert torch.equal(a[0], b[0])
    assert torch.equal(torch.nan_to_num(a[1], nan=-1.0), torch.nan_to_num(b[1], nan=-1.0))


def test_soften_gives_the_background_pixel_a_share_of_the_foreground():
    image = torch.zeros(1, 1, 1, 10)
    image[..., 4:7] = 1.0
    disp = torch.zeros(1, 1, 1, 10)
    disp[..., 4:7] = 5.0
    out = soften_edges(image, disp, 1.0, weight=0.25)
    assert out[0, 0, 0].tolist() == [0, 0, 0, 0.25, 1, 1, 1, 0.25, 0, 0]


@pytest.mark.parametrize("scale", [1.0, -0.5])
def test_soften_numba_and_torch_agree(scale):
    image, _, view, holes, target = _step_scene(scale)
    d = torch.nan_to_num(target, nan=2.0)
    a = soften_edges(view, d, scale, 0.3, backend="numba")
    b = soften_edges(view, d, scale, 0.3, backend="torch")
    assert torch.equal(a, b) and not torch.equal(a, view)


def test_soften_numba_and_torch_agree_on_every_edge_pattern():
    """Pixels between two edges, edges at the row ends, NaN, 1- and 2-pixel rows: the numba kernel (a row
    copy, then only the pixels beside a step recomputed) is bit-equal to the torch reference."""
    rng = np.random.default_rng(3)
    for _ in range(300):
        w = int(rng.integers(1, 10))
        image = torch.from_numpy(rng.random((1, 3, 3, w), dtype=np.float32))
        levels = rng.choice(np.array([0.0, 1.0, 3.0, np.nan], dtype=np.float32), size=(1, 1, 3, w))
        d = torch.from_numpy(levels)
        a = soften_edges(image, d, 1.0, 0.25, backend="numba")
        b = soften_edges(image, d, 1.0, 0.25, backend="torch")
        assert torch.equal(a, b), (levels[0, 0], (a - b)[0, 0])


def test_soften_rejects_bad_weight():
    with pytest.raises(ValueError, match="weight"):
        soften_edges(torch.rand(1, 3, 2, 4), torch.zeros(1, 1, 2, 4), 1.0, weight=1.5)
