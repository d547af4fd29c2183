"""A still's depth as `convert IMAGE --export-depth DIR` writes it ranks pixels at least as well as the vertical prior.

For each real still with ground-truth disparity (Middlebury 2001/2003 left views, scikit-image's
Motorcycle), the exported 16-bit nearness PNG is compared with the ground truth by Spearman rank
correlation (nearness and disparity both grow towards the camera), and so is the plain vertical
ramp. The held-out version of this check (the blend chosen on the other stills) is
``python bench/eval_depth.py --safety-only``; this test runs the product's command with its defaults.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.stats import spearmanr

from engine import api
from tests.support.stereo_protocol import PAIRS, load_pair

pytestmark = pytest.mark.slow


def _spearman(pred: np.ndarray, gt: np.ndarray) -> float:
    valid = np.isfinite(gt) & (gt > 0)
    return float(spearmanr(pred[valid], gt[valid]).statistic)


@pytest.mark.parametrize("name", PAIRS)
def test_exported_still_depth_never_ranks_worse_than_the_vertical_prior(name, tmp_path):
    try:
        left, _, gt = load_pair(name)
    except FileNotFoundError as exc:
        pytest.skip(f"shared test data absent: {exc}")
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), cv2.cvtColor(left, cv2.COLOR_RGB2BGR))
    request = api.ConvertRequest(input=still, output=tmp_path / "sbs.png", use_cache=False,
                                 export_depth=api.DepthExportSpec(tmp_path / "depth", "png16"))
    for _ in api.convert(request):
        pass
    (png,) = sorted((tmp_path / "depth").glob("*.png"))
    nearness = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    assert nearness.dtype == np.uint16 and nearness.shape == gt.shape
    ramp = np.repeat(np.linspace(0.0, 1.0, gt.shape[0])[:, None], gt.shape[1], axis=1)
    ours, vertical = _spearman(nearness.astype(np.float64), gt), _spearman(ramp, gt)
    assert ours >= vertical, f"{name}: Spearman {ours:.3f} < vertical prior {vertical:.3f}"
