"""engine.flow: dense optical flow (OpenCV DIS), forward-backward consistency, backward warping.

Pure computation on arrays; no file or media I/O.
"""

from engine.flow.consistency import chain_flows, fb_confidence, sample_grid, warp_backward
from engine.flow.dis import FlowConfig, FlowEstimator, compute_flow, to_gray, upscale_flow, working_size

__all__ = [
    "FlowConfig",
    "FlowEstimator",
    "chain_flows",
    "compute_flow",
    "fb_confidence",
    "sample_grid",
    "to_gray",
    "upscale_flow",
    "warp_backward",
    "working_size",
]
