"""Settings of the temporally consistent stereo renderer (DVG)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.errors import UsageError
from engine.flow import FlowConfig


@dataclass(frozen=True)
class DvgConfig:
    """How DVG propagates masks and fills disocclusions over time.

    Attributes:
        neighbours: K, frames on each side the temporal fill reads (t-K .. t+K); also the
            renderer's lag. Mask propagation always uses t-1 and t+1 (the paper's rule).
        flow: DIS settings; flow, its confidence and the target-view carriage are computed at
            ``flow.working_width``.
        alpha, beta: forward-backward consistency tolerances (relative; absolute in working px^2).
        soft_confidence: graded confidence 1 / (1 + r^2) instead of 0 / 1.
        depth_tolerance_px: disparity px within which two samples are the same surface; a
            candidate may be at most this much nearer than the local background.
        min_confident_fraction: two consecutive frames where fewer pixels than this match (flow
            confident and brightness-constant) are a cut; a neighbour whose chained flow from t has
            fewer confident pixels is skipped (motion too fast to trust), and so is all beyond it.
        cut_drop: two consecutive frames are also a cut when their matched share falls below this
            fraction of the shot's typical share (the median over its last pairs): a finer flow
            matches more pixels by chance across a cut, never as many as within a shot.
        halo_px: pixels each eye's own disocclusions grow into their background side before anything
            else sees them (:func:`engine.ops.edges.background_halo`): the background pixels beside a
            foreground outline carry its anti-aliased colour, and as the hole's background end they would
            tint every fill taken from that side (the striped fill beside moving objects). As part of the
            holes they are propagated, filled from neighbours and carried like the rest. 0 = none.
        edge_blend: share of the foreground's colour given to the background pixel beside a depth edge in the
            emitted eyes (:func:`engine.ops.edges.soften_edges`, as the per-frame render's
            ``SynthesisConfig.edge_blend``): the seam between splatted and filled pixels is softened like every
            other layer boundary. The window keeps the unsoftened fill (what later frames carry), so no
            foreground tint travels into later fills. 0 = hard z-buffer edges.
    """

    neighbours: int = 2
    flow: FlowConfig = FlowConfig(preset="medium", working_width=480)
    alpha: float = 0.01
    beta: float = 0.5
    soft_confidence: bool = False
    depth_tolerance_px: float = 2.0
    min_confident_fraction: float = 0.2
    cut_drop: float = 0.4
    halo_px: int = 1
    edge_blend: float = 0.25

    def __post_init__(self) -> None:
        if not isinstance(self.neighbours, int) or not 1 <= self.neighbours <= 8:
            raise UsageError(f"neighbours must be an integer from 1 to 8, got {self.neighbours!r}")
        if not isinstance(self.halo_px, int) or not 0 <= self.halo_px <= 8:
            raise UsageError(f"halo_px must be an integer from 0 to 8, got {self.halo_px!r}")
        checks = (
            ("alpha", self.alpha, self.alpha >= 0),
            ("beta", self.beta, self.beta > 0),
            ("depth_tolerance_px", self.depth_tolerance_px, self.depth_tolerance_px >= 0),
            ("min_confident_fraction", self.min_confident_fraction, 0 <= self.min_confident_fraction <= 1),
            ("cut_drop", self.cut_drop, 0 <= self.cut_drop <= 1),
            ("edge_blend", self.edge_blend, 0 <= self.edge_blend <= 1),
        )
        for name, value, ok in checks:
            if not (math.isfinite(value) and ok):
                raise UsageError(
                    f"DVG setting {name} out of range: {value!r}",
                    hint="alpha >= 0, beta > 0, depth_tolerance_px >= 0, min_confident_fraction, cut_drop and "
                         "edge_blend in [0, 1]",
                )
