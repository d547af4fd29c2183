"""Real-data quality: our right view (splat + fill) beats a naive forward warp against the real right image.

For every Middlebury 2001/2003 pair in ../shared/data (plus scikit-image's Middlebury 2014
Motorcycle), the ground-truth disparity of the left image is used as-is (depth kind
``disparity-px``; 0 / inf = unknown -> NaN, does not splat) with synthesize="right"
(left = original, right = splat(scale=1) + fill). The baseline is a nearest-pixel forward warp
round(x - d), last write wins in scan order, holes left black, unknown pixels not splatted.

Metrics (PSNR, SSIM from skimage.metrics, RGB in [0, 1]) cover the whole image except the
right-most ceil(max d) columns of the right view: there the right camera sees content that
lies beyond the left image's right edge (x_L = x_R + d >= W), which no warp can produce.
The table is printed at the end of the module whether or not output capture is on.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from engine.ops import render_views

SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
DATA = SHARED_DATA / "stereo_pairs" / "middlebury_2001_2003"
MIDDLEBURY = {  # name: (left, right, GT disparity of the left image, divisor)
    "tsukuba": ("im3.png", "im4.png", "disp3.pgm", 16),
    "venus": ("im2.png", "im6.png", "disp2.pgm", 8),
    "teddy": ("im2.png", "im6.png", "disp2.png", 4),
    "cones": ("im2.png", "im6.png", "disp2.png", 4),
}
PAIRS = [*MIDDLEBURY, "motorcycle"]
ROWS: list[dict[str, float | str]] = []


def _rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {path}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def load_pair(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left, right) (H, W, 3) float32 in [0, 1] and the left GT disparity (H, W) px, NaN = unknown."""
    if name == "motorcycle":
        from skimage import data

        left, right, disp = data.stereo_motorcycle()
        disp = disp.astype(np.float32)
        disp[~np.isfinite(disp) | (disp <= 0)] = np.nan
        return left.astype(np.float32) / 255.0, right.astype(np.float32) / 255.0, disp
    folder = DATA / name
    if not folder.is_dir():
        pytest.skip(f"Middlebury data not found at {folder} (shared test data absent)")
    lname, rname, dname, divisor = MIDDLEBURY[name]
    raw = cv2.imread(str(folder / dname), cv2.IMREAD_UNCHANGED).astype(np.float32)
    disp = np.where(raw == 0, np.nan, raw / divisor).astype(np.float32)
    return _rgb(folder / lname), _rgb(folder / rname), disp


def naive_forward_warp(left: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Nearest-pixel forward warp x_R = round(x_L - d), last write (in x order) wins, holes black."""
    h, w, _ = left.shape
    out = np.zeros_like(left)
    rows = np.arange(h)
    for x in range(w):
        target = np.rint(x - disp[:, x])
        ok = np.isfinite(target) & (target >= 0) & (target < w)
        out[rows[ok], target[ok].astype(np.int64), :] = left[rows[ok], x, :]
    return out


def metrics(image: np.ndarray, reference: np.ndarray, crop: int) -> tuple[float, float]:
    a, b = image[:, : image.shape[1] - crop], reference[:, : reference.shape[1] - crop]
    psnr = peak_signal_noise_ratio(b, a, data_range=1.0)
    ssim = structural_similarity(b, a, channel_axis=2, data_range=1.0)
    return float(psnr), float(ssim)


@pytest.fixture(scope="module", autouse=True)
def print_table(request):
    yield
    if not ROWS:
        return
    lines = [
        "",
        "Right view vs the real right image (GT disparity as-is, synthesize='right'; metrics exclude the "
        "right-most ceil(max d) columns)",
        f"{'pair':<11}{'size':>10}{'crop':>6}{'holes%':>8}  {'PSNR naive':>10}{'splat':>8}{'ours':>8}"
        f"  {'SSIM naive':>10}{'splat':>8}{'ours':>8}",
    ]
    for r in ROWS:
        lines.append(
            f"{r['pair']:<11}{r['size']:>10}{r['crop']:>6}{r['holes']:>8.2f}  {r['psnr_naive']:>10.2f}"
            f"{r['psnr_splat']:>8.2f}{r['psnr_ours']:>8.2f}  {r['ssim_naive']:>10.4f}{r['ssim_splat']:>8.4f}"
            f"{r['ssim_ours']:>8.4f}"
        )
    lines.append("naive = round(x - d), last write wins, holes black; splat = ours before fill; "
                 "ours = splat + fill")
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        print("\n".join(lines))
        return
    with capman.global_and_fixture_disabled():
        print("\n".join(lines))


@pytest.mark.parametrize("name", PAIRS)
def test_right_view_beats_naive_forward_warp(name):
    left, right, disp = load_pair(name)
    image = torch.from_numpy(left).permute(2, 0, 1).unsqueeze(0).contiguous()
    d = torch.from_numpy(disp).view(1, 1, *disp.shape)
    views = render_views(image, d, synthesize="right")
    assert torch.equal(views.left, image)
    ours = views.right[0].permute(1, 2, 0).numpy()
    holes = views.right_holes[0, 0].numpy()
    splat_only = np.where(holes[..., None], 0.0, ours).astype(np.float32)
    naive = naive_forward_warp(left, disp)
    crop = math.ceil(float(np.nanmax(disp)))

    psnr_ours, ssim_ours = metrics(ours, right, crop)
    psnr_naive, ssim_naive = metrics(naive, right, crop)
    psnr_splat, ssim_splat = metrics(splat_only, right, crop)
    ROWS.append({
        "pair": name, "size": f"{left.shape[1]}x{left.shape[0]}", "crop": crop, "holes": 100 * holes.mean(),
        "psnr_naive": psnr_naive, "psnr_splat": psnr_splat, "psnr_ours": psnr_ours,
        "ssim_naive": ssim_naive, "ssim_splat": ssim_splat, "ssim_ours": ssim_ours,
    })
    assert np.isfinite(ours).all() and ours.min() >= 0.0 and ours.max() <= 1.0
    assert psnr_ours > psnr_naive, f"{name}: PSNR {psnr_ours:.2f} <= naive {psnr_naive:.2f}"
    assert ssim_ours > ssim_naive, f"{name}: SSIM {ssim_ours:.4f} <= naive {ssim_naive:.4f}"
