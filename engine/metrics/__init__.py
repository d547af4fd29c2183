"""engine.metrics: PSNR, SSIM, E_warp, fill flicker, x–t slices, unpacking masters.

Pure computation on arrays (numpy / OpenCV); file I/O lives in engine.jobs.evaluate.
"""

from engine.metrics.ewarp import (
    EWARP_FLOW,
    EwarpAccumulator,
    carry_mask,
    fill_flicker,
    hole_pixels,
    motion_boundary,
    non_occluded,
    warp_error,
    warp_residual,
)
from engine.metrics.image import as_unit_float, mse, psnr, ssim, ssim_map
from engine.metrics.slices import XtSlice, side_by_side, xt_slice
from engine.metrics.unpack import UNPACK_LAYOUTS, crop_eye, infer_eye_size, packed_extent, unpack

__all__ = [
    "EWARP_FLOW",
    "UNPACK_LAYOUTS",
    "EwarpAccumulator",
    "XtSlice",
    "as_unit_float",
    "carry_mask",
    "crop_eye",
    "fill_flicker",
    "hole_pixels",
    "infer_eye_size",
    "motion_boundary",
    "mse",
    "non_occluded",
    "packed_extent",
    "psnr",
    "side_by_side",
    "ssim",
    "ssim_map",
    "unpack",
    "warp_error",
    "warp_residual",
    "xt_slice",
]
