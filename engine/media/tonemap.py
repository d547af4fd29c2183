"""HDR (PQ / HLG, BT.2020) to SDR (BT.709, BT.1886 display) tone mapping, for `--tonemap`.

On request only (issue 15: an 8-bit master of an HDR source is otherwise left in its own transfer and a
note says so). The operator is the ITU-R BT.2390 EETF (report BT.2390-11 §5.4: a Hermite knee in the PQ
domain), as libplacebo/mpv use it by default for HDR -> SDR, with BT.2408's mapping of HDR reference white
(203 cd/m²) to SDR 100 %. Per pixel, on the non-linear BT.2020 RGB the reader decodes:

1. to display light in cd/m²: the PQ EOTF (SMPTE ST 2084), or for HLG the inverse OETF and the
   BT.2100 OOTF at a 1000 cd/m² display (system gamma 1.2);
2. the BT.2390 EETF on the luminance Y (BT.2020 weights), PQ-encoded: source white = the mastering
   display's peak (else 1000 cd/m²), target peak = 203 cd/m² (the SDR display's white, BT.2408), source
   and target black 0; below the knee KS = 1.5·maxLum − 0.5 (in normalised PQ) light passes unchanged
   (so everything up to ~100 cd/m² keeps its level), above it a Hermite spline rolls the highlights off
   to the target peak. RGB is scaled by Y'/Y, which keeps hue and saturation (a per-channel EETF would
   desaturate highlights toward white);
3. BT.2020 -> BT.709 primaries (linear 3x3, BT.2087), divided by the target peak (SDR linear, 1 =
   white); a colour still outside [0, 1] (saturated highlights, BT.2020 colours BT.709 lacks) is moved
   toward its own grey just far enough (:func:`fit_gamut`: luminance and hue kept, saturation given up);
4. BT.1886 inverse EOTF (gamma 2.4) to the SDR signal.

Why BT.2390 rather than a global curve (Reinhard, Hable): it is the ITU's reference for display
mapping, it is the identity over the range an SDR display can show (mid-tones and skin keep their
levels, so the SDR master matches the HDR grade where it can) and it uses the mastering peak, so a
1000 cd/m² and a 4000 cd/m² grade each roll off over their own range.
"""

from __future__ import annotations

import numpy as np

REFERENCE_WHITE = 203.0
"""HDR reference white, cd/m² (BT.2408): the SDR target's peak (SDR 100 %)."""
_M1, _M2 = 2610 / 16384, 2523 / 4096 * 128
_C1, _C2, _C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
_HLG_A, _HLG_B, _HLG_C = 0.17883277, 0.28466892, 0.55991073
BT2020_TO_BT709 = np.array([[1.6605, -0.5876, -0.0728],
                            [-0.1246, 1.1329, -0.0083],
                            [-0.0182, -0.1006, 1.1187]], np.float32)
_LUMA_2020 = np.array([0.2627, 0.6780, 0.0593], np.float32)
_LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)


def pq_eotf(signal: np.ndarray) -> np.ndarray:
    """PQ signal in [0, 1] -> display light, cd/m² (0..10000)."""
    p = np.power(np.clip(signal, 0.0, 1.0), 1 / _M2)
    return 10000.0 * np.power(np.maximum(p - _C1, 0.0) / (_C2 - _C3 * p), 1 / _M1)


def pq_inverse_eotf(nits: np.ndarray) -> np.ndarray:
    """Display light, cd/m² -> PQ signal in [0, 1] (SMPTE ST 2084; inverse of :func:`pq_eotf`)."""
    y = np.power(np.clip(np.asarray(nits, np.float64) / 10000.0, 0.0, 1.0), _M1)
    return np.power((_C1 + _C2 * y) / (1.0 + _C3 * y), _M2)


def hlg_display(signal: np.ndarray, peak: float = 1000.0) -> np.ndarray:
    """HLG signal (H, W, 3) in [0, 1] -> display light, cd/m² (inverse OETF, then the OOTF at `peak`)."""
    e = np.clip(signal, 0.0, 1.0)
    scene = np.where(e <= 0.5, e * e / 3.0, (np.exp((e - _HLG_C) / _HLG_A) + _HLG_B) / 12.0)
    ys = np.maximum(scene @ _LUMA_2020, 1e-6)[..., None]
    return peak * np.power(ys, 0.2) * scene


