"""The viewer without OpenGL 3.3: eyes from the engine's per-frame path in a worker, modes in numpy.

The frame's letterbox / pillarbox bars (FrameData.bars, the session's detection) go to the engine with
it and stay at d = 0, as in the GL builders and the master."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

from engine import api
from studio.viewer.base import ViewerControls
from studio.viewer.cpu_compose import compose, resize_nearest
from studio.viewer.modes import EYE_MODES, FrameData, ViewState
from studio.viewer.overlay import paint_overlay
from studio.workers import Lane


def to_qimage(image: np.ndarray) -> QImage:
    """(H, W, 3) uint8/uint16 RGB -> a QImage that owns a copy of the pixels."""
    rgb8 = (image >> 8).astype(np.uint8) if image.dtype == np.uint16 else image
    rgb8 = np.ascontiguousarray(rgb8)
    h, w, _ = rgb8.shape
    return QImage(rgb8.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class CpuViewer(ViewerControls, QWidget):
    """Same interface as GlViewer; every picture is computed on the CPU."""

    frame_drawn = Signal(int)
    preview_drawn = Signal(int)  # never emitted (every CPU picture is the full one); as GlViewer
    gl_failed = Signal(str)  # never emitted; the panel connects both viewers alike

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._init_controls()
        self._eyes: tuple[np.ndarray, np.ndarray] | None = None
        self._eyes_key: tuple | None = None
        self._master: tuple[np.ndarray, np.ndarray] | None = None
        self._picture: QImage | None = None
        self.lane = Lane("cpu-viewer", self)
        self.lane.finished.connect(self._eyes_ready)
        self.lane.failed.connect(lambda _rid, message: self.set_notice(message))

    def set_frame(self, frame: FrameData) -> None:
        self.frame = frame
        self._refresh()

    def set_state(self, state: ViewState) -> None:
        self.state = state
        self._refresh()

    def set_master_eyes(self, left, right) -> None:
        self._master = None if left is None or right is None else (left, right)
        self._refresh()

    def _refresh(self) -> None:
        if self.frame is None:
            return
        mode = self.state.shown_mode
        if mode in EYE_MODES and not (self.state.show_master and self._master):
            key = (self.frame.index, id(self.frame.delta), self.state.params, self.frame.bars)
            if key != self._eyes_key:
                self._eyes_key = key
                rgb, delta, params, bars = self.frame.rgb, self.frame.delta, self.state.params, self.frame.bars
                self.lane.submit(lambda ctx: (key, api.render_frame(rgb, resize_nearest(delta, rgb.shape[:2]), params,
                                                                    bars=bars)), key="eyes")
                if self._eyes is None:
                    return
        self._compose()

    def _eyes_ready(self, _request_id: int, result) -> None:
        key, eyes = result
        if key == self._eyes_key:
            self._eyes = eyes
            self._compose()

    def _compose(self) -> None:
        eyes = self._master if (self.state.show_master and self._master) else self._eyes
        f, s = self.frame, self.state
        self._picture = to_qimage(compose(s.shown_mode, f.rgb, f.delta, eyes, s.grade, s.budget, s.swap_eyes))
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(18, 18, 20))
        if self._picture is not None:
            x, y, w, h = self.zoom.rect((self.width(), self.height()), self.content())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(QRectF(x, y, w, h), self._picture)
        paint_overlay(painter, (self.width(), self.height()), self.frame, self.state, self.notice or self.failure)
        painter.end()
        if self.frame is not None and self._picture is not None:
            self.frame_drawn.emit(self.frame.index)

    def close_lane(self) -> None:
        self.lane.close()
