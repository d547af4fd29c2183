"""engine.ops: pure per-frame stereo operations on torch tensors (no file I/O, no Qt).

grade -> disparity, z-buffered splat, background-side hole fill, sRGB <-> linear,
packing (SBS / TB / anaglyph / pair) and the composition the render uses.
"""

from engine.ops.colour import linear_to_srgb, luminance, srgb_to_linear
from engine.ops.fill import fill_holes
from engine.ops.grade import apply_depth_curve, disparity_from_grade
from engine.ops.pack import LAYOUTS, area_resize, pack, packed_size, pad_to_even
from engine.ops.splat import splat, splat_with_disparity
from engine.ops.stereo import SYNTHESIZE_MODES, StereoViews, render_views

__all__ = [
    "LAYOUTS",
    "SYNTHESIZE_MODES",
    "StereoViews",
    "apply_depth_curve",
    "area_resize",
    "disparity_from_grade",
    "fill_holes",
    "linear_to_srgb",
    "luminance",
    "pack",
    "packed_size",
    "pad_to_even",
    "render_views",
    "splat",
    "splat_with_disparity",
    "srgb_to_linear",
]
