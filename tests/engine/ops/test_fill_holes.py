"""Background-side fill: never foreground into a disocclusion; Telea only for whole-row holes."""

import pytest
import torch

from engine.ops import fill_holes, splat_with_disparity

BACKENDS = ("numba", "torch")
H, W = 10, 40
FG = 1.0


def scene():
    """Column-coded background (value = 0.2 + col/100) at d=0; a foreground bar (value 1.0) at d=5."""
    image = (0.2 + torch.arange(W) / 100.0).expand(1, 3, H, W).clone()
    disp = torch.zeros(1, 1, H, W)
    image[..., 15:25] = FG
    disp[..., 15:25] = 5.0
    return image, disp


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scale", [1.0, -1.0, 0.5, -0.5])
def test_disocclusion_takes_the_background_never_the_foreground(backend, scale):
    image, disp = scene()
    warped, holes, wdisp = splat_with_disparity(image, disp, scale, backend=backend)
    filled = fill_holes(warped, holes, wdisp, scale, backend=backend)
    hole_cols = holes[0, 0, 0].nonzero().flatten()
    assert len(hole_cols) > 0
    # the disocclusion sits on the background side of the bar: right of it for scale > 0, left for < 0
    bg_col = hole_cols.max().item() + 1 if scale > 0 else hole_cols.min().item() - 1
    assert wdisp[0, 0, 0, bg_col] == 0.0  # the neighbour used is background
    hole_vals = filled[..., hole_cols]
    assert torch.all(hole_vals != FG)
    assert torch.all(hole_vals == warped[..., bg_col : bg_col + 1])
    assert torch.equal(filled[~holes.expand_as(filled)], warped[~holes.expand_as(warped)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_edge_strip_takes_its_only_neighbour(backend):
    image = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(0))
    warped, holes, wdisp = splat_with_disparity(image, torch.full((1, 1, H, W), 3.0), 1.0, backend=backend)
    filled = fill_holes(warped, holes, wdisp, 1.0, backend=backend)
    assert torch.equal(filled[..., W - 3 :], image[..., W - 1 : W].expand(1, 3, H, 3))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("scale", "side"), [(1.0, "right"), (-1.0, "left")])
def test_equal_disparity_tie_follows_the_scale_sign(backend, scale, side):
    image = torch.zeros(1, 1, 1, 9)
    image[..., 2] = 0.3
    image[..., 6] = 0.7
    holes = torch.zeros(1, 1, 1, 9, dtype=torch.bool)
    holes[..., 3:6] = True
    disp = torch.full((1, 1, 1, 9), 2.0)
    filled = fill_holes(image, holes, disp, scale, backend=backend)
    assert torch.all(filled[..., 3:6] == (0.7 if side == "right" else 0.3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_whole_row_holes_go_to_telea(backend):
    image = torch.full((1, 3, H, W), 0.6)
    image[:, 1] = 0.25
    holes = torch.zeros(1, 1, H, W, dtype=torch.bool)
    holes[..., 4:6, :] = True  # two rows with nothing to copy along the row
    warped = torch.where(holes, 0.0, image)
    filled = fill_holes(warped, holes, torch.zeros(1, 1, H, W), 1.0, backend=backend)
    assert torch.allclose(filled, image, atol=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_telea_rows_continue_a_gradient_without_overshoot(backend):
    """OpenCV's float32 Telea overshoots badly (about -1 .. 2 on a 0.2 .. 0.6 ramp); ours must not."""
    image = torch.linspace(0.2, 0.6, 60).expand(1, 3, 40, 60).clone()
    image[:, 1] *= 0.5
    holes = torch.zeros(1, 1, 40, 60, dtype=torch.bool)
    holes[..., :18, :] = True  # a top band with no row neighbours at all (e.g. unknown GT border)
    warped = torch.where(holes, 0.0, image)
    filled = fill_holes(warped, holes, torch.zeros(1, 1, 40, 60), 1.0, backend=backend)
    band, truth = filled[..., :18, :], image[..., :18, :]
    assert band.min() >= 0.1 - 1e-6 and band.max() <= 0.6 + 1e-6  # within the known range
    assert (band - truth).abs().max() < 0.05


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_writes_into_the_input(backend):
    image, disp = scene()
    warped, holes, wdisp = splat_with_disparity(image, disp, 1.0, backend=backend)
    copy = fill_holes(warped, holes, wdisp, 1.0, backend=backend)
    assert warped[holes.expand_as(warped)].eq(0).all()  # not in place: input untouched
    out = fill_holes(warped, holes, wdisp, 1.0, backend=backend, inplace=True)
    assert out is warped and torch.equal(out, copy)


@pytest.mark.parametrize("backend", BACKENDS)
def test_accepts_broadcast_masks_and_non_contiguous_views(backend):
    image = torch.rand(1, 3, 4, 12, generator=torch.Generator().manual_seed(2))
    holes = torch.zeros(1, 1, 1, 12, dtype=torch.bool)
    holes[..., 4:7] = True
    disp = torch.zeros(1, 1, 12, 4).transpose(2, 3)  # a non-contiguous (1, 1, 4, 12) view
    filled = fill_holes(image, holes.expand(1, 1, 4, 12), disp, 1.0, backend=backend)
    assert torch.equal(filled[..., 4:7], image[..., 7:8].expand(1, 3, 4, 3))


def test_input_guards():
    image, disp = scene()
    holes = torch.zeros(1, 1, H, W, dtype=torch.bool)
    with pytest.raises(ValueError, match="holes"):
        fill_holes(image, holes.float(), disp, 1.0)
    with pytest.raises(ValueError, match="disparity_target"):
        fill_holes(image, holes, disp[..., :-1], 1.0)
