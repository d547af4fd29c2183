"""Undoable stroke edits: each command holds the whole Project before and after (immutable documents, so
undo restores the exact document and with it the exact δ).

The holder is the studio's document model: anything with a ``project`` attribute and ``set_project(p)``.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from engine.document import Project, Stroke
from engine.document import edits as doc_edits


class _ProjectCommand(QUndoCommand):
    def __init__(self, holder, before: Project, after: Project, text: str) -> None:
        super().__init__(text)
        self.holder, self.before, self.after = holder, before, after

    def redo(self) -> None:
        self.holder.set_project(self.after)

    def undo(self) -> None:
        self.holder.set_project(self.before)


class AddStrokeCommand(_ProjectCommand):
    """Paint `stroke` on shot `shot` (0-based) of clip `clip`; its id must be new (``new_stroke_id``)."""

    def __init__(self, holder, clip: str, shot: int, stroke: Stroke) -> None:
        before = holder.project
        super().__init__(holder, before, doc_edits.add_stroke(before, clip, shot, stroke),
                         f"Paint {stroke.kind} stroke")
        self.stroke = stroke


class RemoveStrokeCommand(_ProjectCommand):
    """Delete stroke `stroke_id` from shot `shot` of clip `clip` (the inspector's stroke list)."""

    def __init__(self, holder, clip: str, shot: int, stroke_id: str) -> None:
        before = holder.project
        super().__init__(holder, before, doc_edits.remove_stroke(before, clip, shot, stroke_id),
                         f"Delete stroke {stroke_id}")
