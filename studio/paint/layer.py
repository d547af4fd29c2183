"""Where the brush meets the viewer: viewer pixels <-> source pixels, and the layer drawn over the picture.

The layer is a transparent child of the viewer panel, stacked over the CPU viewer and transparent to the
mouse; over the GL viewer (a native GL window, which stacks over every sibling widget) it hides itself and
is painted by the viewer inside its window instead (``GlViewer.overlay_painters``). Either way it draws
the strokes' weight on the shown frame (painted or carried, from ``Session.edit_overlay``), the outline of
the selected stroke, the stroke being dragged, the brush cursor (radius and soft edge) and the shot's
stroke notes. It never touches the picture itself: δ after the edits reaches the viewer through the
session's frame path, the one the master renders with.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QWidget

_CURSOR = QColor(255, 255, 255, 230)
_SOFT = QColor(255, 255, 255, 120)
_DRAG = QColor(255, 140, 0, 110)
_SELECTED = QColor(90, 200, 255, 240)
_NOTE = QColor(255, 190, 60)
_BOX = QColor(0, 0, 0, 170)


class ViewMapping:
    """The viewer's content rectangle and the source size: maps pointer positions to stroke coordinates.

    Args:
        rect: (x, y, w, h) of the shown content in viewer pixels (``Zoom.rect``).
        content: (W_c, H_c) what the mode shows, in frame pixels (2W wide for SBS, 2H tall for TB).
        frame: (W_f, H_f) of the frame the viewer holds.
        source: (W_s, H_s) of the full-resolution source (stroke coordinates).
    """

    def __init__(self, rect, content, frame, source) -> None:
        self.rect, self.content, self.frame, self.source = rect, content, frame, source

    @classmethod
    def of(cls, viewer, frame_size: tuple[int, int], source_size: tuple[int, int]) -> ViewMapping:
        content = viewer.content()
        rect = viewer.zoom.rect((float(viewer.width()), float(viewer.height())), content)
        return cls(rect, content, frame_size, source_size)

    @property
    def scale(self) -> float:
        """Viewer pixels per source pixel."""
        return self.rect[2] / max(self.content[0], 1) * self.frame[0] / max(self.source[0], 1)

    def to_source(self, x: float, y: float) -> tuple[float, float]:
        """A viewer point -> source pixel (x, y); in SBS / TB the point is taken in the eye tile it lies in."""
        rx, ry, rw, rh = self.rect
        cx = (x - rx) * self.content[0] / max(rw, 1e-9)
        cy = (y - ry) * self.content[1] / max(rh, 1e-9)
        if self.content[0] > self.frame[0] and cx >= self.frame[0]:
            cx -= self.frame[0]
        if self.content[1] > self.frame[1] and cy >= self.frame[1]:
            cy -= self.frame[1]
        return cx * self.source[0] / self.frame[0], cy * self.source[1] / self.frame[1]

    def to_view(self, x: float, y: float) -> tuple[float, float]:
        """A source pixel -> viewer point (in the first eye tile)."""
        s = self.scale
        return self.rect[0] + x * s, self.rect[1] + y * s

    def tile(self) -> QRectF:
        """The first eye tile (the frame itself) in viewer pixels."""
        rx, ry, rw, rh = self.rect
        fx, fy = self.frame[0] / max(self.content[0], 1), self.frame[1] / max(self.content[1], 1)
        return QRectF(rx, ry, rw * fx, rh * fy)


def stroke_path(points, mapping: ViewMapping) -> QPainterPath:
    """The stroke's polyline in viewer pixels."""
    path = QPainterPath(QPointF(*mapping.to_view(*points[0])))
    for p in points[1:]:
        path.lineTo(QPointF(*mapping.to_view(*p)))
    if len(points) == 1:
        path.lineTo(QPointF(*mapping.to_view(*points[0])) + QPointF(0.01, 0))
    return path


def footprint_outline(points, radius: float, mapping: ViewMapping) -> QPainterPath:
    """The outline of the area within `radius` source pixels of the polyline (round caps and joins)."""
    stroker = QPainterPathStroker()
    stroker.setWidth(max(2 * radius * mapping.scale, 1.0))
    stroker.setCapStyle(Qt.PenCapStyle.RoundCap)
    stroker.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return stroker.createStroke(stroke_path(points, mapping)).simplified()


