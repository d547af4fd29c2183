"""The numba frame <-> tensor kernels give exactly what the torch path gives (engine.jobs.frame)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.jobs.frame import to_image, to_tensor
from engine.ops import _image_numba


def _torch_to_tensor(image: np.ndarray) -> torch.Tensor:
    """The torch reference of to_tensor (the path CUDA takes)."""
    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).unsqueeze(0)
    return t.to(torch.float32).div_(65535.0 if image.dtype == np.uint16 else 255.0)


def _torch_to_image(t: torch.Tensor, high: bool) -> np.ndarray:
    """The torch reference of to_image (the path CUDA takes)."""
    hwc = t[0].permute(1, 2, 0).clamp(0.0, 1.0).mul(65535.0 if high else 255.0).round_()
    return hwc.to(torch.int32).numpy().astype(np.uint16) if high else hwc.to(torch.uint8).numpy()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_to_tensor_matches_torch_for_every_value(dtype):
    """Every representable input value (so every frame) converts bit for bit as the torch path does."""
    values = np.arange(np.iinfo(dtype).max + 1, dtype=np.int64).astype(dtype)
    rows = -(-values.size // 63)
    image = np.resize(values, rows * 63).reshape(rows, 21, 3)[:, :, ::-1]  # every value, a strided view
    got = to_tensor(image, torch.device("cpu"))
    want = _torch_to_tensor(image)
    assert got.shape == want.shape == (1, 3, *image.shape[:2])
    assert got.dtype == torch.float32
    assert torch.equal(got, want)


@pytest.mark.parametrize("bits", [8, 16])
def test_to_image_matches_torch_on_rounding_edges_and_out_of_range(bits):
    scale = 65535.0 if bits == 16 else 255.0
    rng = np.random.default_rng(3)
    k = np.arange(int(scale) + 1, dtype=np.float32)
    values = np.concatenate([
        k / np.float32(scale),  # exact levels
        (k + np.float32(0.5)) / np.float32(scale),  # half-way: round half to even
        np.nextafter((k + np.float32(0.5)) / np.float32(scale), np.float32(2)),
        np.nextafter((k + np.float32(0.5)) / np.float32(scale), np.float32(-1)),
        rng.uniform(-0.5, 1.5, 30000).astype(np.float32),
        np.array([-0.0, -1e-30, 1e-30, 1.0, 1.0000001, 7.0, -7.0], np.float32),
    ])
    n = values.size // 3 * 3
    t = torch.from_numpy(values[:n].copy()).reshape(1, 3, 1, n // 3)
    got = to_image(t, bits)
    want = _torch_to_image(t, bits > 8)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_to_image_pads_the_edge_like_numpy():
    rng = np.random.default_rng(5)
    t = torch.from_numpy(rng.uniform(0, 1, (1, 3, 5, 7)).astype(np.float32))
    got = to_image(t, 8, padding=(1, 1))
    want = np.pad(_torch_to_image(t, False), ((0, 1), (0, 1), (0, 0)), mode="edge")
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


def test_round_trip_of_a_frame_is_exact():
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_image(to_tensor(image, torch.device("cpu")), 8), image)
    deep = rng.integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    np.testing.assert_array_equal(to_image(to_tensor(deep, torch.device("cpu")), 16), deep)


def test_kernel_writes_nan_as_black():
    planes = np.full((3, 1, 2), np.nan, np.float32)
    out = np.full((1, 2, 3), 9, np.uint8)
    _image_numba.chw_to_hwc(planes, 255.0, out)
    assert not out.any()


@pytest.mark.parametrize("layout", ["sbs-half", "tb-half"])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("bits", [8, 10])
def test_halved_image_is_pack_then_to_image(layout, swap, bits):
    from engine.jobs.frame import halved_image
    from engine.ops import pack

    rng = np.random.default_rng(13)
    left, right = (torch.from_numpy(rng.uniform(-0.1, 1.1, (1, 3, 6, 10)).astype(np.float32)) for _ in range(2))
    for padding in ((0, 0), (1, 1)):
        got = halved_image(left, right, layout, swap, bits, padding)
        want = to_image(pack(left, right, layout, swap_eyes=swap), bits, padding)
        assert got is not None and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_halved_image_leaves_other_layouts_and_odd_sizes_to_pack():
    from engine.jobs.frame import halved_image

    eye = torch.zeros((1, 3, 5, 7))
    assert halved_image(eye, eye, "sbs-half", False, 8) is None  # odd width: area resize
    assert halved_image(eye, eye, "tb-half", False, 8) is None  # odd height
    assert halved_image(eye, eye, "sbs-full", False, 8) is None
    assert halved_image(eye[..., :6], eye[..., :6], "sbs-half", False, 32) is None  # float output
