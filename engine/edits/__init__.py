"""engine.edits: depth painting — strokes rasterised to weight maps, snapped to image edges, carried
across a shot by optical flow, and applied to normalised depth δ (CONVENTIONS.md "Depth edits").

Pure computation on arrays (the per-shot orchestration reads frames and the cache through what it is
handed); no media I/O.
"""

from engine.edits.apply import STROKE_KINDS, Edit, apply_edits, edge_aware_blur
from engine.edits.edge import snap_to_edges
from engine.edits.propagate import Carried, carry, temporal_blend
from engine.edits.raster import Weight, stroke_weight
from engine.edits.shot import ShotEdits, painted_weight

__all__ = [
    "STROKE_KINDS", "Carried", "Edit", "ShotEdits", "Weight", "apply_edits", "carry", "edge_aware_blur",
    "painted_weight", "snap_to_edges", "stroke_weight", "temporal_blend",
]
