"""The numba CPU kernels and the torch reference agree (identical hole masks, equal values).

The two paths compute the same float32 operations in the same order, so they are
compared exactly; the brief's tolerance (1e-5) would hide a diverging tie-break.
"""

import pytest
import torch

from engine.ops import fill_holes, splat_with_disparity

SCALES = (1.0, -1.0, 0.5, -0.5, 0.37)


def _disparities(seed: int, b: int = 2, h: int = 6, w: int = 64) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    noisy = torch.randn((b, 1, h, w), generator=g) * 5
    unknown = torch.randn((b, 1, h, w), generator=g) * 3
    unknown[torch.rand(unknown.shape, generator=g) < 0.2] = float("nan")
    unknown[torch.rand(unknown.shape, generator=g) < 0.05] = float("inf")
    unknown[torch.rand(unknown.shape, generator=g) < 0.05] = float("-inf")
    layers = torch.zeros((b, 1, h, w))
    layers[..., 10:30] = 7.0
    layers[..., 20:40] += 4.0
    layers[..., 50:] = -3.0
    return {
        "noisy": noisy,
        "integer": torch.randint(-8, 9, (b, 1, h, w), generator=g).float(),
        "smooth": torch.cumsum(torch.randn((b, 1, h, w), generator=g) * 0.6, dim=-1),
        "unknown": unknown,
        "layers": layers,
        "ties": torch.round(torch.randn((b, 1, h, w), generator=g) * 2) / 2,
    }


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("discontinuity", [1.0, 0.0, 2.5])
def test_splat_and_fill_backends_agree(seed, discontinuity):
    g = torch.Generator().manual_seed(100 + seed)
    image = torch.rand((2, 3, 6, 64), generator=g)
    for name, disp in _disparities(seed).items():
        for scale in SCALES:
            a = splat_with_disparity(image, disp, scale, backend="numba", discontinuity=discontinuity)
            b = splat_with_disparity(image, disp, scale, backend="torch", discontinuity=discontinuity)
            where = f"{name}, scale {scale}"
            assert torch.equal(a[1], b[1]), f"hole masks differ: {where}"
            assert torch.equal(a[0], b[0]), f"warped values differ: {where}"
            assert torch.equal(a[2].nan_to_num(-1e9), b[2].nan_to_num(-1e9)), f"warped disparity: {where}"
            fa = fill_holes(a[0], a[1], a[2], scale, backend="numba")
            fb = fill_holes(b[0], b[1], b[2], scale, backend="torch")
            assert torch.equal(fa, fb), f"fill differs: {where}"


def test_wide_rows_and_single_channel_agree():
    g = torch.Generator().manual_seed(7)
    image = torch.rand((1, 1, 3, 700), generator=g)
    wave = 20 * torch.sin(torch.arange(700) / 40.0).expand(1, 1, 3, 700)
    disp = wave + torch.rand((1, 1, 3, 700), generator=g)
    a = splat_with_disparity(image, disp, 1.0, backend="numba")
    b = splat_with_disparity(image, disp, 1.0, backend="torch")
    assert a[1].any() and (~a[1]).any()  # the case exercises both holes and landed pixels
    assert torch.equal(a[1], b[1]) and torch.equal(a[0], b[0])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_torch_path_matches_cpu_kernels():
    g = torch.Generator().manual_seed(3)
    image = torch.rand((2, 3, 16, 128), generator=g)
    disp = torch.cumsum(torch.randn((2, 1, 16, 128), generator=g), dim=-1)
    a = splat_with_disparity(image, disp, 0.5)
    b = splat_with_disparity(image.cuda(), disp.cuda(), 0.5)
    assert b[0].is_cuda
    assert torch.equal(a[1], b[1].cpu())
    assert torch.allclose(a[0], b[0].cpu(), atol=1e-5)
    fa = fill_holes(*a, 0.5)
    fb = fill_holes(*b, 0.5)
    assert torch.allclose(fa, fb.cpu(), atol=1e-5)