class PaintLayer(QWidget):
    """The brush's drawing over the viewer (see the module notes); `tool` is the PaintTool."""

    def __init__(self, tool, panel: QWidget) -> None:
        super().__init__(panel)
        self.tool = tool
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setGeometry(panel.rect())
        self._host = None  # the GL viewer that paints this layer in its window, when there is one
        self.raise_()
        self.show()

    def attach(self, viewer) -> None:
        """Draw over `viewer`: inside it when it paints overlays itself (the GL viewer), else as a widget."""
        if self._host is not None and self.paint_on in self._host.overlay_painters:
            self._host.overlay_painters.remove(self.paint_on)
        self._host = viewer if hasattr(viewer, "overlay_painters") else None
        if self._host is not None:
            self._host.overlay_painters.append(self.paint_on)
            self.hide()
        else:
            self.show()
            self.raise_()
        self.update()

    def update(self) -> None:
        """Redraw the layer (the host viewer repaints when it paints the layer)."""
        if self._host is not None:
            self._host.update()
        else:
            super().update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        self.paint_on(painter)
        painter.end()

    def paint_on(self, painter: QPainter) -> None:
        """Draw the layer with `painter` (viewer coordinates)."""
        mapping = self.tool.mapping()
        if mapping is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._weights(painter, mapping)
        self._selected(painter, mapping)
        self._drag(painter, mapping)
        self._cursor(painter, mapping)
        self._notes(painter)
        painter.restore()

    def _weights(self, painter: QPainter, mapping: ViewMapping) -> None:
        image = self.tool.overlay_for_frame()
        if image is not None and self.tool.show_overlay:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(mapping.tile(), image)

    def _selected(self, painter: QPainter, mapping: ViewMapping) -> None:
        stroke = self.tool.selected_stroke()
        frame = self.tool.frame_index()
        if stroke is None or not stroke.points or frame != stroke.frame:
            return
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(_SELECTED, 2, Qt.PenStyle.DashLine))
        painter.drawPath(footprint_outline(stroke.points, stroke.radius, mapping))
        painter.setPen(QPen(_SELECTED, 1, Qt.PenStyle.DotLine))
        painter.drawPath(footprint_outline(stroke.points, stroke.footprint, mapping))

    def _drag(self, painter: QPainter, mapping: ViewMapping) -> None:
        gesture = self.tool.gesture
        if gesture is None or not gesture.points:
            return
        pen = QPen(_DRAG, max(2 * gesture.settings.radius * mapping.scale, 1.0))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(stroke_path(gesture.points, mapping))

    def _cursor(self, painter: QPainter, mapping: ViewMapping) -> None:
        hover = self.tool.hover
        if hover is None or not self.tool.active:
            return
        s = self.tool.settings
        r = s.radius * mapping.scale
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(_CURSOR, 1.5))
        painter.drawEllipse(QPointF(*hover), r, r)
        if s.softness > 0:
            painter.setPen(QPen(_SOFT, 1, Qt.PenStyle.DashLine))
            painter.drawEllipse(QPointF(*hover), r + s.softness * mapping.scale, r + s.softness * mapping.scale)
        painter.setPen(QPen(_CURSOR, 1))
        painter.drawLine(QPointF(hover[0] - 4, hover[1]), QPointF(hover[0] + 4, hover[1]))
        painter.drawLine(QPointF(hover[0], hover[1] - 4), QPointF(hover[0], hover[1] + 4))
        painter.drawText(QPointF(hover[0] + r + 6, hover[1] - 6), self.tool.cursor_label())

    def _notes(self, painter: QPainter) -> None:
        notes = self.tool.frame_notes()
        if not notes or not self.tool.show_overlay:
            return
        metrics = painter.fontMetrics()
        y = self.tool.view_height() - 12.0 - (metrics.height() + 6) * len(notes)
        for note in notes:
            w, h = metrics.horizontalAdvance(note) + 12, metrics.height() + 6
            painter.fillRect(QRectF(8, y, w, h), _BOX)
            painter.setPen(_NOTE)
            painter.drawText(QRectF(14, y + 3, w - 12, h - 6), Qt.AlignmentFlag.AlignLeft, note)
            y += h
