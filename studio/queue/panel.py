"""Render queue panel: the project's jobs with state, progress and ETA; add / start / cancel / retry / reveal;
the refiner part of the render settings (:class:`studio.queue.refiner_box.RefinerBox`) that jobs queued from
here copy."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.queue.refiner_box import RefinerBox

COLUMNS = ("Job", "Frames", "Output", "State", "Progress / ETA")


class QueuePanel(QWidget):
    """Signals: add_requested(str) with 'shot', 'range' or 'all'."""

    add_requested = Signal(str)

    def __init__(self, document, runner, parent=None, models_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.runner = runner
        self.progress: dict[str, str] = {}
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QHBoxLayout()
        self.buttons = {}
        for key, text in (("shot", "Add shot"), ("range", "Add marked range"), ("all", "Add whole clip"),
                          ("start", "Start"), ("cancel", "Cancel"), ("retry", "Retry"), ("remove", "Remove"),
                          ("reveal", "Reveal")):
            b = QPushButton(text)
            self.buttons[key] = b
            buttons.addWidget(b)
        for kind in ("shot", "range", "all"):
            self.buttons[kind].clicked.connect(lambda _=False, k=kind: self.add_requested.emit(k))
        self.buttons["start"].clicked.connect(runner.start)
        self.buttons["cancel"].clicked.connect(lambda: runner.cancel(self.selected_job()))
        self.buttons["retry"].clicked.connect(self.retry_selected)
        self.buttons["remove"].clicked.connect(self.remove_selected)
        self.buttons["reveal"].clicked.connect(self.reveal_selected)
        self.refiner = RefinerBox(document, models_dir=models_dir)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.refiner)
        layout.addLayout(buttons)
        document.changed.connect(lambda _p: self.refresh())
        runner.job_progress.connect(self._job_progress)

    def refresh(self) -> None:
        project = self.document.project
        jobs = project.queue if project is not None else ()
        self.table.setRowCount(len(jobs))
        for row, job in enumerate(jobs):
            state = job.state + (f": {job.message}" if job.message and job.state != "done" else "")
            cells = (job.label or job.id, f"{job.start}–{job.end - 1}", job.output, state,
                     self.progress.get(job.id, "100 %" if job.state == "done" else ""))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, job.id)
                self.table.setItem(row, col, item)

    def _job_progress(self, job_id: str, fraction: float, eta: float) -> None:
        self.progress[job_id] = f"{fraction * 100:.0f} %" + (f"  ETA {eta:.0f} s" if eta >= 0 else "")
        self.refresh()

    def selected_job(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def retry_selected(self) -> None:
        from engine.document import edits

        job = self.selected_job()
        if job is not None:
            self.progress.pop(job, None)
            self.document.apply("Retry render job", edits.retry_job, job)

    def remove_selected(self) -> None:
        from engine.document import edits

        job = self.selected_job()
        if job is not None and (self.runner.running is None or self.runner.running[1] != job):
            self.document.apply("Remove render job", edits.remove_job, job)

    def output_of(self, job_id: str) -> Path | None:
        project = self.document.project
        job = next((j for j in project.queue if j.id == job_id), None) if project else None
        return Path(job.output) if job else None

    def reveal_selected(self) -> None:
        job = self.selected_job()
        out = self.output_of(job) if job else None
        if out is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(out.parent)))
