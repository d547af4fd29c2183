"""The crash-recovery strip: autosaves left by a crash, offered in the window instead of a modal question.

At start-up the studio may find autosave side files a crash left behind (studio.project_io). A modal
question before the window's event loop runs would hold up whatever the user asked to open (and on a
bare X server with no window manager it cannot even be painted), so the offer is a strip under the
toolbar: "Recover", "Discard" (the side file is deleted), "Not now" (the strip goes, the file stays and is
offered again at the next start). Several leftovers are offered newest first, one at a time.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QToolBar, QWidget


def describe(autosave: Path, project: Path | None, index: int, count: int) -> str:
    """The strip's sentence for one leftover autosave (`index` of `count`, 0-based)."""
    try:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(autosave.stat().st_mtime))
    except OSError:
        when = "an unknown time"
    what = f"project {project.name}" if project is not None else "an untitled project"
    more = f" ({index + 1} of {count})" if count > 1 else ""
    return f"SpatialDreamer Studio did not close cleanly: an autosave of {what} from {when} was found{more}."


def newest_first(paths: list[Path]) -> list[Path]:
    """Autosaves sorted by modification time, newest first (unreadable ones last)."""
    def stamp(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return float("-inf")
    return sorted(paths, key=stamp, reverse=True)


class RecoveryBar(QToolBar):
    """Signals:
        recover_requested(Path): the user chose to recover this autosave.
        discard_requested(Path): the user chose to delete it.
    """

    recover_requested = Signal(Path)
    discard_requested = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Recovery", parent)
        self.setObjectName("recovery-bar")
        self.setMovable(False)
        self.setFloatable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setStyleSheet("QToolBar#recovery-bar { background: #5a4615; border: none; padding: 3px; }"
                           "QToolBar#recovery-bar QLabel { color: #f4e7c4; padding: 0 8px; }")
        self.message = QLabel("")
        self.recover_button = QPushButton("Recover")
        self.discard_button = QPushButton("Discard autosave")
        self.later_button = QPushButton("Not now")
        self.addWidget(self.message)
        for button in (self.recover_button, self.discard_button, self.later_button):
            self.addWidget(button)
        self.recover_button.clicked.connect(lambda: self._current and self.recover_requested.emit(self._current))
        self.discard_button.clicked.connect(lambda: self._current and self.discard_requested.emit(self._current))
        self.later_button.clicked.connect(self.later)
        self._pending: list[tuple[Path, Path | None]] = []
        self._count = 0
        self._current: Path | None = None
        self.setVisible(False)

    def offer(self, leftovers: list[tuple[Path, Path | None]]) -> None:
        """Offer (autosave, its project or None) pairs, in the given order; hides when there are none."""
        self._pending = list(leftovers)
        self._count = len(self._pending)
        self._next()

    def done_with(self, autosave: Path) -> None:
        """`autosave` was recovered or discarded: offer the next one, if any."""
        if autosave == self._current:
            self._next()

    def later(self) -> None:
        """Keep every remaining autosave for the next start; hide the strip."""
        self._pending = []
        self._current = None
        self.setVisible(False)

    @property
    def current(self) -> Path | None:
        return self._current

    def _next(self) -> None:
        if not self._pending:
            self.later()
            return
        autosave, project = self._pending.pop(0)
        self._current = autosave
        self.message.setText(describe(autosave, project, self._count - len(self._pending) - 1, self._count))
        self.setVisible(True)
