"""The overlay's glyph-cache warm-up draws nothing on the device."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage, QPainter

from studio.viewer.overlay import PRINTABLE, warm_glyph_cache


def test_warm_glyph_cache_leaves_every_pixel_as_it_was(qapp):
    image = QImage(320, 40, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(18, 18, 20))
    before = image.copy()
    painter = QPainter(image)
    font = painter.font()
    warm_glyph_cache(painter)
    assert painter.font() == font  # the painter's state is given back
    painter.drawText(4, 30, PRINTABLE[33:40])  # the same painter still draws where asked
    painter.end()
    assert image != before
    painter = QPainter(before)
    painter.drawText(4, 30, PRINTABLE[33:40])
    painter.end()
    assert image == before
