"""engine.metrics.unpack: packed masters split back into the eyes engine.ops.pack put there."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from engine.errors import UsageError
from engine.metrics.unpack import crop_eye, infer_eye_size, packed_extent, unpack
from engine.ops import pack, packed_size


def smooth_eye(seed: int, w: int, h: int) -> np.ndarray:
    """(h, w, 3) float32 smooth random image in [0, 1] (survives a 2:1 squeeze well)."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 3.0)
    return (img - img.min()) / (img.max() - img.min())


def packed_frame(left: np.ndarray, right: np.ndarray, layout: str, swap: bool = False) -> np.ndarray:
    """The delivered frame, packed by the engine's own packer, edge-padded to even sizes as plan does."""
    def tensor(x):
        return torch.from_numpy(x).permute(2, 0, 1)[None]

    out = pack(tensor(left), tensor(right), layout, swap_eyes=swap)[0].permute(1, 2, 0).numpy()
    return np.pad(out, ((0, out.shape[0] % 2), (0, out.shape[1] % 2), (0, 0)), mode="edge")


@pytest.mark.parametrize("layout", ["sbs-full", "tb-full", "sbs-half", "tb-half"])
@pytest.mark.parametrize("size", [(64, 48), (63, 47)])
def test_unpack_inverts_pack(layout, size):
    w, h = size
    left, right = smooth_eye(1, w, h), smooth_eye(2, w, h)
    frame = packed_frame(left, right, layout)
    eye = infer_eye_size((frame.shape[1], frame.shape[0]), layout, (w, h))
    assert eye == (w, h)
    got_l, got_r = unpack(frame, layout, eye)
    assert got_l.shape == got_r.shape == (h, w, 3)
    if layout.endswith("full"):
        np.testing.assert_array_equal(got_l, left)
        np.testing.assert_array_equal(got_r, right)
    else:  # squeezed by area, stretched back bilinearly: close, and each eye far closer to itself
        for got, true, other in ((got_l, left, right), (got_r, right, left)):
            err = np.abs(got - true)[2:-2, 2:-2].mean()
            assert err < 0.02 and err < 0.2 * np.abs(got - other).mean()


def test_swapped_masters_come_back_in_the_right_order():
    left, right = smooth_eye(1, 32, 24), smooth_eye(2, 32, 24)
    frame = packed_frame(left, right, "sbs-full", swap=True)
    got_l, got_r = unpack(frame, "sbs-full", (32, 24), swap_eyes=True)
    np.testing.assert_array_equal(got_l, left)
    np.testing.assert_array_equal(got_r, right)


def test_extent_matches_the_packer():
    for layout in ("sbs-full", "sbs-half", "tb-full", "tb-half", "pair"):
        for w, h in ((64, 48), (63, 47), (17, 9)):
            assert packed_extent((w, h), layout) == packed_size(w, h, layout)


def test_eye_size_of_a_downscaled_master_keeps_the_source_aspect():
    # --max-width 320 on a 640x360 source: eyes 320x180
    assert infer_eye_size((640, 180), "sbs-full", (640, 360)) == (320, 180)
    assert infer_eye_size((320, 360), "tb-full", (640, 360)) == (320, 180)
    assert infer_eye_size((320, 180), "pair", (640, 360)) == (320, 180)
    assert infer_eye_size((320, 180), "sbs-half", (640, 360)) == (320, 180)
    assert infer_eye_size((500, 100), "sbs-full", (640, 360)) is None  # not this source's shape


def test_pair_eyes_lose_their_padding_and_bad_frames_are_refused():
    frame = np.zeros((48, 64, 3), np.uint8)
    assert crop_eye(frame, (63, 47)).shape == (47, 63, 3)
    with pytest.raises(ValueError, match="not a"):
        crop_eye(frame, (40, 30))
    with pytest.raises(ValueError, match="does not hold"):
        unpack(frame, "sbs-full", (40, 48))
    with pytest.raises(ValueError, match="crop_eye"):
        unpack(frame, "pair", (64, 48))


@pytest.mark.parametrize("layout", ["anaglyph", "anaglyph-half-colour", "side-by-side"])
def test_layouts_that_cannot_be_unpacked_are_usage_errors(layout):
    with pytest.raises(UsageError):
        unpack(np.zeros((8, 8, 3)), layout, (4, 8))
    with pytest.raises(UsageError):
        infer_eye_size((8, 8), layout, (4, 8))
