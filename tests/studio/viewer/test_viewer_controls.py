"""Both viewers take the same gestures (studio.viewer.base.ViewerControls), dispatched by Qt itself."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from studio.viewer.cpu_viewer import CpuViewer
from studio.viewer.geometry import Zoom
from studio.viewer.gl_viewer import GlViewer
from studio.viewer.modes import FrameData, ViewState


@pytest.mark.parametrize("kind", [CpuViewer, GlViewer])
def test_wheel_zooms_about_the_pointer_drag_pans_and_double_click_fits(kind, qtbot):
    viewer = kind()
    qtbot.addWidget(viewer)
    viewer.resize(640, 360)
    viewer.set_state(ViewState(mode="source"))  # no eyes to build: the CPU viewer's worker stays idle
    viewer.set_frame(FrameData(0, np.zeros((90, 160, 3), np.uint8), np.zeros((90, 160), np.float32), "00:00:00:00"))
    assert viewer.content() == (160, 90)
    viewer.state = ViewState(mode="sbs")
    assert viewer.content() == (320, 90)  # side by side: two eyes wide
    centre = QPointF(320, 180)
    wheel = QWheelEvent(centre, centre, QPoint(), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewer, wheel)  # Qt's dispatch reaches the shared handler
    widget = (640.0, 360.0)
    zoomed = Zoom().zoomed(1.25 ** 2, (320.0, 180.0), widget, (320, 90))
    assert viewer.zoom == zoomed
    qtbot.mousePress(viewer, Qt.MouseButton.LeftButton, pos=QPoint(300, 180))
    qtbot.mouseMove(viewer, QPoint(340, 190))
    qtbot.mouseRelease(viewer, Qt.MouseButton.LeftButton, pos=QPoint(340, 190))
    assert viewer.zoom != zoomed  # panned
    qtbot.mouseDClick(viewer, Qt.MouseButton.LeftButton, pos=QPoint(320, 180))
    assert viewer.zoom == Zoom()
    if isinstance(viewer, CpuViewer):
        assert viewer.close_lane() is not False


def test_gl_window_forwards_the_pointer_to_the_viewer_widget_and_its_event_filters(qtbot):
    """The GL viewer's picture is a native GL window: a drag and a wheel on that window (as the window
    system delivers them) reach the viewer widget's gestures and whatever filters its events (the brush)."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtTest import QTest

    class Seen(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.kinds: list[QEvent.Type] = []

        def eventFilter(self, obj, event) -> bool:
            self.kinds.append(event.type())
            return False

    viewer = GlViewer()
    qtbot.addWidget(viewer)
    viewer.resize(640, 360)
    viewer.show()
    qtbot.waitExposed(viewer)
    qtbot.waitUntil(viewer.surface.isExposed, timeout=10_000)
    seen = Seen()
    viewer.installEventFilter(seen)
    viewer.set_frame(FrameData(0, np.zeros((90, 160, 3), np.uint8), np.zeros((90, 160), np.float32), "00:00:00:00"))
    viewer.set_zoom(Zoom().zoomed(2.0, (320.0, 180.0), (640.0, 360.0), (160, 90)))
    before = viewer.zoom
    QTest.mousePress(viewer.surface, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(300, 180))
    QTest.mouseMove(viewer.surface, QPoint(340, 200))
    QTest.mouseRelease(viewer.surface, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(340, 200))
    qtbot.waitUntil(lambda: QEvent.Type.MouseButtonRelease in seen.kinds, timeout=5_000)
    assert viewer.zoom != before  # the drag on the GL window panned the widget's view
    assert {QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove} <= set(seen.kinds)
