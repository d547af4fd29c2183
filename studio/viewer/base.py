"""What the GL viewer and its CPU fallback share: their inputs' state, zoom and pan, the notice line.

:class:`ViewerControls` is mixed into each viewer's QWidget class (listed before it), so both take
the same mouse and wheel gestures and report the same content size; each viewer draws on its own.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent

from studio.viewer.geometry import Zoom
from studio.viewer.modes import FrameData, ViewState, content_size

MIN_SIZE = (320, 180)


class ViewerControls:
    """Zoom (wheel about the pointer, double-click fits), pan (left or middle drag), content size, notice."""

    def _init_controls(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(*MIN_SIZE)
        self.frame: FrameData | None = None
        self.state = ViewState()
        self.zoom = Zoom()
        self.notice = ""
        self.failure = ""
        self.playing = False
        self._drag: QPointF | None = None

    def set_playing(self, playing: bool) -> None:
        """Playback runs: a viewer may show moving frames at less than full quality until it stops."""
        self.playing = bool(playing)
        self.update()

    def set_zoom(self, zoom: Zoom) -> None:
        self.zoom = zoom
        self.update()

    def set_notice(self, text: str) -> None:
        self.notice = text
        self.update()

    def content(self) -> tuple[int, int]:
        """Size of what the current mode shows, in source pixels."""
        if self.frame is None:
            return (16, 9)
        h, w = self.frame.rgb.shape[:2]
        return content_size(self.state.shown_mode, w, h)

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
