"""Forward-backward rendering: the building block of the paper's self-supervised stereo pairs.

The reference view x1 (with its disparity) is splatted to the target view (its disocclusion
mask m2), inpainted to x2, and x2 is splatted back to the reference view with the target-view
disparity. The back render's holes m1 are the reference pixels the target view does not see
(occluded there): a training pair is (back render with m1, the original x1), where the model
learns to fill exactly the kind of region a real render leaves open.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from engine.dvg.inpaint import background_disparity
from engine.ops import fill_holes, splat_with_disparity


@dataclass(frozen=True)
class ForwardBackward:
    """One frame's forward-backward render.

    Attributes:
        target: (B, C, H, W) x2, the reference rendered to the target view, holes inpainted.
        target_holes: (B, 1, H, W) bool m2, the forward render's disocclusions.
        target_disparity: (B, 1, H, W) float32 target-view disparity (px); holes carry the
            background-side disparity of their run (what the inpainted content is assumed at).
        reference: (B, C, H, W) x2 rendered back to the reference view (0 in its holes).
        reference_holes: (B, 1, H, W) bool m1, the back render's occlusion mask.
    """

    target: Tensor
    target_holes: Tensor
    target_disparity: Tensor
    reference: Tensor
    reference_holes: Tensor


def forward_backward(
    image: Tensor,
    disparity: Tensor,
    scale: float = 1.0,
    *,
    target: Tensor | None = None,
    backend: str = "auto",
) -> ForwardBackward:
    """Render `image` to the target view, inpaint, and render the result back.

    Args:
        image: (B, C, H, W) float reference view x1.
        disparity: (B, 1, H, W) px disparity of the reference view (x_target = x - scale * d).
        scale: 1 = right view from a left reference, -1 = left from right.
        target: optional (B, C, H, W) already inpainted target view for this exact splat (e.g.
            :class:`engine.dvg.TemporalStereo` output with ``synthesize="right"`` for a video);
            default: :func:`engine.ops.fill_holes` (spatial).
        backend: "auto" | "numba" | "torch" for splat and fill.
    Returns:
        :class:`ForwardBackward`.
    """
    view, holes, disp = splat_with_disparity(image, disparity, scale, backend=backend)
    target_disparity = background_disparity(disp, holes, scale, backend=backend)
    if target is None:
        target = fill_holes(view, holes, disp, scale, backend=backend, inplace=True)
    elif target.shape != image.shape:
        raise ValueError(f"target must match the image shape {tuple(image.shape)}, got {tuple(target.shape)}")
    back, back_holes, _ = splat_with_disparity(target, target_disparity, -scale, backend=backend)
    return ForwardBackward(target, holes, target_disparity, back, back_holes)
