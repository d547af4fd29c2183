"""engine.dvg: temporally consistent stereo (the SpatialDreamer paper's depth-guided video generation).

Occlusion-mask propagation across frames, temporal inpainting of disocclusions from what
neighbouring frames saw, and forward-backward rendering for self-supervised pairs.
Algorithms on tensors and arrays only; no file I/O. See docs/dvg.md.
"""

from engine.dvg.config import DvgConfig
from engine.dvg.fields import PairFlow, TargetFields, carry_to_target, pair_flow, source_motion
from engine.dvg.forward_backward import ForwardBackward, forward_backward
from engine.dvg.guided import guided_sample, upsample_fields
from engine.dvg.inpaint import Candidate, background_disparity, temporal_fill
from engine.dvg.propagate import propagate_guided, propagate_masks
from engine.dvg.temporal import StagedFrame, TemporalStereo
from engine.flow import chain_flows as compose  # flow chaining, as DVG's neighbours use it

__all__ = [
    "Candidate",
    "DvgConfig",
    "ForwardBackward",
    "PairFlow",
    "TargetFields",
    "StagedFrame",
    "TemporalStereo",
    "background_disparity",
    "carry_to_target",
    "compose",
    "forward_backward",
    "guided_sample",
    "pair_flow",
    "propagate_guided",
    "propagate_masks",
    "source_motion",
    "temporal_fill",
    "upsample_fields",
]
