"""The open project as the studio holds it: the current Project, its file, the clip shown, the undo stack.

Every edit is a pure function of engine.document.edits returning a new Project; the model pushes it
onto the QUndoStack as a :class:`studio.commands.EditCommand`, so undo/redo swap whole documents.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from engine.document import Project, edits
from studio.commands import EditCommand


class DocumentModel(QObject):
    """Signals:
        changed(object): the Project after any edit, undo or redo (or a load).
        file_changed(str): the project's path ("" while untitled) after a load, save or new.
        dirty_changed(bool): unsaved changes appeared or were saved.
    """

    changed = Signal(object)
    file_changed = Signal(str)
    dirty_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.path: Path | None = None
        self.clip_id: str | None = None
        self.stack = QUndoStack(self)
        self.stack.cleanChanged.connect(self._clean_changed)
        self.upgraded_from: str | None = None
        self.job_states: dict[str, tuple[str, str]] = {}  # render jobs' run states, outside the undo history
        self.revision = 0  # bumped on every change (autosave compares it)

    def _clean_changed(self, clean: bool) -> None:
        self.dirty_changed.emit(not clean)

    @property
    def dirty(self) -> bool:
        """Unsaved edits (an upgraded older project is not dirty: it is rewritten only when saved)."""
        return not self.stack.isClean()

    def load(self, project: Project, path: Path | None, clip_id: str | None = None) -> None:
        """Start a fresh history with `project` (opened, recovered or new)."""
        self.stack.clear()
        self.job_states = {}
        self.project = project
        self.path = path
        ids = [c.id for c in project.clips]
        self.clip_id = clip_id if clip_id in ids else (ids[0] if ids else None)
        self.revision += 1
        self.file_changed.emit(str(path) if path else "")
        self.changed.emit(project)

    def set_project(self, project: Project) -> None:
        """Called by EditCommand on redo/undo: swap the document and tell the views."""
        self.project = self._with_job_states(project)
        if self.clip_id not in [c.id for c in project.clips]:
            self.clip_id = project.clips[0].id if project.clips else None
        self.revision += 1
        self.changed.emit(project)

    def _with_job_states(self, project: Project) -> Project:
        ids = {j.id for j in project.queue}
        for job_id, (state, message) in self.job_states.items():
            if job_id in ids:
                project = edits.set_job_state(project, job_id, state, message)
        return project

    def set_job_state(self, job_id: str, state: str, message: str = "") -> None:
        """A render job ran: record its state in the document without an undo step."""
        self.job_states[job_id] = (state, message)
        self.project = self._with_job_states(self.project)
        self.revision += 1
        self.changed.emit(self.project)

    def apply(self, text: str, edit, *args, merge: str | None = None, **kwargs) -> Project:
        """Run the pure `edit(project, *args, **kwargs)` and push it as one undoable step.

        `merge` names a continuous gesture (a slider drag on one track of one shot): consecutive steps
        with the same name collapse into one undo entry. Errors from the edit propagate (nothing changes).
        """
        if self.project is None:
            raise RuntimeError("no project is open")
        result = edit(self.project, *args, **kwargs)
        project = result[0] if isinstance(result, tuple) else result
        if edit is edits.retry_job:
            self.job_states.pop(args[0], None)
        if project == self.project:
            return project
        self.stack.push(EditCommand(self, self.project, project, text, merge))
        return project

    def apply_result(self, text: str, edit, *args, **kwargs):
        """Like :meth:`apply` for edits that return (Project, new id); returns the id."""
        if self.project is None:
            raise RuntimeError("no project is open")
        project, new_id = edit(self.project, *args, **kwargs)
        self.stack.push(EditCommand(self, self.project, project, text, None))
        return new_id

    def mark_saved(self, path: Path) -> None:
        self.path = path
        self.upgraded_from = None
        self.stack.setClean()
        self.file_changed.emit(str(path))

    @property
    def clip(self):
        if self.project is None or self.clip_id is None:
            return None
        return self.project.clip(self.clip_id)
