"""An offscreen OpenGL context for GL tests (needs a display: Xvfb gives Mesa llvmpipe)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtGui import QOffscreenSurface, QOpenGLContext


@contextmanager
def offscreen_gl_context() -> Iterator[QOpenGLContext]:
    """The viewer's context format (studio.viewer.gl_viewer.gl_format) made current on an offscreen
    surface for the duration; released after. Needs a QGuiApplication (pytest-qt's `qapp`)."""
    from studio.viewer.gl_viewer import gl_format

    context = QOpenGLContext()
    context.setFormat(gl_format())
    assert context.create(), "no OpenGL 3.3 context on this display"
    surface = QOffscreenSurface()
    surface.setFormat(context.format())
    surface.create()
    assert context.makeCurrent(surface)
    try:
        yield context
    finally:
        context.doneCurrent()
        surface.destroy()
