"""Sharp sub-pixel resampling of a splatted view: higher-order kernels where a surface is continuous.

The mesh splat (:mod:`engine.ops.splat`) interpolates colour linearly between the two source pixels
around each target pixel's source position. Linear interpolation is a low-pass filter: at a
half-pixel offset it halves the contrast of the finest detail, and rendered views look soft next to
the real other view. This pass re-samples every covered target pixel with a wider kernel
(Catmull-Rom cubic or Lanczos-3) at the same source position, but only where all the kernel's taps
lie on the same surface as the target pixel (their disparity within ``tolerance`` of it). Next to a
depth edge a wider kernel would reach far into the other layer; there the pixel is interpolated
linearly between the two source pixels around its position, which also replaces the splat's
half-pixel end caps (a nearest-pixel copy) by the mix of the two layers a real pixel on an outline
records.

The source position of target pixel j is s = j + scale * d_t(j), d_t the splatted (target-view)
disparity: along a mesh segment the disparity is interpolated linearly, so this is exactly the
position the splat interpolated at (x + a for segment x, weight a). Rows are independent; the
vertical position never changes.

Kernel weights come from one float32 table per kernel (``PHASES`` + 1 sub-pixel phases, rows
normalised to sum 1), shared by the torch reference and the numba CPU path, which agree bit for bit.
Results are clamped to the range of the taps, so the sharper kernels add no ringing beyond the data.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import torch
from torch import Tensor

from engine.ops import _resample_numba
from engine.ops._splat_numba import as_f32_array, use_numba

KERNELS = ("linear", "cubic", "lanczos3")
PHASES = 256
DEFAULT_TOLERANCE_PX = 1.0


@cache
def kernel_table(kernel: str) -> np.ndarray:
    """Tap weights of `kernel` for PHASES + 1 fractional positions f = k / PHASES.

    Args:
        kernel: "cubic" (Keys, a = -0.5: Catmull-Rom; taps x0-1 .. x0+2) or "lanczos3" (taps x0-2 .. x0+3).
    Returns:
        (PHASES + 1, taps) float32, each row summing to 1; tap i weighs pixel x0 - taps/2 + 1 + i.
    """
    if kernel == "cubic":
        radius, a = 2, -0.5

        def weight(x: np.ndarray) -> np.ndarray:
            x = np.abs(x)
            near = (a + 2) * x**3 - (a + 3) * x**2 + 1
            far = a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
            return np.where(x <= 1, near, np.where(x < 2, far, 0.0))
    elif kernel == "lanczos3":
        radius = 3

        def weight(x: np.ndarray) -> np.ndarray:
            return np.where(np.abs(x) < radius, np.sinc(x) * np.sinc(x / radius), 0.0)
    else:
        raise ValueError(f"no tap table for kernel {kernel!r}; use 'cubic' or 'lanczos3'")
    f = np.arange(PHASES + 1, dtype=np.float64)[:, None] / PHASES
    taps = np.arange(2 * radius, dtype=np.float64)[None, :] - (radius - 1)
    w = weight(f - taps)
    w[np.abs(w) < 1e-7] = 0.0  # exact zeros at whole-pixel phases: an integer shift stays exact
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def sharpen_resample(
    warped: Tensor,
    holes: Tensor,
    image: Tensor,
    disparity: Tensor,
    target_disparity: Tensor,
    scale: float,
    kernel: str = "lanczos3",
    *,
    tolerance: float = DEFAULT_TOLERANCE_PX,
    backend: str = "auto",
) -> Tensor:
    """Re-sample the covered pixels of a splatted view with a sharper kernel where the surface is continuous.

    Args:
        warped: (B, C, H, W) float, the splat's view (kept at holes and next to depth edges).
        holes: (B, 1, H, W) bool, the splat's holes (left untouched).
        image: (B, C, H, W) float, the source view that was splatted.
        disparity: (B, 1, H, W) source disparity in px (non-finite = unknown).
        target_disparity: (B, 1, H, W) float32, the splat's target-view disparity (unscaled source units).
        scale: the splat scale (target x = source x - scale * d).
        kernel: "linear" (returns `warped` unchanged), "cubic" or "lanczos3".
        tolerance: a tap counts as the same surface when |d(tap) - d_t(j)| <= tolerance (source px).
        backend: "auto" (numba on CPU, torch elsewhere), "numba" or "torch".
    Returns:
        (B, C, H, W) in `warped`'s dtype: a new tensor (or `warped` itself for "linear").
    """
    _check(warped, holes, image, disparity, target_disparity, scale, kernel, tolerance)
    if kernel == "linear":
        return warped
    table = kernel_table(kernel)
    if use_numba(warped.device, backend):
        b, c, h, w = warped.shape
        out = warped.detach().to(torch.float32, copy=True).contiguous()
        _resample_numba.resample_rows(
            as_f32_array(image), as_f32_array(disparity).reshape(b, h, w),
            as_f32_array(target_disparity).reshape(b, h, w), holes.contiguous().numpy().reshape(b, h, w),
            float(scale), float(tolerance), table, out.numpy(),
        )
        return out.to(warped.dtype)
    return _resample_torch(warped, holes, image, disparity, target_disparity, scale, tolerance, table)


def _check(warped: Tensor, holes: Tensor, image: Tensor, disparity: Tensor, target_disparity: Tensor,
           scale: float, kernel: str, tolerance: float) -> None:
    if warped.ndim != 4 or not warped.is_floating_point():
        raise ValueError(f"warped must be a float (B, C, H, W) tensor, got {tuple(warped.shape)} {warped.dtype}")
    b, c, h, w = warped.shape
    if tuple(image.shape) != (b, c, h, w):
        raise ValueError(f"image must match warped {(b, c, h, w)}, got {tuple(image.shape)}")
    for name, t in (("holes", holes), ("disparity", disparity), ("target_disparity", target_disparity)):
        if tuple(t.shape) != (b, 1, h, w):
            raise ValueError(f"{name} must be (B, 1, H, W) = {(b, 1, h, w)}, got {tuple(t.shape)}")
    for t in (holes, image, disparity, target_disparity):
        if t.device != warped.device:
            raise ValueError(f"all inputs must be on {warped.device}, got one on {t.device}")
    if holes.dtype != torch.bool:
        raise ValueError(f"holes must be a bool tensor, got {holes.dtype}")
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if not (math.isfinite(scale) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"scale and tolerance must be finite (tolerance >= 0), got {scale}, {tolerance}")


def _resample_torch(warped: Tensor, holes: Tensor, image: Tensor, disparity: Tensor, target_disparity: Tensor,
                    scale: float, tolerance: float, table: np.ndarray) -> Tensor:
    """Vectorised reference, operation for operation the numba kernel's float32 arithmetic."""
    b, c, h, w = warped.shape
    dev = warped.device
    n_taps = table.shape[1]
    half = n_taps // 2
    dt = target_disparity.to(torch.float32).reshape(b * h, w)
    d = disparity.to(torch.float32).reshape(b * h, w)
    tol = torch.tensor(tolerance, dtype=torch.float32, device=dev)
    js = torch.arange(w, device=dev, dtype=torch.float32).expand(b * h, w)
    s = js + dt * torch.tensor(scale, dtype=torch.float32, device=dev)
    ok = torch.isfinite(s) & ~holes.reshape(b * h, w)
    s = torch.where(ok, s, 0.0)
    x0f = torch.floor(s)
    x0 = x0f.to(torch.int64)
    frac = s - x0f
    phase = torch.floor(frac * float(PHASES) + 0.5).to(torch.int64).clamp(0, PHASES)
    linear = ok & (x0 >= 0) & (x0 + 1 < w)
    first = x0 - (half - 1)
    ok = linear & (first >= 0) & (first + n_taps - 1 < w)
    for k in range(n_taps):
        idx = (first + k).clamp(0, w - 1)
        dk = d.gather(1, idx)
        ok &= torch.isfinite(dk) & ((dk - dt).abs() <= tol)
    weights = torch.from_numpy(table).to(dev)[phase]  # (N, W, taps)
    img = image.to(torch.float32).reshape(b, c, h, w).permute(1, 0, 2, 3).reshape(c, b * h, w)
    acc = torch.zeros((c, b * h, w), dtype=torch.float32, device=dev)
    lo = torch.full((c, b * h, w), float("inf"), dtype=torch.float32, device=dev)
    hi = torch.full((c, b * h, w), float("-inf"), dtype=torch.float32, device=dev)
    for k in range(n_taps):
        idx = (first + k).clamp(0, w - 1).unsqueeze(0).expand(c, -1, -1)
        v = img.gather(2, idx)
        acc = acc + weights[..., k].unsqueeze(0) * v
        lo, hi = torch.minimum(lo, v), torch.maximum(hi, v)
    sharp = torch.minimum(torch.maximum(acc, lo), hi)
    i0 = x0.clamp(0, w - 1).unsqueeze(0).expand(c, -1, -1)
    i1 = (x0 + 1).clamp(0, w - 1).unsqueeze(0).expand(c, -1, -1)
    lin = (1.0 - frac).unsqueeze(0) * img.gather(2, i0) + frac.unsqueeze(0) * img.gather(2, i1)
    value = torch.where(ok.unsqueeze(0), sharp, lin).reshape(c, b, h, w).permute(1, 0, 2, 3)
    out = torch.where(linear.reshape(b, 1, h, w), value, warped.to(torch.float32))
    return out.to(warped.dtype)
