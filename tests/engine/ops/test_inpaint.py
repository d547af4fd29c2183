"""Background-side filling: membrane smoothing and PatchMatch texture (background only, both backends equal)."""

from __future__ import annotations

import math

import pytest
import torch

from engine.ops import fill_holes, splat_with_disparity
from engine.ops.inpaint import background_disparity, diffuse_background, texture_fill


def _scene(texture: str = "stripes", width: int = 120, height: int = 48):
    """A red near block (disparity 12) over a far background (disparity 2) with a known texture.

    Returns the source, its disparity and the true right view's background (what the hole should show).
    """
    x = torch.arange(width + 20, dtype=torch.float32)
    stripes = 0.5 + 0.4 * torch.sign(torch.sin(2 * math.pi * x / 8.0))
    row = stripes if texture == "stripes" else x / (width + 20)  # or a smooth ramp
    background = torch.stack([0.2 * torch.ones_like(row), row * 0.9, row]).view(1, 3, 1, -1).expand(1, 3, height, -1)
    image = background[..., :width].clone()
    image[:, 0, 10:40, 40:70] = 1.0  # the red block
    image[:, 1:, 10:40, 40:70] = 0.0
    disp = torch.full((1, 1, height, width), 2.0)
    disp[..., 10:40, 40:70] = 12.0
    truth = background[..., 2:width + 2].contiguous()  # far plane moved by its disparity 2
    return image.contiguous(), disp, truth


def _prepared(texture: str):
    image, disp, truth = _scene(texture)
    view, holes, target = splat_with_disparity(image, disp, 1.0)
    holes[..., -3:] = False  # leave the frame-edge strip out: only the disocclusion beside the block
    background = background_disparity(holes, target, 1.0)
    start = fill_holes(view.clone(), holes, background, 1.0)
    return start, holes, target, background, truth


def _hole_error(image: torch.Tensor, holes: torch.Tensor, truth: torch.Tensor) -> float:
    mask = holes.expand_as(image)
    return float((image - truth)[mask].abs().mean())


def test_background_disparity_is_the_far_end_of_each_run():
    _, holes, _, background, _ = _prepared("ramp")
    assert bool(holes.any())
    assert torch.all(background[holes] == 2.0)


def test_membrane_fill_never_takes_foreground_colour_and_follows_the_background():
    start, holes, target, background, truth = _prepared("ramp")
    smooth = diffuse_background(start, holes, target, background, iterations=60)
    assert float(smooth[:, 0][holes[:, 0]].max()) < 0.25  # no red from the block
    assert _hole_error(smooth, holes, truth) < _hole_error(start, holes, truth)


@pytest.mark.parametrize("scale", [1.0, -0.5])
def test_membrane_numba_and_torch_agree(scale):
    image, disp, _ = _scene("stripes")
    view, holes, target = splat_with_disparity(image, disp, scale)
    background = background_disparity(holes, target, scale)
    start = fill_holes(view, holes, background, scale)
    a = diffuse_background(start, holes, target, background, backend="numba")
    b = diffuse_background(start, holes, target, background, backend="torch")
    assert torch.equal(a, b) and not torch.equal(a, start)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_membrane_in_place_is_the_copy_and_allocates_no_frame(backend):
    start, holes, target, background, _ = _prepared("stripes")
    want = diffuse_background(start, holes, target, background, backend=backend)
    kept = start.clone()
    work = start.clone()
    got = diffuse_background(work, holes, target, background, backend=backend, inplace=True)
    assert got is work and torch.equal(got, want) and not torch.equal(got, kept)
    assert torch.equal(start, kept)  # the copying call left its input alone
    odd = start.clone().to(torch.float64)  # not float32: a float32 copy, the input untouched
    assert diffuse_background(odd, holes, target, background, backend=backend, inplace=True) is not odd


def test_membrane_serial_and_parallel_sweeps_agree_with_torch(monkeypatch):
    from engine.ops import inpaint

    image, disp, _ = _scene("stripes", width=160, height=64)
    view, holes, target = splat_with_disparity(image, disp, 1.0)
    background = background_disparity(holes, target, 1.0)
    start = fill_holes(view, holes, background, 1.0)
    want = diffuse_background(start, holes, target, background, iterations=7, backend="torch")
    serial = diffuse_background(start, holes, target, background, iterations=7, backend="numba")
    monkeypatch.setattr(inpaint, "PARALLEL_DIFFUSE_PIXELS", 0)
    parallel = diffuse_background(start, holes, target, background, iterations=7, backend="numba")
    assert torch.equal(serial, want) and torch.equal(parallel, want) and not torch.equal(want, start)


def test_numba_hole_list_and_neighbour_table_are_the_torch_ones():
    from engine.ops import _inpaint_numba
    from engine.ops.inpaint import _included_neighbours, hole_pixels

    g = torch.Generator().manual_seed(3)
    holes = torch.rand((2, 1, 23, 31), generator=g) < 0.3
    target = torch.where(holes, float("nan"), torch.rand((2, 1, 23, 31), generator=g) * 6)
    background = torch.rand((2, 1, 23, 31), generator=g) * 6
    bs, ys, xs = torch.nonzero(holes[:, 0], as_tuple=True)
    nb, ny, nx = hole_pixels(holes[:, 0].numpy())
    assert torch.equal(torch.from_numpy(nb), bs) and torch.equal(torch.from_numpy(ny), ys)
    assert torch.equal(torch.from_numpy(nx), xs)
    got = _inpaint_numba.included_neighbours(holes[:, 0].numpy(), target[:, 0].numpy(), background[:, 0].numpy(),
                                             0.5, nb, ny, nx)
    assert torch.equal(torch.from_numpy(got), _included_neighbours(holes, target, background, 0.5, bs, ys, xs))


def test_texture_continues_the_background_pattern_better_than_the_membrane():
    start, holes, target, background, truth = _prepared("stripes")
    smooth = diffuse_background(start, holes, target, background)
    textured = texture_fill(smooth, holes, target, background, weight=1.0, rounds=4, min_run=1)
    assert float(textured[:, 0][holes[:, 0]].max()) < 0.25  # never copies the foreground
    assert _hole_error(textured, holes, truth) < 0.5 * _hole_error(smooth, holes, truth)


@pytest.mark.parametrize("scale", [1.0, -0.5])
def test_texture_numba_and_torch_agree(scale):
    image, disp, _ = _scene("stripes")
    image = image + 0.05 * torch.rand(image.shape, generator=torch.Generator().manual_seed(2))
    view, holes, target = splat_with_disparity(image, disp, scale)
    background = background_disparity(holes, target, scale)
    start = diffuse_background(fill_holes(view, holes, background, scale), holes, target, background)
    kwargs = {"weight": 0.7, "iterations": 2, "rounds": 2, "min_run": 2, "scale": scale}
    a = texture_fill(start, holes, target, background, backend="numba", **kwargs)
    b = texture_fill(start, holes, target, background, backend="torch", **kwargs)
    assert torch.equal(a, b) and not torch.equal(a, start)


def test_texture_and_membrane_reject_bad_settings():
    start, holes, target, background, _ = _prepared("ramp")
    with pytest.raises(ValueError, match="patch"):
        texture_fill(start, holes, target, background, patch=4)
    with pytest.raises(ValueError, match="omega"):
        diffuse_background(start, holes, target, background, omega=2.5)
