"""engine.metrics.image: PSNR and SSIM agree with scikit-image; masked versions select pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from engine.metrics.image import as_unit_float, mse, psnr, ssim, ssim_map

SK = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def noisy_pair(shape: tuple[int, ...], seed: int = 0, sigma: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    return a, np.clip(a + sigma * rng.standard_normal(shape), 0.0, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_matches_skimage_on_random_rgb(seed):
    a, b = noisy_pair((37, 52, 3), seed, sigma=0.05 * (seed + 1))
    ours = ssim(a, b)
    theirs = structural_similarity(a, b, data_range=1.0, channel_axis=-1, **SK)
    assert abs(ours - theirs) < 1e-3
    assert abs(ours - theirs) < 1e-6  # same settings: float rounding only


def test_ssim_matches_skimage_on_grey_and_uint8():
    a, b = noisy_pair((40, 40))
    assert ssim(a, b) == pytest.approx(structural_similarity(a, b, data_range=1.0, **SK), abs=1e-6)
    a8, b8 = (np.round(x * 255).astype(np.uint8) for x in (a, b))
    theirs = structural_similarity(a8, b8, data_range=255, **SK)
    assert ssim(a8, b8) == pytest.approx(theirs, abs=1e-6)


def test_masked_ssim_is_the_mean_of_skimages_full_map_over_the_mask():
    a, b = noisy_pair((30, 44, 3), seed=4)
    _, full = structural_similarity(a, b, data_range=1.0, channel_axis=-1, full=True, **SK)
    mask = np.zeros((30, 44), bool)
    mask[:, :6] = True  # a border strip, where view-synthesis holes usually are
    mask[12:20, 25:31] = True
    assert np.abs(ssim_map(a, b) - full.mean(axis=2)).max() < 1e-6
    assert ssim(a, b, mask) == pytest.approx(full.mean(axis=2)[mask].mean(), abs=1e-6)


def test_ssim_of_identical_images_is_one_and_drops_with_noise():
    a, b = noisy_pair((32, 32, 3), sigma=0.2)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, b) < 0.9


def test_psnr_matches_skimage_and_masks_select_pixels():
    a, b = noisy_pair((20, 30, 3), seed=3)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-6)
    a8, b8 = (np.round(x * 255).astype(np.uint8) for x in (a, b))
    assert psnr(a8, b8) == pytest.approx(peak_signal_noise_ratio(a8, b8, data_range=255), abs=1e-6)
    mask = np.zeros((20, 30), bool)
    mask[5:9, 10:20] = True
    expected = 10 * math.log10(1.0 / np.mean((a[mask] - b[mask]) ** 2))
    assert psnr(a, b, mask) == pytest.approx(expected, abs=1e-6)


def test_masked_psnr_sees_only_the_damaged_region():
    a = np.full((16, 16, 3), 0.5)
    b = a.copy()
    b[:4, :4] += 0.1  # damage in one corner only
    corner = np.zeros((16, 16), bool)
    corner[:4, :4] = True
    assert psnr(a, b, corner) == pytest.approx(20.0)  # MSE 0.01 there
    assert psnr(a, b, ~corner) == math.inf
    assert psnr(a, b) == pytest.approx(20.0 + 10 * math.log10(16))  # 1/16 of the pixels damaged
    assert mse(a, b, np.zeros((16, 16), bool)) is None
    assert psnr(a, b, np.zeros((16, 16), bool)) is None
    assert ssim(a, b, np.zeros((16, 16), bool)) is None


def test_integer_scales_and_shape_checks():
    img16 = np.full((2, 2, 3), 65535, np.uint16)
    np.testing.assert_allclose(as_unit_float(img16), 1.0)
    np.testing.assert_allclose(as_unit_float(np.full((2, 2), 51, np.uint8)), 0.2)
    with pytest.raises(ValueError, match="differ"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="mask"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="at least 11"):
        ssim(np.zeros((8, 20, 3)), np.zeros((8, 20, 3)))
    with pytest.raises(ValueError, match="int32"):
        as_unit_float(np.zeros((2, 2), np.int32))
