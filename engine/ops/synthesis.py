"""One eye from a source view and its disparity: splat, sharp resampling, edge handling, background fill.

The steps, each its own pure op (see their modules):

1. :func:`engine.ops.splat.splat_with_disparity` — z-buffered, crack-free mesh splat;
2. :func:`engine.ops.resample.sharpen_resample` — covered pixels re-sampled with a sharper kernel
   where the surface is continuous (no blur from linear interpolation);
3. :func:`engine.ops.edges.background_halo` — holes grown into their background side, so the
   foreground-tinted pixels beside an outline are re-filled instead of feeding the fill;
4. filling from the background side only: the row fill (:func:`engine.ops.fill_holes`), then
   membrane smoothing (:func:`engine.ops.inpaint.diffuse_background`), then, when asked for,
   PatchMatch texture (:func:`engine.ops.inpaint.texture_fill`);
5. :func:`engine.ops.edges.soften_edges` — anti-aliased layer boundaries.

:class:`SynthesisConfig` chooses the variants; its defaults were chosen on the real stereo pairs
(``bench/eval_view_synthesis.py``, leave-one-out), ``SynthesisConfig.classic()`` is the render before
this module (linear mesh splat, row fill, hard edges). The DVG renderer runs steps 1-3, fills
temporally first and then calls :func:`fill_spatial` and :func:`finish_edges` for the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

from engine.errors import UsageError
from engine.ops.edges import background_halo, soften_edges
from engine.ops.fill import fill_holes
from engine.ops.inpaint import background_disparity, diffuse_background, texture_fill
from engine.ops.resample import KERNELS, sharpen_resample
from engine.ops.splat import splat_with_disparity

FILLS = ("row", "diffuse", "texture")


@dataclass(frozen=True)
class SynthesisConfig:
    """How a synthesised eye is resampled, edged and filled.

    Attributes:
        kernel: resampling of covered pixels: "linear" (the mesh splat's own), "cubic" or "lanczos3".
        halo_px: pixels each hole grows into its background side (0 = none).
        fill: "row" (background-side row fill), "diffuse" (+ membrane smoothing from the background),
            "texture" (+ PatchMatch texture from the background; about 10x the cost of "diffuse").
        texture_weight: share of the PatchMatch estimate in "texture" (the rest is the smooth fill).
        edge_blend: share of the foreground's colour given to the background pixel beside a depth
            edge (0 = hard z-buffer edges).
        diffuse_iterations: red-black over-relaxation sweeps of the membrane fill.
        patch: PatchMatch patch side (odd).
    """

    kernel: str = "lanczos3"
    halo_px: int = 1
    fill: str = "diffuse"
    texture_weight: float = 0.3
    edge_blend: float = 0.25
    diffuse_iterations: int = 20
    patch: int = 7

    def __post_init__(self) -> None:
        problems = []
        if self.kernel not in KERNELS:
            problems.append(f"kernel {self.kernel!r} (use {', '.join(KERNELS)})")
        if self.fill not in FILLS:
            problems.append(f"fill {self.fill!r} (use {', '.join(FILLS)})")
        if not (isinstance(self.halo_px, int) and 0 <= self.halo_px <= 8):
            problems.append(f"halo_px {self.halo_px!r} (an integer 0..8)")
        for name in ("texture_weight", "edge_blend"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value <= 1.0):
                problems.append(f"{name} {value!r} (in [0, 1])")
        if not (isinstance(self.diffuse_iterations, int) and 0 <= self.diffuse_iterations <= 1000):
            problems.append(f"diffuse_iterations {self.diffuse_iterations!r} (0..1000)")
        if not (isinstance(self.patch, int) and self.patch >= 3 and self.patch % 2 == 1):
            problems.append(f"patch {self.patch!r} (an odd integer >= 3)")
        if problems:
            raise UsageError("invalid view-synthesis setting: " + "; ".join(problems))

    @staticmethod
    def classic() -> SynthesisConfig:
        """The render before sharp resampling and edge handling: linear mesh splat, row fill, hard edges."""
        return SynthesisConfig(kernel="linear", halo_px=0, fill="row", edge_blend=0.0)


def synthesize_unfilled(image: Tensor, disparity: Tensor, scale: float, config: SynthesisConfig,
                        *, backend: str = "auto") -> tuple[Tensor, Tensor, Tensor]:
    """Steps 1-3: the eye before filling.

    Args:
        image: (B, C, H, W) float source view.
        disparity: (B, 1, H, W) px source disparity (non-finite = unknown).
        scale: target x = source x - scale * d (1: right from left, -1: left from right, ±0.5: from a centre).
        config: the variants.
        backend: "auto" | "numba" | "torch".
    Returns:
        view (B, C, H, W) float32 (hole values meaningless), holes (B, 1, H, W) bool (grown by the halo),
        target disparity (B, 1, H, W) float32 (NaN in holes).
    """
    view, holes, disp = splat_with_disparity(image, disparity, scale, backend=backend)
    view = sharpen_resample(view, holes, image, disparity, disp, scale, config.kernel, backend=backend)
    if config.halo_px:
        holes, disp = background_halo(holes, disp, scale, config.halo_px, backend=backend)
    return view.contiguous(), holes, disp


def fill_spatial(view: Tensor, holes: Tensor, target_disparity: Tensor, background: Tensor, scale: float,
                 config: SynthesisConfig, *, backend: str = "auto") -> Tensor:
    """Step 4 on `holes`: row fill from the background side, then the smooth and textured fills.

    Args:
        view: (B, C, H, W) float32 contiguous view; filled in place and returned.
        holes: (B, 1, H, W) bool, the pixels to fill.
        target_disparity: (B, 1, H, W) float32 target disparity (NaN in the view's holes).
        background: (B, 1, H, W) float32 background disparity of the hole pixels
            (:func:`engine.ops.inpaint.background_disparity`).
        scale: the splat scale that made the view.
        config: the variants.
        backend: "auto" | "numba" | "torch".
    Returns:
        `view`, filled.
    """
    fill_holes(view, holes, background, scale, backend=backend, inplace=True)
    if config.fill == "row" or not bool(holes.any()):
        return view
    smooth = diffuse_background(view, holes, target_disparity, background,
                                iterations=config.diffuse_iterations, backend=backend, inplace=True)
    if config.fill == "texture" and config.texture_weight > 0:
        smooth = texture_fill(smooth, holes, target_disparity, background, weight=config.texture_weight,
                              patch=config.patch, scale=scale, backend=backend)
    return view if smooth is view else view.copy_(smooth)


def finish_edges(view: Tensor, background: Tensor, scale: float, config: SynthesisConfig,
                 *, backend: str = "auto") -> Tensor:
    """Step 5: soften the layer boundaries of a filled view (a new tensor; `view` is not changed).

    Args:
        view: (B, C, H, W) float filled view.
        background: (B, 1, H, W) float32 disparity with the holes given their background disparity.
        scale: the splat scale that made the view.
        config: the variants (``edge_blend`` 0 returns `view` itself).
    """
    if config.edge_blend <= 0.0:
        return view
    return soften_edges(view, background, scale, config.edge_blend, backend=backend)


def synthesize_eye(image: Tensor, disparity: Tensor, scale: float, config: SynthesisConfig,
                   *, fill: bool = True, backend: str = "auto") -> tuple[Tensor, Tensor, Tensor]:
    """Steps 1-5 for one eye.

    Args:
        image, disparity, scale, config, backend: as in :func:`synthesize_unfilled`.
        fill: False stops after step 3 (holes hold meaningless values).
    Returns:
        view (B, C, H, W) float32, holes (B, 1, H, W) bool (before filling, grown by the halo), target
        disparity (B, 1, H, W) float32 (NaN in holes).
    """
    view, holes, disp = synthesize_unfilled(image, disparity, scale, config, backend=backend)
    if not fill:
        return view, holes, disp
    background = background_disparity(holes, disp, scale, backend=backend)
    fill_spatial(view, holes, disp, background, scale, config, backend=backend)
    return finish_edges(view, background, scale, config, backend=backend), holes, disp
