"""The depth brush in the studio: mouse gestures on the viewer become undoable strokes of the document.

With the brush on (B, or the panel's Paint button) a left-button drag on the viewer paints one stroke on
the shown frame: positions are mapped from viewer pixels to full-resolution source pixels through the
viewer's zoom and pan (:class:`studio.paint.layer.ViewMapping`); Alt held pulls nearer (push with a < 0);
``set`` with "sample" on takes δ under the press point. The middle button still pans and the wheel zooms;
[ and ] shrink and grow the brush. Release pushes an :class:`AddStrokeCommand` on the document's undo stack.

A document change that touches the clip's strokes re-fetches the shown frame (so the session — the
FrameAssembly the master renders with — applies the edits to δ and the viewer redraws with them), then a
worker shows the strokes' weight on that frame at once (``edit_overlay(wait=False)``) and carries the
shot's strokes across the shot (``Session.analyse``: the edit flows and carried maps), after which the
overlay shows the propagated extent and the notes say where a stroke applies only in part.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QScrollArea

from engine.document import edits
from studio.paint.brush import BrushGesture, BrushSettings, resized, sample_depth
from studio.paint.commands import AddStrokeCommand, RemoveStrokeCommand
from studio.paint.layer import PaintLayer, ViewMapping
from studio.paint.matte import matte_stroke
from studio.paint.overlay import overlay_qimage
from studio.paint.panel import PaintPanel
from studio.workers import Lane

MATTE_FILTER = "Mattes (*.png *.exr *.tif *.tiff *.pfm *.jpg *.jpeg *.bmp *.webp);;All files (*)"


class _OverlayReady:
    """A worker's overlay of one frame (posted first without waiting for the carry, then after it)."""

    def __init__(self, index: int, weight, notes: tuple[str, ...], final: bool) -> None:
        self.index, self.weight, self.notes, self.final = index, weight, notes, final


