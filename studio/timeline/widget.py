"""The timeline widget: ruler, shots with thumbnails, cut markers, marks, playhead, keyframe track rows.

Mouse: click or drag on the ruler or shots to scrub; on a track row, drag a keyframe to move it
(one undo step on release), double-click to add a keyframe at the current value, right-click for
interpolation / delete. Wheel scrolls, Ctrl+wheel zooms about the pointer. Every edit goes through
the DocumentModel (pure document edits on the undo stack).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QImage, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from engine.document import GRADE_TRACKS, INTERPOLATIONS, edits
from studio.timeline.model import (
    RULER_H,
    SHOT_H,
    TRACK_H,
    KeyHit,
    TimelineView,
    curve_points,
    keyframe_at,
    row_of,
    row_top,
    track_value,
    value_y,
)

TRACK_LABELS = {"divergence": "Divergence D", "convergence": "Convergence c", "near": "Curve near",
                "far": "Curve far", "gamma": "Curve γ"}
_SHOT_COLOURS = (QColor(54, 78, 110), QColor(70, 60, 104))


class TimelineWidget(QWidget):
    """Signals:
        seek_requested(int): the user scrubbed to a frame.
        selection_changed(object): the selected keyframe (KeyHit), or () when none is.
    """

    seek_requested = Signal(int)
    selection_changed = Signal(object)

    def __init__(self, document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.view = TimelineView(1)
        self.playhead = 0
        self.marks: tuple[int | None, int | None] = (None, None)
        self.thumbnails: dict[int, QImage] = {}
        self.selected: KeyHit | None = None
        self._drag: KeyHit | None = None
        self._drag_frame: int | None = None
        self._scrubbing = False
        self._fitted = False
        self._background: tuple[tuple, QPixmap] | None = None  # everything but the playhead
        self.setMinimumHeight(RULER_H + SHOT_H + TRACK_H * len(GRADE_TRACKS) + 4)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        document.changed.connect(self._document_changed)
        self._document_changed(document.project)

    # ---------------------------------------------------------------- state

    @property
    def clip(self):
        return self.document.clip

    def _document_changed(self, _project) -> None:
        clip = self.clip
        if clip is not None and clip.frame_count != self.view.frame_count:
            self.view = TimelineView(clip.frame_count).fitted(max(self.width(), 1))
            self._fitted = False
        if self.selected is not None and not self._key_exists(self.selected):
            self.select(None)
        self.update()

    def _key_exists(self, hit: KeyHit) -> bool:
        clip = self.clip
        return (clip is not None and hit.shot < len(clip.shots)
                and clip.shots[hit.shot].grade.track(hit.track).key_at(hit.frame) is not None)

    def set_playhead(self, frame: int) -> None:
        self.playhead = frame
        x = self.view.x_of(frame)
        if self._fitted and self.width() > 0 and not 0 <= x <= self.width():  # follow the playhead
            self.view = self.view.scrolled(x - self.width() * 0.3)
        self.update()

    def set_marks(self, mark_in: int | None, mark_out: int | None) -> None:
        self.marks = (mark_in, mark_out)
        self.update()

    def select(self, hit: KeyHit | None) -> None:
        self.selected = hit
        self.selection_changed.emit(hit if hit is not None else ())
        self.update()

    def resizeEvent(self, event) -> None:
        if not self._fitted and self.width() > 0:  # fit the clip until the user zooms or scrolls
            self.view = self.view.fitted(self.width())
        super().resizeEvent(event)

    # ---------------------------------------------------------------- painting

    def _background_key(self) -> tuple:
        """What the background depends on (the clip is immutable: a new object after every edit)."""
        thumbs = tuple((k, v.cacheKey()) for k, v in self.thumbnails.items())
        return (id(self.clip), self.clip, self.view, self.width(), self.height(), self.devicePixelRatioF(),
                self.selected, self._drag, self._drag_frame, self.marks, thumbs)

    def paintEvent(self, event) -> None:
        """The cached background (ruler, shots, tracks, marks) and the playhead on top of it.

        The playhead moves on every frame of playback and scrub; the rest changes only with an
        edit, a zoom or a resize, so it is painted into a pixmap once and reused.
        """
        key = self._background_key()
        if self._background is None or self._background[0] != key:
            self._background = (key, self._paint_background())
        p = QPainter(self)
        p.drawPixmap(0, 0, self._background[1])
        if self.clip is not None:
            x = self.view.x_of(self.playhead + 0.5)
            p.setPen(QPen(QColor(255, 80, 60), 2))
            p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.end()

    def _paint_background(self) -> QPixmap:
        dpr = self.devicePixelRatioF()
        pixmap = QPixmap(max(1, round(self.width() * dpr)), max(1, round(self.height() * dpr)))
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(QColor(28, 28, 31))
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        clip = self.clip
        if clip is not None:
            self._paint_ruler(p, clip)
            self._paint_shots(p, clip)
            for track in GRADE_TRACKS:
                self._paint_track(p, clip, track)
            self._paint_marks(p)
        p.end()
        return pixmap

    def _paint_ruler(self, p: QPainter, clip) -> None:
        p.fillRect(QRectF(0, 0, self.width(), RULER_H), QColor(36, 36, 40))
        fps = max(1, round(float(clip.fps)))
        step = fps
        while step * self.view.scale < 70:
            step *= 2
        p.setPen(QColor(160, 160, 160))
        first = int(self.view.first // step * step)
        for f in range(first, clip.frame_count + 1, step):
            x = self.view.x_of(f)
            if x > self.width():
                break
            p.drawLine(QPointF(x, RULER_H - 6), QPointF(x, RULER_H))
            seconds = f / float(clip.fps)
            p.drawText(QPointF(x + 3, RULER_H - 8), f"{int(seconds // 60):02d}:{seconds % 60:05.2f}")

    def _paint_shots(self, p: QPainter, clip) -> None:
        for i, shot in enumerate(clip.shots):
            x0, x1 = self.view.x_of(shot.start), self.view.x_of(shot.end)
            if x1 < 0 or x0 > self.width():
                continue
            rect = QRectF(x0, RULER_H + 2, max(x1 - x0 - 1, 1), SHOT_H - 4)
            p.fillRect(rect, _SHOT_COLOURS[i % 2])
            thumb = self.thumbnails.get(shot.start)
            if thumb is not None and rect.width() > 24:
                h = rect.height() - 4
                w = min(h * thumb.width() / max(thumb.height(), 1), rect.width() - 4)
                p.drawImage(QRectF(x0 + 2, RULER_H + 4, w, h), thumb)
            p.setPen(QColor(230, 230, 230))
            p.drawText(rect.adjusted(4, 2, -4, -2), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                       shot.name or f"Shot {i + 1}")
            p.setPen(QPen(QColor(255, 210, 80), 2))  # cut marker
            p.drawLine(QPointF(x0, RULER_H), QPointF(x0, RULER_H + SHOT_H))

    def _paint_track(self, p: QPainter, clip, track: str) -> None:
        top = row_top(track)
        p.fillRect(QRectF(0, top, self.width(), TRACK_H - 1), QColor(34, 34, 38))
        p.setPen(QPen(QColor(120, 190, 255), 1.5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        for line in curve_points(clip, self.view, track, self.width()):
            path = QPainterPath(QPointF(*line[0]))
            for pt in line[1:]:
                path.lineTo(QPointF(*pt))
            p.drawPath(path)
        label = TRACK_LABELS[track]  # a chip over the curve, so a value near the row's edge stays readable
        width = p.fontMetrics().horizontalAdvance(label) + 10
        p.fillRect(QRectF(0, top, width, 16), QColor(34, 34, 38, 220))
        p.setPen(QColor(150, 150, 160))
        p.drawText(QRectF(5, top + 1, width, 14), Qt.AlignmentFlag.AlignLeft, label)
        for i, shot in enumerate(clip.shots):
            for key in shot.grade.track(track).keyframes:
                frame = self._drag_frame if self._is_dragged(i, track, key.frame) else key.frame
                x, y = self.view.x_of(frame + 0.5), value_y(track, key.value)
                chosen = self.selected == KeyHit(i, track, key.frame)
                p.setBrush(QColor(255, 200, 60) if chosen else QColor(220, 220, 220))
                p.setPen(QColor(20, 20, 20))
                shape = {"hold": 4, "smooth": 8}.get(key.interpolation, 5)
                p.drawPolygon(QPolygonF([QPointF(x, y - shape), QPointF(x + 5, y), QPointF(x, y + shape),
                                         QPointF(x - 5, y)]))

    def _is_dragged(self, shot: int, track: str, frame: int) -> bool:
        return self._drag is not None and self._drag == KeyHit(shot, track, frame) and self._drag_frame is not None

    def _paint_marks(self, p: QPainter) -> None:
        mark_in, mark_out = self.marks
        if mark_in is None and mark_out is None:
            return
        a = self.view.x_of(mark_in if mark_in is not None else 0)
        b = self.view.x_of((mark_out + 1) if mark_out is not None else self.view.frame_count)
        p.fillRect(QRectF(a, 0, b - a, RULER_H), QColor(90, 160, 255, 90))

    # ---------------------------------------------------------------- editing

    def add_keyframe(self, track: str, frame: int, value: float | None = None) -> None:
        """Key `track` at `frame` with `value` (default: the value there now) in the shot holding it."""
        clip = self.clip
        shot = clip.shot_index_at(frame) if clip else None
        if shot is None:
            return
        value = track_value(clip, track, frame) if value is None else value
        self._edit(f"Add {track} keyframe", edits.add_keyframe, clip.id, shot, track, frame, value)
        self.select(KeyHit(shot, track, frame))

    def delete_selected(self) -> None:
        hit = self.selected
        if hit is None:
            return
        self.select(None)
        self._edit(f"Delete {hit.track} keyframe", edits.delete_keyframe, self.clip.id, hit.shot, hit.track, hit.frame)

    def set_interpolation(self, hit: KeyHit, interpolation: str) -> None:
        self._edit(f"{hit.track} keyframe: {interpolation}", edits.set_interpolation, self.clip.id, hit.shot,
                   hit.track, hit.frame, interpolation)

    def move_keyframe(self, hit: KeyHit, to_frame: int) -> None:
        if to_frame == hit.frame:
            return
        if self._edit(f"Move {hit.track} keyframe", edits.move_keyframe, self.clip.id, hit.shot, hit.track,
                      hit.frame, to_frame):
            self.select(KeyHit(hit.shot, hit.track, to_frame))

    def _edit(self, text: str, fn, *args) -> bool:
        try:
            self.document.apply(text, fn, *args)
        except (KeyError, ValueError) as exc:
            message = str(exc).strip("'\"")
            if self.isVisible():
                QMessageBox.information(self, "Timeline", message)
            self.window().statusBar().showMessage(message) if hasattr(self.window(), "statusBar") else None
            return False
        return True

    # ---------------------------------------------------------------- mouse and keys

    def mousePressEvent(self, event) -> None:
        clip, pos = self.clip, event.position()
        if clip is None:
            return
        row = row_of(pos.y())
        if row in ("ruler", "shots") and event.button() == Qt.MouseButton.LeftButton:
            self._scrubbing = True
            self.seek_requested.emit(self.view.frame_at(pos.x()))
            return
        if row in GRADE_TRACKS:
            hit = keyframe_at(clip, self.view, row, pos.x())
            if event.button() == Qt.MouseButton.RightButton:
                self._context_menu(hit, row, event.globalPosition().toPoint(), self.view.frame_at(pos.x()))
                return
            self.select(hit)
            self._drag, self._drag_frame = hit, None

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self._scrubbing:
            self.seek_requested.emit(self.view.frame_at(pos.x()))
        elif self._drag is not None:
            shot = self.clip.shots[self._drag.shot]
            self._drag_frame = min(max(self.view.frame_at(pos.x()), shot.start), shot.end - 1)
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        if self._drag is not None and self._drag_frame is not None:
            hit, to = self._drag, self._drag_frame
            self._drag = self._drag_frame = None
            self.move_keyframe(hit, to)
        self._drag = self._drag_frame = None
        self._scrubbing = False
        self.update()

    def mouseDoubleClickEvent(self, event) -> None:
        row = row_of(event.position().y())
        if row in GRADE_TRACKS and self.clip is not None:
            self.add_keyframe(row, self.view.frame_at(event.position().x()))

    def _context_menu(self, hit: KeyHit | None, track: str, where, frame: int) -> None:
        menu = QMenu(self)
        if hit is None:
            menu.addAction(QAction(f"Add {track} keyframe here", menu,
                                   triggered=lambda: self.add_keyframe(track, frame)))
        else:
            self.select(hit)
            for interp in INTERPOLATIONS:
                menu.addAction(QAction(f"Interpolation: {interp}", menu,
                                       triggered=lambda _=False, i=interp: self.set_interpolation(hit, i)))
            menu.addAction(QAction("Delete keyframe", menu, triggered=self.delete_selected))
        menu.exec(where)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.view = self.view.zoomed(1.25 ** steps, event.position().x())
        else:
            self.view = self.view.scrolled(-steps * 60.0)
        self._fitted = True
        self.update()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selected()
        else:
            super().keyPressEvent(event)
