"""The studio's main window: viewer, dockable bin / timeline / inspector / render queue, menus and shortcuts.

The window owns the DocumentModel (the Project and its undo stack), the FrameController (the engine
session in worker lanes) and the QueueRunner (api.convert in a worker). Widgets never call the
engine themselves; long work never runs on the UI thread.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QImage, QKeySequence, QUndoCommand
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QToolBar,
)

from engine import api
from engine.document import Project, edits
from studio import project_io
from studio.bin.panel import BinPanel
from studio.document import DocumentModel
from studio.inspector.panel import InspectorPanel
from studio.paint.tool import PaintTool
from studio.playback import FrameController
from studio.preload import freeze_heap
from studio.qc.tool import QcTool
from studio.queue.panel import QueuePanel
from studio.queue.runner import QueueRunner
from studio.recovery_bar import RecoveryBar, newest_first
from studio.theme import apply_dark_theme
from studio.timeline.widget import TimelineWidget
from studio.viewer.geometry import Zoom
from studio.viewer.modes import MODES, Budget, ViewState
from studio.viewer.panel import ViewerPanel, probe_gl
from studio.workers import Lane
from studio.xr.controller import HeadsetPreview

AUTOSAVE_MS = 10_000
MEDIA_FILTER = "Media (*.mp4 *.mov *.mkv *.avi *.webm *.mxf *.m4v *.png *.jpg *.jpeg *.tif *.tiff *.exr);;All files (*)"


class Dialogs:
    """Every question the window asks a person (tests replace it with scripted answers)."""

    def __init__(self, parent) -> None:
        self.parent = parent

    def error(self, message: str) -> None:
        QMessageBox.warning(self.parent, "SpatialDreamer Studio", message)

    def info(self, message: str) -> None:
        QMessageBox.information(self.parent, "SpatialDreamer Studio", message)

    def unsaved(self) -> str:
        """'save', 'discard' or 'cancel'."""
        b = QMessageBox.question(self.parent, "Unsaved changes", "Save the changes to this project?",
                                 QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                                 | QMessageBox.StandardButton.Cancel)
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            b, "cancel")

    def relink(self, media: str) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, f"Media missing: {media} — find it", "", MEDIA_FILTER)
        return Path(path) if path else None

    def save_path(self) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save project", "", "Projects (*.sdproj)")
        if not path:
            return None
        p = Path(path)
        return p if p.suffix == ".sdproj" else p.with_suffix(".sdproj")

    def open_path(self, title: str, filt: str) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, title, "", filt)
        return Path(path) if path else None


class MainWindow(QMainWindow):
    """Signals:
        first_frame_shown(): the viewer drew the first frame of the opened clip.
        preview_ready(): the current frame is shown (in the viewer, and in the headset when it is on).
    """

    first_frame_shown = Signal()
    preview_ready = Signal()

    def __init__(self, use_audio_device: bool = True, probe=probe_gl, settings: QSettings | None = None) -> None:
        super().__init__()
        apply_dark_theme(QApplication.instance())  # the product's look, however the window is started
        self.setWindowTitle("SpatialDreamer Studio")
        self.setAcceptDrops(True)
        self.dialogs = Dialogs(self)
        self.settings = settings or QSettings("SpatialDreamer", "Studio")
        self.recent = project_io.RecentFiles(self.settings)
        self.document = DocumentModel(self)
        self.controller = FrameController(self, use_audio_device=use_audio_device)
        self.runner = QueueRunner(self.document, self)
        self.jobs = Lane("studio-jobs", self)  # shot detection, thumbnails, readouts
        self.probes = Lane("probe", self)  # api.probe of media being imported (the UI thread waits in its loop)
        self._probing: QEventLoop | None = None  # the loop open_media waits in while its file is probed
        self.state = ViewState()
        self.marks: list[int | None] = [None, None]
        self.clipboard = None
        self.started = time.time()
        self._autosaved_revision = -1
        self._first_shown = False
        self.stall_log: list[float] = []
        self.headset = HeadsetPreview(self)  # "Preview in headset" (studio/xr)
        self.viewer = ViewerPanel(self, probe=probe)
        self.headset.attach_viewer(self.viewer)  # the headset shows the GL viewer's eyes, copied on the GPU
        self.setCentralWidget(self.viewer)
        self._build_docks()
        self._build_actions()
        self._build_status()
        self._connect()
        self.paint = PaintTool(self)  # the depth brush: its inspector section, viewer layer and menu
        self.qc = QcTool(self)  # the QC track, the one-click suggestion and the clip's QC
        self.autosave_timer = QTimer(self, interval=AUTOSAVE_MS, timeout=self.autosave)
        self.autosave_timer.start()
        self._refresh_budget("tv65")

    # ---------------------------------------------------------------- construction

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.bin = BinPanel(self.document)
        self.timeline = TimelineWidget(self.document)
        self.inspector = InspectorPanel(self.document, api.screen_names())
        self.queue = QueuePanel(self.document, self.runner)
        self.docks = {
            "bin": self._dock("Media / shots", self.bin, Qt.DockWidgetArea.LeftDockWidgetArea),
            "inspector": self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea),
            "timeline": self._dock("Timeline", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea),
            "queue": self._dock("Render queue", self.queue, Qt.DockWidgetArea.BottomDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["timeline"], self.docks["queue"])
        self.docks["timeline"].raise_()

    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        action = QAction(text, self, checkable=checkable)
        if shortcut is not None:
            action.setShortcuts([QKeySequence(s) for s in (shortcut if isinstance(shortcut, list) else [shortcut])])
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        f = bar.addMenu("&File")
        self._action(f, "&New project", self.new_project, QKeySequence.StandardKey.New)
        self._action(f, "&Open project…", self._choose_project, QKeySequence.StandardKey.Open)
        self.recent_menu = f.addMenu("Open &recent")
        self._action(f, "&Save", self.save, QKeySequence.StandardKey.Save)
        self._action(f, "Save &as…", self.save_as, QKeySequence.StandardKey.SaveAs)
        f.addSeparator()
        self._action(f, "&Import media…", self._choose_media, "Ctrl+I")
        self._action(f, "Import &cuts (OTIO / EDL)…", self._choose_cuts)
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        e = bar.addMenu("&Edit")
        undo = self.document.stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence("Ctrl+Z"))
        redo = self.document.stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for a in (undo, redo):
            a.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            e.addAction(a)
            self.addAction(a)
        self._action(e, "Copy shot grade", self.copy_grade, "Ctrl+Shift+C")
        self._action(e, "Paste grade onto shot", self.paste_grade, "Ctrl+Shift+V")
        self._action(e, "Split shot at playhead", self.split_at_playhead, "Ctrl+B")
        self._action(e, "Join shot with next", self.join_with_next, "Ctrl+J")
        self._action(e, "Delete selected keyframe", self.timeline.delete_selected, "Delete")
        v = bar.addMenu("&View")
        self.mode_group = QActionGroup(self)
        self.mode_actions = {}
        for i, (name, label, _id) in enumerate(MODES):
            a = self._action(v, label, lambda _=False, n=name: self.set_mode(n),
                             f"Alt+{i + 1}" if i < 9 else None, checkable=True)
            self.mode_group.addAction(a)
            self.mode_actions[name] = a
        self.mode_actions[self.state.mode].setChecked(True)
        v.addSeparator()
        self.before_action = self._action(v, "Before / after (source)", self.toggle_before, "B", checkable=True)
        self.swap_action = self._action(v, "Swap eyes", self.toggle_swap, checkable=True)
        self.master_action = self._action(v, "Show master-path render", self.toggle_master, "M", checkable=True)
        v.addActions(self.headset.actions)
        self.headset.wants_frame.connect(self._feed_headset)
        self._action(v, "Fit", lambda: self.viewer.set_zoom(Zoom()), "F")
        self._action(v, "1:1", lambda: self.viewer.set_zoom(Zoom().one_to_one()), "1")
        self._action(v, "Zoom in", lambda: self._zoom(1.25), "=")
        self._action(v, "Zoom out", lambda: self._zoom(0.8), "-")
        p = bar.addMenu("&Playback")
        self._action(p, "Play / pause", self.controller.toggle, "Space")
        self._action(p, "Shuttle back (J)", lambda: self._shuttle(-1), "J")
        self._action(p, "Stop (K) / add keyframe when stopped", self.k_pressed, "K")
        self._action(p, "Shuttle forward (L)", lambda: self._shuttle(1), "L")
        self._action(p, "Previous frame", lambda: self.controller.step(-1), "Left")
        self._action(p, "Next frame", lambda: self.controller.step(1), "Right")
        self._action(p, "Previous cut", lambda: self.jump_cut(-1), "Up")
        self._action(p, "Next cut", lambda: self.jump_cut(1), "Down")
        self._action(p, "Mark in", lambda: self.set_mark(0), "I")
        self._action(p, "Mark out", lambda: self.set_mark(1), "O")
        self._action(p, "Analyse shot (depth into the cache)", self.analyse_current_shot, "Ctrl+A")
        tools = QToolBar("View")
        tools.setObjectName("view-toolbar")
        for name in ("anaglyph", "sbs", "left", "right", "blend", "depth", "heatmap"):
            tools.addAction(self.mode_actions[name])
        tools.addSeparator()
        for a in (self.before_action, self.master_action):
            tools.addAction(a)
        self.addToolBar(tools)
        self.addToolBarBreak()
        self.recovery_bar = RecoveryBar(self)  # a crash's autosaves, offered without blocking (offer_recovery)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.recovery_bar)
        self.recovery_bar.recover_requested.connect(self.recover_autosave)
        self.recovery_bar.discard_requested.connect(self.discard_autosave)
        self._refresh_recent()

    def _build_status(self) -> None:
        self.progress_bar = QProgressBar(maximumWidth=200, maximum=1000, visible=False)
        self.position_label = QLabel("")
        self.statusBar().addPermanentWidget(self.position_label)
        self.statusBar().addPermanentWidget(self.headset.indicator)
        self.statusBar().addPermanentWidget(self.progress_bar)
        self.statusBar().showMessage("ready")

    def _connect(self) -> None:
        d, c = self.document, self.controller
        d.changed.connect(self._project_changed)
        d.file_changed.connect(lambda _p: self._update_title())
        d.dirty_changed.connect(lambda _dirty: self._update_title())
        c.opened.connect(self._session_opened)
        c.frame_ready.connect(self._frame_ready)
        c.playing_changed.connect(self.viewer.set_playing)  # moving frames from preview eyes (slow GL)
        c.playing_changed.connect(self._playing_changed)
        c.position_changed.connect(self._position_changed)
        c.master_ready.connect(self._master_ready)
        c.error.connect(self.show_error)
        c.progress.connect(self._progress)
        c.analysed.connect(lambda shot: self.statusBar().showMessage(f"shot {shot.start}–{shot.end - 1} analysed"))
        self.viewer.frame_drawn.connect(self._frame_drawn)
        self.viewer.fell_back.connect(lambda why: self.statusBar().showMessage(f"CPU viewer: {why}"))
        self.timeline.seek_requested.connect(self.seek)
        self.bin.seek_requested.connect(self.seek)
        self.bin.clip_chosen.connect(self.show_clip)
        self.bin.action.connect(self._bin_action)
        self.inspector.screen_changed.connect(self._refresh_budget)
        self.queue.add_requested.connect(self.enqueue)
        self.runner.job_finished.connect(self._job_finished)
        self.runner.job_progress.connect(lambda _j, f, _e: self._progress("render", f))
        self.jobs.failed.connect(lambda _rid, message: self.show_error(message))
        self.jobs.progress.connect(lambda _rid, p: self._progress(p.stage, p.fraction))

    # ---------------------------------------------------------------- messages

    def show_error(self, message: str) -> None:
        """One line in the status bar and a dialog; the app keeps working."""
        self.statusBar().showMessage(message)
        self.dialogs.error(message)

    def _update_title(self) -> None:
        d = self.document
        name = d.path.name if d.path else (d.project.name if d.project and d.project.name else "untitled")
        self.setWindowTitle(f"SpatialDreamer Studio — {name}{' •' if d.dirty else ''}")

    def _progress(self, stage: str, fraction: float) -> None:
        self.progress_bar.setVisible(fraction < 1.0)
        self.progress_bar.setValue(int(fraction * 1000))
        self.progress_bar.setFormat(f"{stage} %p%")

    # ---------------------------------------------------------------- project life

    def new_project(self) -> bool:
        if not self.maybe_save():
            return False
        self._drop_autosave()
        self.document.load(Project(clips=()), None)
        self.started = time.time()
        return True

    def open_media(self, path: Path) -> bool:
        """Add a clip for `path` (probed; a bad file gets a one-line dialog and leaves the project as it was)."""
        path = Path(path)
        if self._probing is not None:  # a nested call from the loop below (a second import while one is probed)
            self.statusBar().showMessage(f"{path.name}: another file is being read; import it once that is done")
            return False
        info, error = self._probe(path)
        if error is not None:
            self.show_error(error)
            return False
        video = info.video
        project = self.document.project or Project(clips=())
        project, clip_id = edits.add_clip(project, str(path.resolve()), video.fps, video.frame_count,
                                          name=path.name)
        if self.document.project is None:
            self.document.load(project, None, clip_id)
        else:
            self.document.apply(f"Import {path.name}", lambda p: (project, clip_id))
            self.document.clip_id = clip_id
        self.show_clip(clip_id)
        self.viewer.viewer.setFocus()
        return True

    def _probe(self, path: Path) -> tuple[object, str | None]:
        """api.probe of `path` in the probe lane (its first call also imports the media stack: PyAV and
        friends, ~0.3 s of CPU, and the probe reads the file's packets) while this thread's event loop
        keeps running, as a modal dialog's does, so the window never freezes on an import. Returns
        (MediaInfo, None) or (None, the one-line error)."""
        def job(ctx):
            try:
                return api.probe(path), None
            except api.SpatialDreamerError as exc:
                return None, exc.one_line()

        loop, outcome, request = QEventLoop(), [], []

        def done(rid: int, result) -> None:
            if request and rid == request[0] and not outcome:
                outcome.append(result)
                loop.quit()

        lane = self.probes
        handlers = ((lane.finished, done), (lane.failed, lambda rid, message: done(rid, (None, message))),
                    (lane.cancelled, lambda rid: done(rid, (None, f"{path}: import cancelled"))))
        for signal, handler in handlers:
            signal.connect(handler)
        self._probing = loop
        try:
            request.append(lane.submit(job, key="probe"))
            if request[0] != 0 and not outcome:  # 0: the lane is closed, the window is going away
                loop.exec()
        finally:
            self._probing = None
            for signal, handler in handlers:
                signal.disconnect(handler)
        return outcome[0] if outcome else (None, f"{path}: not imported, the window is closing")

    def open_project(self, path: Path) -> bool:
        """Open a .sdproj (newer schema refused; older upgraded in memory; missing media offered a relink)."""
        if not self.maybe_save():
            return False
        path = Path(path)
        try:
            opened = project_io.open_project(path)
        except api.SpatialDreamerError as exc:
            self.show_error(exc.one_line())
            return False
        project = self._relink_missing(opened.project, opened.missing_media)
        if project is None:
            return False
        self._drop_autosave()
        self.document.load(project, path if path.suffix == ".sdproj" else None)
        self.document.upgraded_from = opened.upgraded_from
        self.recent.add(path)
        self._refresh_recent()
        if opened.upgraded_from:
            self.statusBar().showMessage(f"{path.name}: upgraded from {opened.upgraded_from}; it is written as "
                                         f"{project_io.CURRENT_SCHEMA} only when you save")
        if project.clips:
            self.show_clip(self.document.clip_id)
        return True

    def _relink_missing(self, project: Project, missing: tuple[str, ...]) -> Project | None:
        for clip_id in missing:
            clip = project.clip(clip_id)
            new = self.dialogs.relink(clip.media)
            if new is None:
                self.show_error(f"{clip.media}: media file not found; the project was not opened. "
                                "Relink it to the moved file")
                return None
            project = edits.relink(project, clip_id, str(new))
        return project

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        path = self.dialogs.save_path()
        return self._save_to(path) if path else False

    def _save_to(self, path: Path) -> bool:
        try:
            project_io.save(self.document.project, path)
        except project_io.SaveFailed as exc:
            self.show_error(str(exc))
            return False
        old_autosave = self._autosave_path()
        self.document.mark_saved(path)
        old_autosave.unlink(missing_ok=True)
        self._autosave_path().unlink(missing_ok=True)
        self.recent.add(path)
        self._refresh_recent()
        self.statusBar().showMessage(f"saved {path}")
        return True

    def maybe_save(self) -> bool:
        """Before the document is replaced or the window closes: True when it is fine to go on."""
        if self.document.project is None or not self.document.dirty:
            return True
        answer = self.dialogs.unsaved()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def _autosave_path(self) -> Path:
        return project_io.autosave_path(self.document.path, self.started)

    def autosave(self) -> bool:
        """Write the side file when the document changed since the last one; a failure is told once."""
        d = self.document
        if d.project is None or not d.dirty or d.revision == self._autosaved_revision:
            return False
        try:
            project_io.save(d.project, self._autosave_path())
        except project_io.SaveFailed as exc:
            self._autosaved_revision = d.revision
            self.show_error(f"autosave failed: {exc}")
            return False
        self._autosaved_revision = d.revision
        return True

    def _drop_autosave(self) -> None:
        if self.document.project is not None:
            self._autosave_path().unlink(missing_ok=True)

    def offer_recovery(self) -> int:
        """At start-up: the autosaves a crash left (of the recent projects and every untitled one) are offered
        in the recovery strip, newest first, without blocking whatever else opens. Returns how many."""
        found = newest_first(project_io.leftover_autosaves(self.recent.paths()))
        self.recovery_bar.offer([(side, project_io.project_for_autosave(side)) for side in found])
        return len(found)

    def recover_autosave(self, side: Path) -> bool:
        """Replace the document by the autosave `side` (after the unsaved-changes question); it stays unsaved
        until the user saves, under its project's path. True when recovered."""
        if not self.maybe_save():
            return False
        try:
            opened = project_io.open_project(side)
        except api.SpatialDreamerError as exc:
            self.show_error(f"{exc.one_line()} (the autosave is kept)")
            self.recovery_bar.done_with(side)
            return False
        project = self._relink_missing(opened.project, opened.missing_media)
        if project is None:
            return False
        self._drop_autosave()
        self.document.load(project, project_io.project_for_autosave(side))
        self.document.stack.push(_Recovered())  # unsaved until the user saves
        side.unlink(missing_ok=True)
        self.recovery_bar.done_with(side)
        self.statusBar().showMessage(f"recovered {side.name}; save to keep it")
        if project.clips:
            self.show_clip(self.document.clip_id)
        return True

    def discard_autosave(self, side: Path) -> None:
        """The user chose to throw a crash's autosave away: the side file is deleted."""
        try:
            side.unlink(missing_ok=True)
        except OSError as exc:
            self.show_error(f"{side}: could not delete the autosave ({exc.strerror or exc})")
            return
        self.recovery_bar.done_with(side)
        self.statusBar().showMessage(f"autosave {side.name} discarded")

    def _choose_project(self) -> None:
        path = self.dialogs.open_path("Open project", "Projects (*.sdproj *.otio)")
        if path:
            self.open_project(path)

    def _choose_media(self) -> None:
        path = self.dialogs.open_path("Import media", MEDIA_FILTER)
        if path:
            self.open_media(path)

    def _choose_cuts(self) -> None:
        path = self.dialogs.open_path("Import cuts", "Edits (*.otio *.edl)")
        if path:
            self.import_cuts(path)

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent.paths():
            self.recent_menu.addAction(str(path), lambda p=path: self.open_project(p))

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            (self.open_project if path.suffix == ".sdproj" else self.open_media)(path)

    def closeEvent(self, event) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self.shutdown()
        self._drop_autosave()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every worker (the test fixture checks none outlives the window), then the session."""
        self.autosave_timer.stop()
        self.headset.shutdown()
        self.runner.close()
        self.paint.close()
        self.qc.close()
        self.jobs.close()
        if self._probing is not None:
            self._probing.quit()
        self.probes.close()
        self.controller.close()
        self.viewer.shutdown()

    # ---------------------------------------------------------------- clips, shots and the session

    def show_clip(self, clip_id: str) -> None:
        self.document.clip_id = clip_id
        self.controller.position = 0
        self.controller.open(self.document.project, clip_id)
        self.timeline.thumbnails = {}
        self._project_changed(self.document.project)

    def _session_opened(self, clip) -> None:
        freeze_heap(once="session")  # the engine modules the first open imported: never walked again (studio.preload)
        self.statusBar().showMessage(f"{Path(clip.media).name}: {clip.frame_count} frames at {float(clip.fps):.3g} fps")
        self._make_thumbnails()
        if self.controller.audio is not None and self.controller.audio.notice:
            self.statusBar().showMessage(self.controller.audio.notice)

    def _project_changed(self, project) -> None:
        self.controller.update_project(project)
        self._update_title()
        self.inspector.refresh()
        self._push_state()
        self._feed_headset()

    @property
    def divergence(self):
        """The inspector's divergence entry (D at the playhead)."""
        return self.inspector.editors["divergence"].spin

    def _feed_headset(self) -> None:
        """While the headset is on without the GL viewer's GPU eyes, send it this frame's eyes by the master's path."""
        session = self.controller.session
        if not self.headset.needs_cpu_frames or session is None:
            return
        n = self.controller.position
        self.controller.update_project(self.document.project)

        def job(ctx):
            left, right = session.render(n, cancel=ctx.cancel)
            return left, right

        def done(eyes) -> None:
            import numpy as np

            if self.headset.needs_cpu_frames:
                self.headset.show_sbs(np.concatenate(eyes, axis=1))
            self.preview_ready.emit()

        self.controller.frames.submit(job, key="headset", on_done=done)

    def _frame_ready(self, frame) -> None:
        self.viewer.set_frame(frame)
        if self.controller.playing:
            # One repaint of the window per shown frame: the playhead, timecode and inspector move with
            # the picture (a GL-composed window pays for every repaint); the readout waits for the stop.
            self._show_position(frame.index)
        self._push_state()
        if self.state.show_master:
            self.controller.render_master(frame.index)
        self._request_readout(frame.index)
        if self.headset.needs_cpu_frames:
            self._feed_headset()
        else:
            self.preview_ready.emit()

    def _frame_drawn(self, index: int) -> None:
        if not self._first_shown:
            self._first_shown = True
            self.first_frame_shown.emit()

    def _position_changed(self, n: int) -> None:
        if not self.controller.playing:  # while playing, the shown frame moves the playhead
            self._show_position(n)

    def _playing_changed(self, playing: bool) -> None:
        if not playing:
            self._show_position(self.controller.position)
            self._request_readout(self.controller.position)

    def _show_position(self, n: int) -> None:
        self.timeline.set_playhead(n)
        self.inspector.set_frame(n)
        self.position_label.setText(f"{self.controller.timecode(n)}  ·  {n}")

    def seek(self, n: int) -> None:
        self.controller.seek(n)

    def current_shot_index(self) -> int | None:
        clip = self.document.clip
        return clip.shot_index_at(self.controller.position) if clip else None

    def _push_state(self) -> None:
        clip = self.document.clip
        n = self.controller.position
        params = clip.params_at(n) if clip else self.state.params
        self.state = ViewState(params=params, mode=self.state.mode, before=self.state.before,
                               swap_eyes=self.state.swap_eyes, budget=self.state.budget,
                               show_master=self.state.show_master)
        self.viewer.set_state(self.state)

    def set_mode(self, mode: str) -> None:
        self.state = ViewState(self.state.params, mode, self.state.before, self.state.swap_eyes, self.state.budget,
                               self.state.show_master)
        self.mode_actions[mode].setChecked(True)
        self.viewer.set_state(self.state)

    def toggle_before(self) -> None:
        self.state = ViewState(self.state.params, self.state.mode, not self.state.before, self.state.swap_eyes,
                               self.state.budget, self.state.show_master)
        self.viewer.set_state(self.state)

    def toggle_swap(self) -> None:
        self.state = ViewState(self.state.params, self.state.mode, self.state.before, not self.state.swap_eyes,
                               self.state.budget, self.state.show_master)
        self.viewer.set_state(self.state)

    def toggle_master(self) -> None:
        show = not self.state.show_master
        self.master_action.setChecked(show)
        self.state = ViewState(self.state.params, self.state.mode, self.state.before, self.state.swap_eyes,
                               self.state.budget, show)
        self.viewer.set_state(self.state)
        if show:
            self.statusBar().showMessage("rendering this frame by the master's path…")
            self.controller.render_master(self.controller.position)

    def _master_ready(self, n: int, left, right) -> None:
        if n == self.controller.position:
            self.viewer.set_master_eyes(left, right)
            self.statusBar().showMessage(f"frame {n}: master-path render shown")

    def _zoom(self, factor: float) -> None:
        v = self.viewer.viewer
        self.viewer.set_zoom(v.zoom.zoomed(factor, (v.width() / 2, v.height() / 2), (v.width(), v.height()),
                                           v.content()))

    def _shuttle(self, direction: int) -> None:
        c = self.controller
        speed = c._shuttle if c.playing else 0.0
        speed = direction if speed == 0 or (speed > 0) != (direction > 0) else speed * 2
        c.play(float(max(-8, min(8, speed))))

    def k_pressed(self) -> None:
        """K stops a shuttle; pressed while stopped it keys D and c at the playhead."""
        if self.controller.playing:
            self.controller.pause()
            return
        self.add_keyframe()

    def add_keyframe(self, tracks=("divergence", "convergence")) -> None:
        clip, shot = self.document.clip, self.current_shot_index()
        if shot is None:
            return
        n = self.controller.position
        params = clip.params_at(n)
        values = {"divergence": params.divergence, "convergence": params.convergence}

        def key_all(project):
            for track in tracks:
                project = edits.add_keyframe(project, clip.id, shot, track, n, values[track])
            return project

        self.document.apply("Add keyframe", key_all)

    def jump_cut(self, direction: int) -> None:
        clip = self.document.clip
        if clip is None:
            return
        n = self.controller.position
        cuts = [c for c in clip.cuts() if c < clip.frame_count]
        target = max((c for c in cuts if c < n), default=0) if direction < 0 else \
            min((c for c in cuts if c > n), default=clip.frame_count - 1)
        self.controller.pause()
        self.seek(target)

    def set_mark(self, which: int) -> None:
        self.marks[which] = self.controller.position
        self.timeline.set_marks(*self.marks)

    def copy_grade(self) -> None:
        shot = self.current_shot_index()
        if shot is not None:
            self.clipboard = edits.copy_grade(self.document.project, self.document.clip_id, shot)
            self.statusBar().showMessage("grade copied")

    def paste_grade(self, shots=None) -> None:
        if self.clipboard is None:
            return
        shots = [self.current_shot_index()] if shots is None else list(shots)
        if None not in shots:
            self.document.apply("Paste grade", edits.paste_grade, self.document.clip_id, shots, self.clipboard)

    def split_at_playhead(self) -> None:
        try:
            self.document.apply("Split shot", edits.split_shot, self.document.clip_id, self.controller.position)
        except ValueError as exc:
            self.statusBar().showMessage(str(exc))

    def join_with_next(self) -> None:
        shot = self.current_shot_index()
        if shot is None:
            return
        try:
            self.document.apply("Join shots", edits.join_shots, self.document.clip_id, shot)
        except (KeyError, ValueError) as exc:
            self.statusBar().showMessage(str(exc).strip("'\""))

    def analyse_current_shot(self) -> None:
        clip, shot = self.document.clip, self.current_shot_index()
        if shot is not None:
            self.controller.analyse_shot(clip.shots[shot])

    def _bin_action(self, key: str) -> None:
        if key == "import":
            self._choose_media()
        elif key == "detect":
            self.detect_shots()
        elif key == "cuts":
            self._choose_cuts()
        elif key == "remove" and self.document.clip_id is not None:
            self.document.apply("Remove clip", edits.remove_clip, self.document.clip_id)
            if self.document.clip_id:
                self.show_clip(self.document.clip_id)

    def detect_shots(self) -> int:
        """Detect the clip's cuts in a worker; the new shots land as one undoable edit. Returns the request id."""
        clip = self.document.clip
        media, clip_id = clip.media, clip.id

        def job(ctx):
            with api.open_media(media) as reader:
                cuts = yield from api.detect_cuts(reader, api.ShotDetectConfig(), cancel=ctx.cancel)
                return clip_id, api.cuts_to_ranges(cuts, 0, len(reader))

        def done(result):
            found_clip, ranges = result
            self.document.apply("Detect shots", edits.set_cuts, found_clip, ranges)
            self.statusBar().showMessage(f"{len(ranges)} shots detected")
            self._make_thumbnails()

        self.statusBar().showMessage("detecting shots…")
        return self.jobs.submit(job, key="detect", on_done=done)

    def import_cuts(self, path: Path) -> bool:
        """Cut the clip by an OTIO / EDL edit (one undoable edit); a bad file gets a one-line dialog."""
        clip = self.document.clip
        if clip is None:
            self.show_error("import a clip before its cuts")
            return False
        notes: list[str] = []
        loader = api.edl_to_project if Path(path).suffix.lower() == ".edl" else api.otio_to_project
        try:
            cut = loader(path, clip.media, notes=notes)
        except api.SpatialDreamerError as exc:
            self.show_error(exc.one_line())
            return False
        ranges = [(s.start, s.end) for s in cut.clip().shots]
        self.document.apply(f"Import cuts from {Path(path).name}", edits.set_cuts, clip.id, ranges)
        note = f" ({notes[0]})" if notes else ""
        self.statusBar().showMessage(f"{len(ranges)} shots from {Path(path).name}{note}")
        self._make_thumbnails()
        return True

    def _make_thumbnails(self) -> None:
        session, clip = self.controller.session, self.document.clip
        if session is None or clip is None:
            return
        starts = [s.start for s in clip.shots]

        def job(ctx):
            out = {}
            for start in starts:
                ctx.check()
                rgb = session.frame(start)
                step = max(1, rgb.shape[0] // 48)
                small = rgb[::step, ::step]
                small8 = (small >> 8).astype("uint8") if small.dtype.itemsize == 2 else small
                h, w = small8.shape[:2]
                out[start] = QImage(small8.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()
            return out

        def done(result):
            self.timeline.thumbnails = result
            self.timeline.update()

        self.jobs.submit(job, key="thumbnails", on_done=done)

    # ---------------------------------------------------------------- readout and budget

    def _refresh_budget(self, screen: str) -> None:
        b = api.budget_for(screen)
        self.state = ViewState(self.state.params, self.state.mode, self.state.before, self.state.swap_eyes,
                               Budget(screen, b.low, b.high, b.screen.divergence_limit_pct()), self.state.show_master)
        self.viewer.set_state(self.state)
        self._request_readout(self.controller.position)

    def _request_readout(self, n: int) -> None:
        session = self.controller.session
        if session is None or self.controller.playing:
            return
        screen = self.state.budget.name
        self.jobs.submit(lambda ctx: session.readout(n, screen=screen), key="readout",
                         on_done=self.inspector.show_readout)

    # ---------------------------------------------------------------- render queue

    def enqueue(self, what: str) -> str | None:
        """Queue the current shot, the marked range or the whole clip; returns the job id."""
        clip, d = self.document.clip, self.document
        if clip is None:
            return None
        if what == "shot":
            shot = self.current_shot_index()
            if shot is None:
                return None
            start, end, label = clip.shots[shot].start, clip.shots[shot].end, clip.shots[shot].name
        elif what == "range":
            a = self.marks[0] if self.marks[0] is not None else 0
            b = self.marks[1] if self.marks[1] is not None else clip.frame_count - 1
            start, end, label = min(a, b), max(a, b) + 1, "marked range"
        else:
            start, end, label = 0, clip.frame_count, "whole clip"
        folder = Path(d.project.render.output_dir or (d.path.parent if d.path else Path(clip.media).parent))
        if not folder.is_absolute() and d.path is not None:
            folder = d.path.parent / folder
        stem = Path(clip.media).stem
        output = folder / f"{stem}_{start:06d}-{end - 1:06d}_{d.project.render.layout}.mp4"
        return d.apply_result(f"Queue {label or 'shot'}", edits.enqueue, clip.id, start, end, str(output),
                              label or f"frames {start}-{end - 1}")

    def _job_finished(self, job_id: str, state: str, message: str) -> None:
        if state == "failed":
            self.show_error(f"render job {job_id} failed: {message}")
        else:
            self.statusBar().showMessage(f"render job {job_id}: {state}")
        self.progress_bar.setVisible(False)


class _Recovered(QUndoCommand):
    """A history entry with nothing to undo: keeps a recovered project 'unsaved' until the user saves it."""

    def __init__(self) -> None:
        super().__init__("Recovered from autosave")
        self.setObsolete(False)
