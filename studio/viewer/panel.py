"""The viewer dock's content: the GL viewer, or the CPU viewer with a notice when GL 3.3 is missing."""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtGui import QOffscreenSurface, QOpenGLContext
from PySide6.QtWidgets import QStackedLayout, QWidget

from studio.viewer.cpu_viewer import CpuViewer
from studio.viewer.geometry import Zoom
from studio.viewer.gl_viewer import GL_VERSION, GlViewer, gl_format
from studio.viewer.modes import FrameData, ViewState

FORCE_CPU_ENV = "SPATIALDREAMER_VIEWER"  # "cpu" forces the CPU viewer


def probe_gl() -> str:
    """'' when an OpenGL 3.3 core context can be made here, else why not (one line)."""
    if os.environ.get(FORCE_CPU_ENV, "").lower() == "cpu":
        return f"CPU viewer chosen ({FORCE_CPU_ENV}=cpu)"
    context = QOpenGLContext()
    context.setFormat(gl_format())
    if not context.create():
        return "no OpenGL context could be created"
    version = tuple(context.format().version())
    if version < GL_VERSION:
        return f"OpenGL {version[0]}.{version[1]} only (the viewer needs 3.3)"
    surface = QOffscreenSurface()
    surface.setFormat(context.format())
    surface.create()
    ok = context.makeCurrent(surface)
    context.doneCurrent()
    surface.destroy()
    return "" if ok else "the OpenGL context cannot be made current"


class ViewerPanel(QWidget):
    """Holds one viewer and keeps its inputs, so a fallback to the CPU viewer loses nothing.

    Signals:
        frame_drawn(int): the viewer showed source frame n (as it is: full-size eyes).
        preview_drawn(int): the GL viewer showed frame n from preview-size eyes (the full size follows).
        fell_back(str): the CPU viewer took over; the reason.
    """

    frame_drawn = Signal(int)
    preview_drawn = Signal(int)
    fell_back = Signal(str)

    def __init__(self, parent=None, probe=probe_gl) -> None:
        super().__init__(parent)
        self._stack = QStackedLayout(self)
        self.frame: FrameData | None = None
        self.state = ViewState()
        self.zoom = Zoom()
        self.master: tuple = (None, None)
        self.playing = False
        self.fallback_reason = probe()
        self.viewer = None
        if self.fallback_reason:
            self._use(CpuViewer(self), self.fallback_reason)
        else:
            self._use(GlViewer(self), "")

    @property
    def is_gpu(self) -> bool:
        return isinstance(self.viewer, GlViewer)

    def _use(self, viewer, notice: str) -> None:
        old = self.viewer
        self.viewer = viewer
        viewer.frame_drawn.connect(self.frame_drawn)
        viewer.preview_drawn.connect(self.preview_drawn)
        viewer.gl_failed.connect(self._fall_back)
        self._stack.addWidget(viewer)
        self._stack.setCurrentWidget(viewer)
        viewer.set_state(self.state)
        viewer.set_zoom(self.zoom)
        viewer.set_playing(self.playing)
        if self.frame is not None:
            viewer.set_frame(self.frame)
        if self.master[0] is not None:
            viewer.set_master_eyes(*self.master)
        if notice:
            viewer.set_notice(f"CPU viewer: {notice}")
        if old is not None:
            self._stack.removeWidget(old)
            old.deleteLater()

    def _fall_back(self, reason: str) -> None:
        self.fallback_reason = reason
        self._use(CpuViewer(self), reason)
        self.fell_back.emit(reason)

    def set_frame(self, frame: FrameData) -> None:
        self.frame = frame
        self.master = (None, None)
        self.viewer.set_frame(frame)

    def set_state(self, state: ViewState) -> None:
        self.state = state
        self.viewer.set_state(state)

    def set_zoom(self, zoom: Zoom) -> None:
        self.zoom = zoom
        self.viewer.set_zoom(zoom)

    def set_playing(self, playing: bool) -> None:
        self.playing = playing
        self.viewer.set_playing(playing)

    def set_master_eyes(self, left, right) -> None:
        self.master = (left, right)
        self.viewer.set_master_eyes(left, right)

    def current_zoom(self) -> Zoom:
        return self.viewer.zoom

    def shutdown(self) -> None:
        """End the CPU viewer's worker, or free the GL viewer's GPU objects."""
        if isinstance(self.viewer, CpuViewer):
            self.viewer.close_lane()
        else:
            self.viewer.release_gl()
