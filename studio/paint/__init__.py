"""studio.paint: the depth brush over the viewer — gestures in source pixels turned into document strokes,
undoable commands that add and remove them, and the overlay image of the (propagated) stroke weight.

Everything the brush computes goes through engine.document (strokes, pure edits) and engine.api (the
session's δ for sampling and its edit overlay), never past the front door.
"""

from studio.paint.brush import BrushGesture, BrushSettings, sample_depth
from studio.paint.commands import AddStrokeCommand, RemoveStrokeCommand
from studio.paint.layer import ViewMapping
from studio.paint.overlay import overlay_qimage, overlay_rgba

__all__ = ["AddStrokeCommand", "BrushGesture", "BrushSettings", "RemoveStrokeCommand",
           "ViewMapping", "overlay_qimage", "overlay_rgba", "sample_depth"]
