"""--tonemap's operator: the BT.2390 EETF in the PQ domain, on luminance, BT.2408 reference white as SDR white."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.tonemap import (
    REFERENCE_WHITE,
    bt2390_eetf,
    pq_eotf,
    pq_inverse_eotf,
    tonemap_nits,
    tonemap_to_sdr,
)


def test_pq_curve_matches_st2084_reference_points():
    # BT.2408 / ST 2084 tables: 100 cd/m² = 0.508, HDR reference white 203 cd/m² = 0.581 (58 %), 1000 = 0.752
    assert pq_inverse_eotf(100.0) == pytest.approx(0.5081, abs=2e-4)
    assert pq_inverse_eotf(203.0) == pytest.approx(0.5807, abs=2e-4)
    assert pq_inverse_eotf(1000.0) == pytest.approx(0.7518, abs=2e-4)
    nits = np.array([0.0, 0.01, 1.0, 100.0, 1000.0, 10000.0])
    assert np.allclose(pq_eotf(pq_inverse_eotf(nits)), nits, rtol=1e-4, atol=1e-6)


def test_eetf_is_the_identity_below_the_knee_and_lands_on_the_target_peak():
    source, target = 1000.0, REFERENCE_WHITE
    lw, max_lum = pq_inverse_eotf(source), pq_inverse_eotf(target) / pq_inverse_eotf(source)
    knee = (1.5 * max_lum - 0.5) * lw  # KS in PQ signal
    e = np.linspace(0.0, 1.0, 2001)
    out = bt2390_eetf(e, source, target)
    below = e < knee
    assert np.allclose(out[below], e[below])  # what an SDR display can show keeps its level
    assert np.all(np.diff(out) >= -1e-12)  # monotonic
    assert out.max() == pytest.approx(pq_inverse_eotf(target), abs=1e-9)  # the source peak -> the target peak
    assert out[e >= lw] == pytest.approx(pq_inverse_eotf(target), abs=1e-9)  # above the mastering peak: clipped
    step = e[1] - e[0]
    slope = np.diff(out) / step
    at = np.searchsorted(e, knee)
    assert slope[at - 2] == pytest.approx(1.0, abs=1e-6) and slope[at + 1] == pytest.approx(1.0, abs=2e-2)  # C1 knee
    assert np.allclose(bt2390_eetf(e[e <= lw], 1000.0, 4000.0), e[e <= lw], atol=1e-12)  # a brighter target: unchanged


def test_tonemap_keeps_mid_tones_and_hue_and_maps_the_peak_to_white():
    grey = np.array([[50.0, 50.0, 50.0], [1000.0, 1000.0, 1000.0], [4000.0, 4000.0, 4000.0]])
    sdr = tonemap_nits(grey, 1000.0)
    assert np.allclose(sdr[0], 50.0 / REFERENCE_WHITE, rtol=2e-3)  # below the knee: the HDR level
    assert np.allclose(sdr[1], 1.0, atol=2e-3) and np.allclose(sdr[2], 1.0, atol=2e-3)
    orange_nits = np.array([[600.0, 300.0, 60.0]])
    orange = tonemap_nits(orange_nits, 1000.0)[0]
    y = float(orange_nits[0] @ [0.2627, 0.6780, 0.0593])
    kept = pq_eotf(bt2390_eetf(pq_inverse_eotf(y), 1000.0)) / REFERENCE_WHITE
    assert orange.max() <= 1.0 and orange[0] > orange[1] > orange[2]  # rolled off, still orange
    assert float(orange @ [0.2126, 0.7152, 0.0722]) == pytest.approx(kept, rel=1e-3)  # its mapped luminance
    brighter = tonemap_nits(np.array([[60.0, 60.0, 60.0], [2000.0, 2000.0, 2000.0]]), 4000.0)
    assert brighter[1, 0] < 1.0  # a 4000 cd/m² grade rolls off over its own range


def test_tonemap_to_sdr_on_uint16_pq_and_hlg():
    pq = np.array([[[pq_inverse_eotf(50.0)] * 3, [pq_inverse_eotf(203.0)] * 3, [1.0] * 3]])
    image = (pq * 65535 + 0.5).astype(np.uint16)
    out = tonemap_to_sdr(image, "smpte2084", 1000.0).astype(np.float64) / 65535
    assert out[0, 0, 0] == pytest.approx((50 / REFERENCE_WHITE) ** (1 / 2.4), abs=3e-3)
    assert out[0, 0, 0] < out[0, 1, 0] < out[0, 2, 0] and out[0, 2, 0] == pytest.approx(1.0, abs=1e-4)
    hlg = tonemap_to_sdr(np.full((1, 2, 3), [[0, 0, 0], [65535, 65535, 65535]], np.uint16)[0:1], "arib-std-b67")
    assert hlg[0, 0, 0] == 0 and hlg[0, 1, 0] == 65535
