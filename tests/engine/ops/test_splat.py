"""Geometry of the z-buffered splat: shifts, occlusion order, cracks, sub-pixel, unknown disparity.

Convention (CONVENTIONS.md): right view from left x_R = x_L - d (scale=1); left from right
x_L = x_R + d (scale=-1); from a centre view x_R = x_c - d/2, x_L = x_c + d/2 (scale = +/-0.5).
Every test runs on both backends (numba CPU kernels and the torch reference).
"""

import pytest
import torch

from engine.ops import splat, splat_with_disparity

BACKENDS = ("numba", "torch")
H, W = 12, 48


def textured(h: int = H, w: int = W, c: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.rand((1, c, h, w), generator=torch.Generator().manual_seed(seed))


def square_scene(d_near: float = 6.0):
    """Textured background at d=0 with a flat near square (value 1.0) at d_near, cols 20..29, rows 3..8."""
    image = 0.1 + 0.5 * textured()
    disp = torch.zeros(1, 1, H, W)
    image[:, :, 3:9, 20:30] = 1.0
    disp[:, :, 3:9, 20:30] = d_near
    return image, disp


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("scale", "d", "shift"), [(1.0, 3.0, 3), (-1.0, 3.0, -3), (0.5, 4.0, 2), (-0.5, 4.0, -2)]
)
def test_integer_shift_is_exact_with_an_edge_hole_strip(backend, scale, d, shift):
    image = textured()
    warped, holes = splat(image, torch.full((1, 1, H, W), d), scale, backend=backend)
    k = abs(shift)
    if shift > 0:  # content moves left: x_t = x - k; the right edge strip has no source
        assert torch.equal(warped[..., : W - k], image[..., k:])
        expected_holes = torch.arange(W) >= W - k
    else:  # content moves right; the left edge strip is empty
        assert torch.equal(warped[..., k:], image[..., : W - k])
        expected_holes = torch.arange(W) < k
    assert torch.equal(holes[0, 0], expected_holes.expand(H, W))
    assert torch.all(warped[holes.expand_as(warped)] == 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_near_square_wins_and_hole_opens_to_its_right_in_the_right_view(backend):
    image, disp = square_scene(d_near=6.0)
    warped, holes, wdisp = splat_with_disparity(image, disp, 1.0, backend=backend)
    rows = slice(3, 9)
    # x_R = x_L - 6: the square covers cols 14..23, hiding background cols 14..19 (near wins)
    assert torch.all(warped[:, :, rows, 14:24] == 1.0)
    assert torch.all(wdisp[:, :, rows, 14:24] == 6.0)
    # background cols 24..29 were behind the square in the left view: a 6-px disocclusion to its RIGHT
    assert torch.all(holes[0, 0, rows, 24:30])
    assert holes[0, 0, rows].sum() == 6 * 6
    assert torch.isnan(wdisp[0, 0, rows, 24:30]).all()
    # background elsewhere is untouched (d = 0)
    assert torch.equal(warped[:, :, rows, 30:], image[:, :, rows, 30:])
    assert torch.equal(warped[:, :, rows, :14], image[:, :, rows, :14])


@pytest.mark.parametrize("backend", BACKENDS)
def test_near_square_hole_opens_to_its_left_in_the_left_view(backend):
    image, disp = square_scene(d_near=6.0)
    warped, holes = splat(image, disp, -1.0, backend=backend)  # x_L = x_R + 6
    rows = slice(3, 9)
    assert torch.all(warped[:, :, rows, 26:36] == 1.0)
    assert torch.all(holes[0, 0, rows, 20:26])
    assert holes[0, 0, rows].sum() == 6 * 6


@pytest.mark.parametrize("backend", BACKENDS)
def test_centre_view_gives_half_width_holes_on_both_sides(backend):
    image, disp = square_scene(d_near=6.0)
    _, holes_r = splat(image, disp, 0.5, backend=backend)
    _, holes_l = splat(image, disp, -0.5, backend=backend)
    assert torch.all(holes_r[0, 0, 3:9, 27:30]) and holes_r.sum() == 6 * 3
    assert torch.all(holes_l[0, 0, 3:9, 20:23]) and holes_l.sum() == 6 * 3


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("slope", [0.05, -0.05, 0.4, -0.4, 0.9])
@pytest.mark.parametrize("scale", [1.0, -1.0, 0.5])
def test_slanted_plane_has_no_cracks(backend, slope, scale):
    x = torch.arange(W, dtype=torch.float32)
    disp = (8.0 + slope * x + 0.3 * torch.arange(H).view(H, 1)).view(1, 1, H, W)
    warped, holes = splat(textured(), disp, scale, backend=backend)
    t = x - scale * disp[0, 0]  # where each source pixel lands
    for y in range(H):
        lo, hi = t[y].min().item(), t[y].max().item()
        inside = (x >= lo) & (x <= hi)
        assert not holes[0, 0, y][inside].any(), f"crack in row {y}"


def test_naive_rounding_would_crack_where_the_mesh_does_not():
    """Guards the crack test itself: a stretched plane does crack a nearest-pixel splat."""
    x = torch.arange(W, dtype=torch.float32)
    disp = (8.0 - 0.4 * x).view(1, 1, 1, W)
    landed = torch.zeros(W, dtype=torch.bool)
    targets = torch.round(x - disp[0, 0, 0]).long()
    landed[targets[(targets >= 0) & (targets < W)]] = True
    span = (x >= targets.min()) & (x <= targets.clamp(max=W - 1).max())
    assert (~landed[span]).any()
    _, holes = splat(textured(1, W), disp, 1.0)
    assert not holes[0, 0, 0, span].any()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("d", [0.5, 0.25, 1.75])
def test_subpixel_shift_of_a_linear_ramp_is_accurate(backend, d):
    ramp = (torch.arange(W, dtype=torch.float32) / W).expand(1, 3, H, W).contiguous()
    warped, holes, wdisp = splat_with_disparity(ramp, torch.full((1, 1, H, W), d), 1.0, backend=backend)
    # target j samples the source at x = j + d, i.e. the ramp value (j + d) / W
    n_valid = W - int(torch.ceil(torch.tensor(d)).item())
    expected = (torch.arange(W, dtype=torch.float32) + d) / W
    assert not holes[..., :n_valid].any()
    assert torch.allclose(warped[..., :n_valid], expected[:n_valid].expand(1, 3, H, n_valid), atol=1e-6)
    assert torch.allclose(wdisp[..., :n_valid], torch.tensor(d))


@pytest.mark.parametrize("backend", BACKENDS)
def test_nonfinite_disparity_does_not_splat_and_never_wins(backend):
    image = textured()
    disp = torch.zeros(1, 1, H, W)
    disp[..., 10] = float("nan")
    disp[..., 20] = float("inf")  # a naive z-buffer would let +inf win everywhere it lands
    disp[..., 30] = float("-inf")
    warped, holes, wdisp = splat_with_disparity(image, disp, 1.0, backend=backend)
    expected = torch.zeros(W, dtype=torch.bool)
    expected[[10, 20, 30]] = True
    assert torch.equal(holes[0, 0], expected.expand(H, W))
    known = ~expected
    assert torch.equal(warped[..., known], image[..., known])
    assert torch.isfinite(wdisp[..., known]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_depth_edge_beyond_one_pixel_is_a_hole_but_a_one_pixel_step_is_not(backend):
    disp = torch.zeros(1, 1, 1, W)
    disp[..., 24:] = 1.0  # a 1-px step: still one (stretched) surface
    _, holes = splat(textured(1, W), disp, -1.0, backend=backend)
    assert not holes.any()
    disp[..., 24:] = 3.0  # a 3-px step: x = 23 lands at 23, x = 24 at 27 -> 3-px disocclusion
    _, holes = splat(textured(1, W), disp, -1.0, backend=backend)
    assert holes[0, 0, 0, 24:27].all() and holes.sum() == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_dtype_and_batch_are_preserved(backend):
    image = textured().repeat(2, 1, 1, 1).double()
    image[1] = 1 - image[1]
    warped, holes = splat(image, torch.full((2, 1, H, W), 2.0), 1.0, backend=backend)
    assert warped.dtype == torch.float64 and holes.dtype == torch.bool
    assert torch.allclose(warped[1, :, :, : W - 2], 1 - image[0, :, :, 2:].float().double(), atol=1e-6)


def test_input_guards():
    image = textured()
    with pytest.raises(ValueError, match="disparity"):
        splat(image, torch.zeros(1, 1, H, W + 1))
    with pytest.raises(ValueError, match="image"):
        splat(image[0], torch.zeros(1, H, W))
    with pytest.raises(ValueError, match="backend"):
        splat(image, torch.zeros(1, 1, H, W), backend="cuda")
    with pytest.raises(ValueError, match="scale"):
        splat(image, torch.zeros(1, 1, H, W), float("nan"))
