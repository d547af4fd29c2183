"""The studio's stereo QC: a QC track under the timeline and the inspector's comfort section.

* **Run QC** checks the whole clip in a worker with ``api.qc`` on the document as it is (the same
  measure as ``spatialdreamer qc PROJECT``: δ after edits and curve, the grade, windows masked), against
  the screen chosen in the inspector; the per-frame verdicts colour the QC track. An edit after the run
  marks the track stale.
* **Suggest grade** fits the divergence and convergence of the shot at the playhead to that screen
  (``api.suggest_shot``: the session's exact δ, the rule of ``qc --suggest``) and applies them — with the
  suggested floating windows when asked — as one undo step.
* The viewer's parallax heatmap shows the chosen screen's budget (its legend and the hatched
  out-of-budget pixels follow the inspector's screen).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine import api
from engine.document import edits
from studio.qc.panel import QcPanel
from studio.qc.track import QcTrack
from studio.workers import Lane


def apply_suggestion(project, clip_id: str, shot_index: int, suggested, windows: bool):
    """The project with shot `shot_index`'s divergence and convergence tracks (and, with `windows`, its
    floating-window tracks) taken from the suggested shot; everything else of the shot is kept."""
    current = edits.get_shot(project, clip_id, shot_index)
    if (current.start, current.end) != (suggested.start, suggested.end):
        raise ValueError("the shot was cut or joined while its suggestion was computed; suggest again")
    grade = replace(current.grade, divergence=suggested.grade.divergence, convergence=suggested.grade.convergence)
    shot = replace(current, grade=grade, windows=suggested.windows if windows else current.windows)
    return edits.with_shot(project, clip_id, shot_index, shot)


class QcTool(QObject):
    """The QC track, the comfort section of the inspector and their worker lane.

    Args:
        window: the studio MainWindow.
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window, self.document, self.controller = window, window.document, window.controller
        self.lane = Lane("qc", self)
        self.lane.progress.connect(self._progress)
        self.lane.failed.connect(self._failed)
        self.report = None
        self.suggestion = None
        self._run_revision: int | None = None
        self.panel = QcPanel(self)
        layout = window.inspector.layout()
        layout.insertWidget(min(3, layout.count()), self.panel)
        self.track = QcTrack(window.timeline)
        self.track.seek_requested.connect(window.seek)
        self._dock_track()
        window.timeline.installEventFilter(self)
        self.document.changed.connect(self._document_changed)
        menu = window.menuBar().addMenu("&QC")
        for text, slot, key in (("Run QC on the clip", self.run_qc, "Ctrl+Shift+Q"),
                                ("Suggest grade for this shot", self.suggest, "Ctrl+Shift+G")):
            action = QAction(text, window)
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            action.triggered.connect(slot)
            menu.addAction(action)
            window.addAction(action)

    def _dock_track(self) -> None:
        """The track sits on top of the timeline in the timeline's dock."""
        dock, timeline = self.window.docks["timeline"], self.window.timeline
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.track)
        layout.addWidget(timeline, 1)
        dock.setWidget(holder)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.window.timeline and event.type() == QEvent.Type.Paint:
            self.track.update()  # scrolled, zoomed or the playhead moved: stay aligned
        return False

    def close(self) -> None:
        self.lane.close()

    @property
    def screen(self) -> str:
        return self.window.state.budget.name

    # ---------------------------------------------------------------- QC of the clip

    def run_qc(self) -> int:
        """Check the clip as the document stands (in a worker); returns the request id (0: nothing to check)."""
        session, clip = self.controller.session, self.document.clip
        if session is None or clip is None:
            return 0
        screen, project, revision = self.screen, self.document.project, self.document.revision
        request = api.QcRequest(input=Path(clip.media), screen=screen, project=project, convert=session.request)

        def job(ctx):
            report = yield from api.qc(request, ctx.cancel)
            return revision, screen, report

        self.panel.show_qc_running(screen)
        return self.lane.submit(job, key="qc", on_done=self._qc_done)

    def _qc_done(self, result) -> None:
        revision, screen, report = result
        self.report, self._run_revision = report, revision
        over = sum(s in ("over", "diverges") for s in report.states)
        verdict = "passes" if report.passed else "FAILS"
        label = f"QC {screen}: {verdict} — {over} of {len(report.states)} frames over the budget"
        self.track.set_result(report.states, label)
        self.track.set_stale(revision != self.document.revision)
        self.panel.show_qc(report, label)

    def _document_changed(self, _project) -> None:
        if self._run_revision is not None:
            self.track.set_stale(self.document.revision != self._run_revision)

    # ---------------------------------------------------------------- one-click suggestion

    def suggest(self) -> int:
        """Suggest and apply the grade of the shot at the playhead (one undo step); returns the request id."""
        session, clip = self.controller.session, self.document.clip
        shot = clip.shot_index_at(self.controller.position) if clip else None
        if session is None or shot is None:
            self.window.statusBar().showMessage("put the playhead on a shot to suggest its grade")
            return 0
        screen, windows, clip_id = self.screen, self.panel.windows.isChecked(), clip.id
        self.controller.update_project(self.document.project)

        def job(ctx):
            suggested, suggestion = yield from api.suggest_shot(session, shot, screen, windows=windows,
                                                                cancel=ctx.cancel)
            return clip_id, shot, screen, windows, suggested, suggestion

        self.panel.show_suggesting(screen)
        return self.lane.submit(job, key="suggest", on_done=self._suggested)

    def _suggested(self, result) -> None:
        clip_id, shot, screen, windows, suggested, suggestion = result
        try:
            self.document.apply(f"Suggested grade for {screen}", apply_suggestion, clip_id, shot, suggested, windows)
        except (KeyError, ValueError) as exc:
            self.window.show_error(str(exc).strip("'\""))
            return
        self.suggestion = suggestion
        self.panel.show_suggestion(suggestion, api.budget_for(screen), shot)

    # ---------------------------------------------------------------- worker messages

    def _progress(self, _rid: int, p) -> None:
        if isinstance(p, api.Progress) and p.stage != "note":
            self.window._progress(p.stage, p.fraction)

    def _failed(self, _rid: int, message: str) -> None:
        self.panel.show_failure(message)
        self.window.show_error(message)
