"""QUndoCommands over the pure document edits: each holds the Project before and after one edit."""

from __future__ import annotations

import itertools

from PySide6.QtGui import QUndoCommand

_merge_ids: dict[str, int] = {}
_next_id = itertools.count(1000)


def merge_id(name: str) -> int:
    """A stable QUndoCommand id for a continuous gesture name (e.g. 'divergence c1/2')."""
    if name not in _merge_ids:
        _merge_ids[name] = next(_next_id)
    return _merge_ids[name]


class EditCommand(QUndoCommand):
    """One edit: redo installs `after`, undo restores `before` (whole immutable documents, so exact)."""

    def __init__(self, model, before, after, text: str, merge: str | None = None) -> None:
        super().__init__(text)
        self.model = model
        self.before = before
        self.after = after
        self._id = merge_id(merge) if merge else -1

    def id(self) -> int:
        return self._id

    def redo(self) -> None:
        self.model.set_project(self.after)

    def undo(self) -> None:
        self.model.set_project(self.before)

    def mergeWith(self, other: QUndoCommand) -> bool:
        if other.id() != self._id or self._id == -1:
            return False
        self.after = other.after
        return True