def bt2390_eetf(signal: np.ndarray, source_peak: float, target_peak: float = REFERENCE_WHITE) -> np.ndarray:
    """The BT.2390 EETF on PQ signals: a source graded on a `source_peak` display -> PQ signals for a
    `target_peak` display (cd/m²; black 0 on both). Identity when the target is as bright as the source.

    Args:
        signal: any shape, PQ signal in [0, 1].
    Returns:
        the same shape, PQ signal (float64), at most PQ(target_peak).
    """
    lw = float(pq_inverse_eotf(source_peak))
    e1 = np.clip(np.asarray(signal, np.float64) / lw, 0.0, 1.0)  # normalised to the source range (black 0)
    max_lum = float(pq_inverse_eotf(target_peak)) / lw
    if max_lum >= 1.0:
        return e1 * lw
    ks = max(1.5 * max_lum - 0.5, 0.0)
    t = (e1 - ks) / (1.0 - ks)
    t2, t3 = t * t, t * t * t
    spline = (2 * t3 - 3 * t2 + 1) * ks + (t3 - 2 * t2 + t) * (1 - ks) + (-2 * t3 + 3 * t2) * max_lum
    return np.where(e1 < ks, e1, spline) * lw


def peak_nits(mastering_display: str | None) -> float:
    """The mastering display's maximum luminance (from x265 'L(max,min)' syntax), else 1000 cd/m²."""
    if mastering_display and "L(" in mastering_display:
        try:
            return max(100.0, int(mastering_display.split("L(")[1].split(",")[0]) / 10000.0)
        except (ValueError, IndexError):
            pass
    return 1000.0


def tonemap_nits(nits: np.ndarray, peak: float) -> np.ndarray:
    """(..., 3) BT.2020 display light (cd/m²) -> (..., 3) BT.709 SDR linear light in [0, 1] (1 = SDR white):
    the BT.2390 EETF on luminance (`peak` = the source's mastering peak), then the primaries."""
    y = np.maximum(nits @ _LUMA_2020, 0.0)
    mapped = pq_eotf(bt2390_eetf(pq_inverse_eotf(y), peak, REFERENCE_WHITE))
    ratio = np.where(y > 1e-9, mapped / np.maximum(y, 1e-9), 0.0)[..., None]
    linear = ((nits * ratio).astype(np.float32) @ BT2020_TO_BT709.T) / REFERENCE_WHITE
    return fit_gamut(linear)


def fit_gamut(linear: np.ndarray) -> np.ndarray:
    """(..., 3) BT.709 linear light whose luminance is in [0, 1] -> the same inside [0, 1] per channel: a
    colour with a channel above 1 or below 0 is moved toward its own grey (same luminance) just far enough,
    which keeps its luminance and hue and gives up saturation (clipping each channel would shift the hue)."""
    y = np.clip(linear @ _LUMA_709, 0.0, 1.0)[..., None]
    hi, lo = linear.max(axis=-1, keepdims=True), linear.min(axis=-1, keepdims=True)
    k_hi = np.where(hi > 1.0, (1.0 - y) / np.maximum(hi - y, 1e-9), 1.0)
    k_lo = np.where(lo < 0.0, y / np.maximum(y - lo, 1e-9), 1.0)
    k = np.clip(np.minimum(k_hi, k_lo), 0.0, 1.0)
    return np.clip(y + k * (linear - y), 0.0, 1.0).astype(np.float32)


def tonemap_to_sdr(image: np.ndarray, transfer: str, peak: float = 1000.0) -> np.ndarray:
    """(H, W, 3) uint8/uint16 non-linear BT.2020 RGB (PQ 'smpte2084' or HLG 'arib-std-b67') ->
    the same dtype, SDR BT.709 RGB (BT.1886 signal). `peak`: the mastering display's, cd/m² (HLG: 1000)."""
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    signal = image.astype(np.float32) / scale
    nits = pq_eotf(signal) if transfer == "smpte2084" else hlg_display(signal)
    sdr = tonemap_nits(nits, peak if transfer == "smpte2084" else 1000.0)
    return (np.power(sdr, 1 / 2.4) * scale + 0.5).astype(image.dtype)


__all__ = ["BT2020_TO_BT709", "REFERENCE_WHITE", "bt2390_eetf", "fit_gamut", "hlg_display", "peak_nits", "pq_eotf",
           "pq_inverse_eotf", "tonemap_nits", "tonemap_to_sdr"]