class PaintTool(QObject):
    """The brush, its panel in the inspector, its layer over the viewer and its worker lane.

    Args:
        window: the studio MainWindow (document, controller, viewer, inspector, dialogs, status bar).
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window, self.document, self.controller = window, window.document, window.controller
        self.settings = BrushSettings()
        self.active = False
        self.show_overlay = True
        self.pull_default = False  # the panel's "pull nearer"; Alt inverts it
        self.gesture: BrushGesture | None = None
        self.hover: tuple[float, float] | None = None
        self.selected: str | None = None
        self._overlay: tuple[int, object, tuple[str, ...]] | None = None
        self._strokes_key: tuple | None = None
        self._watched = None
        self._view_key: tuple | None = None
        self.lane = Lane("paint", self)
        self.lane.progress.connect(self._progress)
        self.lane.failed.connect(lambda _rid, message: self.window.statusBar().showMessage(message))
        self.panel = PaintPanel(self)
        window.inspector.layout().insertWidget(window.inspector.layout().count() - 1, self.panel)
        self._scroll_inspector()
        self.layer = PaintLayer(self, window.viewer)
        window.viewer.installEventFilter(self)
        window.viewer.fell_back.connect(lambda _why: self._watch_viewer())
        self._watch_viewer()
        self.document.changed.connect(self._document_changed)
        self.controller.frame_ready.connect(self._frame_ready)
        self._build_actions()

    # ---------------------------------------------------------------- set-up

    def _build_actions(self) -> None:
        menu = self.window.menuBar().addMenu("&Paint")

        def action(text: str, slot, shortcut: str, checkable: bool = False) -> QAction:
            a = QAction(text, self.window, checkable=checkable)
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            a.triggered.connect(slot)
            menu.addAction(a)
            self.window.addAction(a)
            return a

        self.toggle_action = action("Depth brush", self.set_active, "B", checkable=True)
        action("Smaller brush", lambda: self.resize_brush(1 / 1.25), "[")
        action("Larger brush", lambda: self.resize_brush(1.25), "]")
        action("Import matte…", self.choose_matte, "Ctrl+Shift+M")

    def _scroll_inspector(self) -> None:
        """The inspector grew by this section: let it scroll instead of stretching the window."""
        dock = self.window.docks["inspector"]
        if isinstance(dock.widget(), QScrollArea):
            return
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.window.inspector)
        scroll.setMinimumWidth(self.window.inspector.minimumWidth() + 16)
        dock.setWidget(scroll)

    def _watch_viewer(self) -> None:
        viewer = self.window.viewer.viewer
        if viewer is self._watched:
            return
        viewer.installEventFilter(self)
        viewer.setMouseTracking(True)
        self._watched = viewer
        self.layer.attach(viewer)

    def close(self) -> None:
        self.lane.close()

    # ---------------------------------------------------------------- brush state

    def set_active(self, on: bool) -> None:
        self.active = bool(on)
        self.toggle_action.setChecked(self.active)
        self.panel.set_paint_checked(self.active)
        self._watched.setCursor(Qt.CursorShape.BlankCursor if self.active else Qt.CursorShape.ArrowCursor)
        if not self.active:
            self.gesture = None
        self.layer.update()

    def set_settings(self, settings: BrushSettings) -> None:
        self.settings = settings
        self.layer.update()

    def resize_brush(self, factor: float) -> None:
        self.set_settings(resized(self.settings, factor))
        self.panel.show_settings(self.settings)

    def set_show_overlay(self, on: bool) -> None:
        self.show_overlay = bool(on)
        self.layer.update()

    def cursor_label(self) -> str:
        s = self.settings
        pull = " (Alt: pull)" if s.kind == "push" else ""
        return f"{s.kind}{pull} r {s.radius:.0f}px"

    # ---------------------------------------------------------------- geometry

    def source_size(self) -> tuple[int, int] | None:
        session = self.controller.session
        if session is None:
            return None
        video = session.reader.info.video
        return int(video.width), int(video.height)

    def mapping(self) -> ViewMapping | None:
        frame, source = self.window.viewer.frame, self.source_size()
        if frame is None or source is None:
            return None
        h, w = frame.rgb.shape[:2]
        return ViewMapping.of(self._watched, (w, h), source)

    def view_height(self) -> int:
        """Height of the viewer the brush works on (logical pixels)."""
        return self._watched.height()

    def frame_index(self) -> int | None:
        frame = self.window.viewer.frame
        return None if frame is None else frame.index

    # ---------------------------------------------------------------- mouse

    def eventFilter(self, obj, event) -> bool:
        if obj is self.window.viewer:
            if event.type() == QEvent.Type.Resize:
                self.layer.setGeometry(self.window.viewer.rect())
            return False
        if obj is not self._watched:
            return False
        kind = event.type()
        if kind == QEvent.Type.Paint:
            view = (obj.zoom, obj.content(), obj.width(), obj.height(), self.frame_index())
            if view != self._view_key:  # zoom, pan, mode or frame changed: redraw the layer to match
                self._view_key = view
                QTimer.singleShot(0, self.layer.update)
            return False
        if kind == QEvent.Type.Leave:
            self.hover = None
            self.layer.update()
            return False
        if not self.active or kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                                           QEvent.Type.MouseButtonRelease):
            return False
        pos = event.position()
        self.hover = (pos.x(), pos.y())
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
            return self.press(pos.x(), pos.y(), alt != self.pull_default)
        if kind == QEvent.Type.MouseMove:
            self.move(pos.x(), pos.y())
            return self.gesture is not None
        if kind == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton \
                and self.gesture is not None:
            self.release(pos.x(), pos.y())
            return True
        return False

    def press(self, x: float, y: float, pull: bool = False) -> bool:
        """Start a stroke at viewer point (x, y) on the shown frame; False when there is nothing to paint on."""
        mapping, frame = self.mapping(), self.window.viewer.frame
        clip = self.document.clip
        if mapping is None or clip is None:
            return False
        if clip.shot_index_at(frame.index) is None:
            self.window.statusBar().showMessage(f"frame {frame.index} is in no shot: strokes belong to a shot")
            return True
        sx, sy = mapping.to_source(x, y)
        sampled = sample_depth(frame.delta, sx, sy, mapping.source) if frame.delta is not None else None
        self.gesture = BrushGesture(self.settings, frame.index, pull, sampled)
        self.gesture.add(sx, sy)
        self.layer.update()
        return True

    def move(self, x: float, y: float) -> None:
        mapping = self.mapping()
        if self.gesture is not None and mapping is not None:
            self.gesture.add(*mapping.to_source(x, y))
        self.layer.update()

    def release(self, x: float, y: float) -> str | None:
        """End the stroke at (x, y) and push it on the undo stack; returns the new stroke's id."""
        gesture, self.gesture, mapping = self.gesture, None, self.mapping()
        clip = self.document.clip
        if gesture is None or mapping is None or clip is None:
            return None
        stroke = gesture.stroke(edits.new_stroke_id(self.document.project), mapping.to_source(x, y))
        self.layer.update()
        if stroke is None:
            self.window.statusBar().showMessage("set: no value and nothing to sample under the brush")
            return None
        shot = clip.shot_index_at(stroke.frame)
        self.document.stack.push(AddStrokeCommand(self.document, clip.id, shot, stroke))
        self.selected = stroke.id
        return stroke.id

    # ---------------------------------------------------------------- strokes

    def shot_index(self) -> int | None:
        clip = self.document.clip
        return clip.shot_index_at(self.controller.position) if clip else None

    def shot_strokes(self) -> tuple:
        clip, shot = self.document.clip, self.shot_index()
        return () if shot is None else clip.shots[shot].strokes

    def selected_stroke(self):
        return next((s for s in self.shot_strokes() if s.id == self.selected), None)

    def select(self, stroke_id: str | None) -> None:
        self.selected = stroke_id
        self.layer.update()

    def delete(self, stroke_id: str) -> None:
        clip, shot = self.document.clip, self.shot_index()
        if shot is not None:
            self.document.stack.push(RemoveStrokeCommand(self.document, clip.id, shot, stroke_id))

    def set_visible(self, stroke_id: str, visible: bool) -> None:
        clip, shot = self.document.clip, self.shot_index()
        if shot is not None:
            self.document.apply(f"{'Show' if visible else 'Hide'} stroke {stroke_id}", edits.set_stroke_visible,
                                clip.id, shot, stroke_id, visible)

    def go_to_stroke(self, stroke_id: str) -> None:
        stroke = next((s for s in self.shot_strokes() if s.id == stroke_id), None)
        if stroke is not None:
            self.select(stroke_id)
            self.controller.seek(stroke.frame)

    # ---------------------------------------------------------------- mattes

    def choose_matte(self) -> None:
        path = self.window.dialogs.open_path("Import matte (an image, or one file of a numbered sequence)",
                                             MATTE_FILTER)
        if path:
            self.import_matte(Path(path))

    def import_matte(self, path: Path) -> str | None:
        """Add the matte at `path` (a numbered file brings its whole sequence) as a stroke painted with the
        brush's kind, amount and value; the chosen file is the matte of the frame at the playhead."""
        clip, shot = self.document.clip, self.shot_index()
        if clip is None or shot is None:
            self.window.show_error("put the playhead on a shot before importing a matte for it")
            return None
        try:
            stroke = matte_stroke(path, edits.new_stroke_id(self.document.project), self.settings,
                                  self.controller.position, clip.shots[shot], self.pull_default)
        except ValueError as exc:
            self.window.show_error(str(exc))
            return None
        self.document.stack.push(AddStrokeCommand(self.document, clip.id, shot, stroke))
        self.selected = stroke.id
        self.window.statusBar().showMessage(f"matte {Path(stroke.matte).name} imported as stroke {stroke.id}")
        return stroke.id

    # ---------------------------------------------------------------- the session side

    def _clip_strokes(self) -> tuple:
        clip = self.document.clip
        return () if clip is None else (clip.id, tuple(s.strokes for s in clip.shots))

    def _document_changed(self, _project) -> None:
        self.panel.refresh()
        key = self._clip_strokes()
        if key == self._strokes_key:
            return
        first = self._strokes_key is None
        self._strokes_key = key
        if not first:  # after the window's own slot has sent the session the new document
            QTimer.singleShot(0, lambda: self.controller.seek(self.controller.position, force=True))

    def _frame_ready(self, frame) -> None:
        self.panel.refresh()
        self._request_overlay(frame.index)

    def _request_overlay(self, n: int) -> None:
        session, clip = self.controller.session, self.document.clip
        shot_index = clip.shot_index_at(n) if clip else None
        if session is None or shot_index is None or not clip.shots[shot_index].strokes:
            self._overlay = None
            self.layer.update()
            return
        shot = clip.shots[shot_index]

        def job(ctx):
            weight, notes = session.edit_overlay(n, wait=False)
            yield _OverlayReady(n, weight, notes, False)
            yield from session.analyse(shot, ctx.cancel)
            weight, notes = session.edit_overlay(n)
            return _OverlayReady(n, weight, notes, True)

        self.lane.submit(job, key="overlay", on_done=self._show_overlay)

    def _progress(self, _rid: int, payload) -> None:
        if isinstance(payload, _OverlayReady):
            self._show_overlay(payload)
        elif hasattr(payload, "fraction") and getattr(payload, "stage", "") != "note":
            self.window._progress(payload.stage, payload.fraction)

    def _show_overlay(self, ready: _OverlayReady) -> None:
        image = None if ready.weight is None else overlay_qimage(ready.weight)
        self._overlay = (ready.index, image, ready.notes)
        self.panel.show_notes(ready.notes, ready.final)
        self.layer.update()

    def overlay_for_frame(self):
        if self._overlay is None or self._overlay[0] != self.frame_index():
            return None
        return self._overlay[1]

    def frame_notes(self) -> tuple[str, ...]:
        if self._overlay is None or self._overlay[0] != self.frame_index():
            return ()
        return self._overlay[2]
