"""What the viewer writes over the picture: timecode, frame number, mode, notices, heatmap legend.

The overlay's own words are ASCII: a glyph the monospace font lacks (an em dash, an ellipsis) sends Qt
to fontconfig for a fallback font the first time it is drawn, ~80 ms on the UI thread (measured: the
first frame of every opened clip paid it for "provisional depth — ...").

On a GL paint device the glyphs live in a texture of the context (one entry per glyph and sub-pixel
position), which Qt grows when a new one does not fit (QOpenGLTextureGlyphCache::resizeTextureData:
a copy through its own shader program, which llvmpipe compiles on first use): measured, the first
growth cost ~35 ms of UI-thread CPU, paid by the first frame of the first clip (its "provisional
depth" label) at the start of a scrub. :func:`warm_glyph_cache` draws every printable ASCII glyph of
the overlay's font at each sub-pixel position once, in the viewer's first paint (the window coming
up, before any clip), so that growth (and the compile) happen there and no later label grows it.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPen

from studio.viewer.modes import MODE_LABELS, FrameData, ViewState

_BOX = QColor(0, 0, 0, 170)
_TEXT = QColor(235, 235, 235)
_WARN = QColor(255, 190, 60)
PRINTABLE = "".join(map(chr, range(32, 127)))
SUBPIXEL_POSITIONS = 4  # horizontal glyph positions Qt caches per glyph (FreeType: quarter pixels)


def _label(painter: QPainter, x: float, y: float, text: str, colour: QColor = _TEXT) -> float:
    """Text in a dark box with its top-left at (x, y); returns the box height."""
    metrics = painter.fontMetrics()
    w, h = metrics.horizontalAdvance(text) + 12, metrics.height() + 6
    painter.fillRect(QRectF(x, y, w, h), _BOX)
    painter.setPen(colour)
    painter.drawText(QRectF(x + 6, y + 3, w - 12, h - 6), Qt.AlignmentFlag.AlignLeft, text)
    return h


def _use_font(painter: QPainter) -> None:
    """The overlay's font (monospace, at least 8 pt) on `painter`."""
    font = QFont(painter.font())
    font.setFamily("monospace")
    font.setPointSizeF(max(8.0, font.pointSizeF()))
    painter.setFont(font)


def warm_glyph_cache(painter: QPainter) -> None:
    """Draw every printable ASCII character of the overlay's font at each sub-pixel position just above the
    device's top edge (nothing shows), so the paint engine's glyph cache holds them all and has grown to
    its size before any label needs them (~50 ms once on llvmpipe, in the viewer's first paint)."""
    painter.save()
    _use_font(painter)
    painter.setPen(_TEXT)
    baseline = -float(painter.fontMetrics().descent()) - 2.0
    for i in range(SUBPIXEL_POSITIONS):
        painter.drawText(QPointF(4.0 + i / SUBPIXEL_POSITIONS, baseline), PRINTABLE)
    painter.restore()


def paint_overlay(painter: QPainter, size: tuple[int, int], frame: FrameData | None, state: ViewState,
                  notice: str = "") -> None:
    """Draw the overlay on a widget of `size` (logical pixels)."""
    _use_font(painter)
    y = 8.0
    if frame is not None:
        y += _label(painter, 8, y, f"{frame.timecode}   frame {frame.index}") + 4
    mode = MODE_LABELS[state.shown_mode] + ("  | master render" if state.show_master else "")
    y += _label(painter, 8, y, mode) + 4
    if frame is not None and frame.provisional:
        y += _label(painter, 8, y, "provisional depth: shot not analysed yet", _WARN) + 4
    if notice:
        _label(painter, 8, y, notice, _WARN)
    if state.shown_mode == "heatmap":
        paint_legend(painter, size, state)


def paint_legend(painter: QPainter, size: tuple[int, int], state: ViewState) -> None:
    """The heatmap's colour bar in parallax % of width, with the screen budget marked."""
    b = state.budget
    span = max(abs(b.low), abs(b.high), 1e-3)
    w, h = min(320.0, size[0] - 40.0), 14.0
    x0, y0 = size[0] - w - 20.0, size[1] - 48.0
    painter.fillRect(QRectF(x0 - 8, y0 - 22, w + 16, h + 44), _BOX)
    grad = QLinearGradient(x0, 0, x0 + w, 0)
    grad.setColorAt(0.0, QColor(242, 89, 13))
    grad.setColorAt(0.5, QColor(255, 255, 255))
    grad.setColorAt(1.0, QColor(26, 102, 242))
    painter.fillRect(QRectF(x0, y0, w, h), grad)

    def at(p: float) -> float:
        return x0 + (min(max(p / span, -1.0), 1.0) + 1.0) / 2.0 * w

    painter.setPen(QPen(QColor(255, 0, 255), 2))
    for p in (b.low, b.high):
        painter.drawLine(int(at(p)), int(y0 - 4), int(at(p)), int(y0 + h + 4))
    painter.setPen(_TEXT)
    painter.drawText(QRectF(x0, y0 - 20, w, 16), Qt.AlignmentFlag.AlignLeft,
                     f"{b.name} budget {b.low:+.2f} to {b.high:+.2f} % of width")
    painter.drawText(QRectF(x0, y0 + h + 2, w, 16), Qt.AlignmentFlag.AlignLeft, f"{-span:+.1f} % in front")
    painter.drawText(QRectF(x0, y0 + h + 2, w, 16), Qt.AlignmentFlag.AlignRight, f"behind {span:+.1f} %")
