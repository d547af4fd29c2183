"""Composition: one source view + its disparity -> a stereo pair (both eyes, holes, disparities)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from engine.errors import UsageError
from engine.ops.synthesis import SynthesisConfig, synthesize_eye
from engine.vocabulary import SYNTHESIZE_MODES


@dataclass(frozen=True)
class StereoViews:
    """A rendered stereo pair.

    Attributes:
        left, right: (B, C, H, W) the two eyes (filled when render_views(fill=True)); a source
            eye is the input tensor itself, not a copy.
        left_holes, right_holes: (B, 1, H, W) bool disocclusions before filling; all False for a source eye.
        left_disparity, right_disparity: (B, 1, H, W) float32 disparity seen from each eye (the
            z-buffer winner's; NaN in holes); the source disparity for a source eye.
    """

    left: Tensor
    right: Tensor
    left_holes: Tensor
    right_holes: Tensor
    left_disparity: Tensor
    right_disparity: Tensor


def render_views(
    image: Tensor,
    disparity: Tensor,
    synthesize: str = "both",
    fill: bool = True,
    *,
    backend: str = "auto",
    synthesis: SynthesisConfig | None = None,
) -> StereoViews:
    """Synthesise the stereo pair the final render uses.

    Args:
        image: (B, C, H, W) float source view.
        disparity: (B, 1, H, W) px, the full left-right disparity of the source view
            (x_R = x_L - d); non-finite = unknown, does not splat.
        synthesize: "both" (source is the centre: left = splat(scale=-0.5), right = splat(+0.5),
            holes half as wide), "right" (left = source, right = splat(scale=1)) or
            "left" (right = source, left = splat(scale=-1)).
        fill: fill the holes (from the background side, :func:`engine.ops.synthesis.synthesize_eye`).
        backend: "auto" | "numba" | "torch" for every step.
        synthesis: resampling, edge and fill variants (None = the defaults of :class:`SynthesisConfig`).
    Returns:
        :class:`StereoViews`.
    """
    if synthesize not in SYNTHESIZE_MODES:
        raise UsageError(
            f"unknown synthesize mode {synthesize!r}", hint=f"use one of {', '.join(SYNTHESIZE_MODES)}"
        )
    config = synthesis or SynthesisConfig()
    scales = {"both": (-0.5, 0.5), "right": (None, 1.0), "left": (-1.0, None)}[synthesize]
    left = _eye(image, disparity, scales[0], fill, backend, config)
    right = _eye(image, disparity, scales[1], fill, backend, config)
    return StereoViews(left[0], right[0], left[1], right[1], left[2], right[2])


def _eye(
    image: Tensor, disparity: Tensor, scale: float | None, fill: bool, backend: str, config: SynthesisConfig
) -> tuple[Tensor, Tensor, Tensor]:
    """One eye: (view, holes, disparity); the source itself when scale is None."""
    if scale is None:
        holes = torch.zeros_like(disparity, dtype=torch.bool)
        return image, holes, disparity.to(torch.float32)
    view, holes, disp = synthesize_eye(image, disparity, scale, config, fill=fill, backend=backend)
    return view.to(image.dtype), holes, disp
