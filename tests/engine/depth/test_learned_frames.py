"""engine.depth.learned.frames: batching and the torch preprocessing of learned providers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.depth.learned.frames import (
    batched,
    fit_long_side,
    frames_to_tensor,
    resize_depth,
    resize_images,
    resize_normalise,
    to_numpy_maps,
    working_size,
)


@pytest.mark.parametrize(
    ("h", "w", "expected"),
    [
        (720, 1280, (518, 924)),  # 16:9: short side 518, long 920.9 -> nearest multiple of 14
        (1080, 1920, (518, 924)),
        (1280, 720, (924, 518)),  # portrait
        (518, 518, (518, 518)),
        (48, 64, (518, 686)),  # upscales small frames too (690.7 -> 686)
    ],
)
def test_working_size_short_side_and_patch_multiple(h: int, w: int, expected: tuple[int, int]) -> None:
    out = working_size(h, w, 518, 14)
    assert out == expected
    assert out[0] % 14 == 0 and out[1] % 14 == 0
    assert abs(out[1] / out[0] - w / h) < 14 / min(out)  # aspect kept within a patch


def test_working_size_never_below_one_patch() -> None:
    assert working_size(10, 4000, 14, 14) == (14, 5600)
    assert working_size(4000, 10, 3, 14) == (1204, 14)  # 3 / 10 scale: 1200 -> 1204, 3 -> 14
    with pytest.raises(ValueError):
        working_size(0, 10, 518, 14)


def test_batched_groups_by_size_and_shape_changes_close_a_batch() -> None:
    small = [np.zeros((4, 6, 3), np.uint8)] * 5
    big = [np.zeros((8, 6, 3), np.uint8)] * 2
    batches = list(batched(iter(small + big), 2))
    assert [len(b) for b in batches] == [2, 2, 1, 2]
    assert batches[2][0].shape == (4, 6, 3) and batches[3][0].shape == (8, 6, 3)


def test_batched_reads_ahead_at_most_one_batch() -> None:
    consumed = []

    def frames():
        for i in range(10):
            consumed.append(i)
            yield np.zeros((2, 2, 3), np.uint8)

    first = next(batched(frames(), 3))
    assert len(first) == 3 and len(consumed) <= 4


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.int32)]
)
def test_bad_frames_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="frames"):
        list(batched([bad], 1))


def test_frames_to_tensor_scales_every_dtype_to_unit_range() -> None:
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    u16 = u8.astype(np.uint16) * 257  # the same picture at 16 bits
    f32 = u8.astype(np.float32) / 255.0
    a, b, c = (frames_to_tensor([x], torch.device("cpu")) for x in (u8, u16, f32))
    assert a.shape == (1, 3, 5, 7) and a.dtype == torch.float32
    assert torch.allclose(a, b, atol=1e-6) and torch.allclose(a, c, atol=1e-6)
    assert torch.equal(a[0, 1], torch.from_numpy(f32[..., 1]))  # channel order kept: G is plane 1


def test_resize_normalise_applies_mean_std_and_size() -> None:
    images = torch.full((2, 3, 10, 20), 0.5)
    out = resize_normalise(images, (14, 28), (0.5, 0.25, 0.0), (1.0, 0.5, 0.25))
    assert out.shape == (2, 3, 14, 28)
    for channel, expected in enumerate((0.0, 0.5, 2.0)):
        assert torch.allclose(out[:, channel], torch.full((1,), expected), atol=1e-6)


def test_resize_depth_and_numpy_maps() -> None:
    depth = torch.arange(8.0).view(2, 2, 2)
    up = resize_depth(depth, (4, 4))
    assert up.shape == (2, 4, 4) and up.dtype == torch.float32
    assert torch.isclose(up[0].mean(), depth[0].mean())  # bilinear, half-pixel centres: mean preserved
    maps = list(to_numpy_maps(up))
    assert len(maps) == 2 and maps[1].dtype == np.float32 and maps[1].flags.c_contiguous
    assert maps[1][0, 0] == pytest.approx(4.0) and maps[1][-1, -1] == pytest.approx(7.0)


def test_fit_long_side_floors_like_marigold() -> None:
    assert fit_long_side(720, 1280, 768) == (432, 768)
    assert fit_long_side(1280, 721, 768) == (768, 432)  # 721 * 768 // 1280 = 432.6 floored
    assert fit_long_side(1, 5000, 768) == (1, 768)


def test_resize_images_is_float32_and_keeps_range() -> None:
    images = torch.rand(2, 3, 30, 50, dtype=torch.float64)
    out = resize_images(images, (12, 20))
    assert out.shape == (2, 3, 12, 20) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.allclose(out.mean(), images.float().mean(), atol=0.02)  # antialiased: local means kept
    assert resize_images(images, (30, 50)).dtype == torch.float32
