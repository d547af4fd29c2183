"""The GPU viewer widget: a QOpenGLWidget that builds both eyes live with the shaders of ``shaders/``.

Dragging a keyframe only changes uniforms: the eyes are rebuilt on the GPU from the frame and
δ textures already there, with no round trip to the engine. The eyes are rendered at the size
they are shown (capped at the source size), so a 1080p source in a 1280-pixel view costs a
1280-pixel eye.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QSurfaceFormat, QWheelEvent
from PySide6.QtOpenGLWidgets import QOpenGLWidget

from studio.viewer.geometry import Zoom
from studio.viewer.modes import EYE_MODES, FrameData, ViewState, content_size
from studio.viewer.overlay import paint_overlay

GL_VERSION = (3, 3)


def gl_format() -> QSurfaceFormat:
    """The context the viewer asks for: OpenGL 3.3 core, no multisampling, vsync off."""
    fmt = QSurfaceFormat()
    fmt.setVersion(*GL_VERSION)
    fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
    fmt.setDepthBufferSize(0)
    fmt.setSwapInterval(0)
    return fmt


class GlViewer(QOpenGLWidget):
    """Stereo viewer on the GPU.

    Signals:
        frame_drawn(int): a paint finished showing source frame n.
        gl_failed(str): no usable OpenGL 3.3 context or a shader failed (the panel falls back to the CPU).
    """

    frame_drawn = Signal(int)
    gl_failed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFormat(gl_format())
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(320, 180)
        self.renderer = None
        self.failure = ""
        self.frame: FrameData | None = None
        self.state = ViewState()
        self.zoom = Zoom()
        self.notice = ""
        self._uploaded: int | None = None
        self._pending_frame = False
        self._pending_master: tuple | None = None
        self._eyes_key: tuple | None = None
        self._drag: QPointF | None = None
        self.last_eyes_ms = 0.0
        self.last_paint_ms = 0.0

    # ---------------------------------------------------------------- inputs

    def set_frame(self, frame: FrameData) -> None:
        self.frame = frame
        self._pending_frame = True
        self.update()

    def set_state(self, state: ViewState) -> None:
        self.state = state
        self.update()

    def set_master_eyes(self, left, right) -> None:
        """The master-path eyes of the current frame (None, None clears them)."""
        self._pending_master = (left, right)
        self.update()

    def set_zoom(self, zoom: Zoom) -> None:
        self.zoom = zoom
        self.update()

    def set_notice(self, text: str) -> None:
        self.notice = text
        self.update()

    # ---------------------------------------------------------------- GL

    def initializeGL(self) -> None:
        version = self.context().format().version() if self.context() else (0, 0)
        if tuple(version) < GL_VERSION:
            self._fail(f"OpenGL {version[0]}.{version[1]} found, the viewer needs 3.3")
            return
        try:
            from studio.viewer.gl_renderer import StereoRenderer

            self.renderer = StereoRenderer()
        except Exception as exc:  # a driver without what the shaders need: fall back, say why
            self._fail(f"OpenGL viewer unavailable ({' '.join(str(exc).split())[:200]})")


    def _fail(self, reason: str) -> None:
        self.failure = reason
        QTimer.singleShot(0, lambda: self.gl_failed.emit(reason))

    def release_gl(self) -> None:
        """Free the GL objects while the widget and its context are alive (the window's shutdown)."""
        if self.renderer is not None and self.context() is not None and self.isValid():
            self.makeCurrent()
            self.renderer.release()
            self.doneCurrent()
        self.renderer = None

    def content(self) -> tuple[int, int]:
        """Size of what the current mode shows, in source pixels."""
        if self.frame is None:
            return (16, 9)
        h, w = self.frame.rgb.shape[:2]
        return content_size(self.state.shown_mode, w, h)

    def eye_size(self) -> tuple[int, int]:
        """The eyes are built at their displayed size, at most the source size."""
        h, w = self.frame.rgb.shape[:2]
        dpr = self.devicePixelRatioF()
        widget = (self.width() * dpr, self.height() * dpr)
        scale = self.zoom.effective_scale(widget, self.content())
        eye_w = max(2, min(w, math.ceil(w * scale)))
        return eye_w, max(2, round(eye_w * h / w))

    def paintGL(self) -> None:
        t0 = time.perf_counter()
        r = self.renderer
        dpr = self.devicePixelRatioF()
        widget = (round(self.width() * dpr), round(self.height() * dpr))
        if r is not None:
            self._sync_inputs(r)
            if r.has_frame and self.frame is not None and self.state.shown_mode in EYE_MODES \
                    and not self.state.show_master:
                self._build_eyes(r)
            x, y, w, h = self.zoom.rect(widget, self.content())
            rect = (math.floor(x), math.floor(y), w, h)  # whole pixels: 1:1 shows the source pixels exactly
            r.draw(self.defaultFramebufferObject(), widget, rect, self.state)
        painter = QPainter(self)
        paint_overlay(painter, (self.width(), self.height()), self.frame, self.state,
                      self.notice or self.failure)
        painter.end()
        self.last_paint_ms = (time.perf_counter() - t0) * 1000.0
        if self.frame is not None and r is not None:
            self.frame_drawn.emit(self.frame.index)

    def _sync_inputs(self, r) -> None:
        if self._pending_frame and self.frame is not None:
            r.set_frame(self.frame.rgb, self.frame.delta)
            self._uploaded = self.frame.index
            self._pending_frame = False
            self._eyes_key = None
        if self._pending_master is not None:
            r.set_master_eyes(*self._pending_master)
            self._pending_master = None

    def _build_eyes(self, r) -> None:
        size = self.eye_size()
        key = (self._uploaded, size, self.state.grade)
        if key == self._eyes_key:
            return
        t = time.perf_counter()
        r.render_eyes(size, self.state.grade)
        self.last_eyes_ms = (time.perf_counter() - t) * 1000.0
        self._eyes_key = key

    def eye_textures(self) -> tuple[int, int, tuple[int, int]] | None:
        """GL names of the current left and right eye textures and their size (for the headset preview)."""
        r = self.renderer
        if r is None or not r.eye_targets:
            return None
        return r.eye_targets[0].colour, r.eye_targets[1].colour, r.eye_size

    def read_eyes(self):
        """Both eyes as rendered now, read back with glReadPixels: [(colour, aux), (colour, aux)]."""
        self.makeCurrent()
        try:
            return [self.renderer.read_eye(i) for i in (0, 1)]
        finally:
            self.doneCurrent()

    # ---------------------------------------------------------------- zoom and pan

    def _widget_and_content(self) -> tuple[tuple[float, float], tuple[int, int]]:
        return (float(self.width()), float(self.height())), self.content()

    def wheelEvent(self, event: QWheelEvent) -> None:
        widget, content = self._widget_and_content()
        factor = 1.25 ** (event.angleDelta().y() / 120.0)
        pos = event.position()
        self.set_zoom(self.zoom.zoomed(factor, (pos.x(), pos.y()), widget, content))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._drag = event.position()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is None:
            return
        pos = event.position()
        widget, content = self._widget_and_content()
        self.set_zoom(self.zoom.panned(pos.x() - self._drag.x(), pos.y() - self._drag.y(), widget, content))
        self._drag = pos

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.set_zoom(Zoom())
