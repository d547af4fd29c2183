"""HDR (PQ / HLG, BT.2020) to SDR (BT.709, BT.1886 display) tone mapping, for `--tonemap`.

On request only (issue 15: an 8-bit master of an HDR source is otherwise left in its own transfer and a
note says so). Per pixel, on the non-linear BT.2020 RGB the reader decodes:

1. to display light in cd/m²: the PQ EOTF (SMPTE ST 2084), or for HLG the inverse OETF and the
   BT.2100 OOTF at a 1000 cd/m² display (system gamma 1.2);
2. BT.2020 -> BT.709 primaries (linear 3x3, BT.2087);
3. luminance tone curve: extended Reinhard on L = Y / 203 (BT.2408 HDR reference white = SDR 100 %)
   with the white point at the peak (the mastering display's maximum, else 1000 cd/m²), colour kept
   by scaling RGB with the luminance ratio, then clipped to [0, 1];
4. BT.1886 inverse EOTF (gamma 2.4) to the SDR signal.
"""

from __future__ import annotations

import numpy as np

REFERENCE_WHITE = 203.0
_M1, _M2 = 2610 / 16384, 2523 / 4096 * 128
_C1, _C2, _C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
_HLG_A, _HLG_B, _HLG_C = 0.17883277, 0.28466892, 0.55991073
BT2020_TO_BT709 = np.array([[1.6605, -0.5876, -0.0728],
                            [-0.1246, 1.1329, -0.0083],
                            [-0.0182, -0.1006, 1.1187]], np.float32)
_LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)


def pq_eotf(signal: np.ndarray) -> np.ndarray:
    """PQ signal in [0, 1] -> display light, cd/m² (0..10000)."""
    p = np.power(np.clip(signal, 0.0, 1.0), 1 / _M2)
    return 10000.0 * np.power(np.maximum(p - _C1, 0.0) / (_C2 - _C3 * p), 1 / _M1)


def hlg_display(signal: np.ndarray, peak: float = 1000.0) -> np.ndarray:
    """HLG signal (H, W, 3) in [0, 1] -> display light, cd/m² (inverse OETF, then the OOTF at `peak`)."""
    e = np.clip(signal, 0.0, 1.0)
    scene = np.where(e <= 0.5, e * e / 3.0, (np.exp((e - _HLG_C) / _HLG_A) + _HLG_B) / 12.0)
    ys = np.maximum(scene @ np.array([0.2627, 0.6780, 0.0593], np.float32), 1e-6)[..., None]
    return peak * np.power(ys, 0.2) * scene


def peak_nits(mastering_display: str | None) -> float:
    """The mastering display's maximum luminance (from x265 'L(max,min)' syntax), else 1000 cd/m²."""
    if mastering_display and "L(" in mastering_display:
        try:
            return max(100.0, int(mastering_display.split("L(")[1].split(",")[0]) / 10000.0)
        except (ValueError, IndexError):
            pass
    return 1000.0


def tonemap_to_sdr(image: np.ndarray, transfer: str, peak: float = 1000.0) -> np.ndarray:
    """(H, W, 3) uint8/uint16 non-linear BT.2020 RGB (PQ 'smpte2084' or HLG 'arib-std-b67') ->
    the same dtype, SDR BT.709 RGB (BT.1886 signal)."""
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    signal = image.astype(np.float32) / scale
    nits = pq_eotf(signal) if transfer == "smpte2084" else hlg_display(signal)
    linear = np.maximum(nits @ BT2020_TO_BT709.T, 0.0) / REFERENCE_WHITE
    lum = np.maximum(linear @ _LUMA_709, 1e-9)[..., None]
    white = peak / REFERENCE_WHITE
    mapped = lum * (1.0 + lum / (white * white)) / (1.0 + lum)
    sdr = np.clip(linear * (mapped / lum), 0.0, 1.0)
    return (np.power(sdr, 1 / 2.4) * scale + 0.5).astype(image.dtype)


__all__ = ["BT2020_TO_BT709", "REFERENCE_WHITE", "hlg_display", "peak_nits", "pq_eotf", "tonemap_to_sdr"]
