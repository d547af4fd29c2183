"""The studio's dark theme: a Fusion palette for grading rooms (neutral greys, no colour cast)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = QColor(64, 140, 230)
WARNING = QColor(255, 170, 40)
ERROR = QColor(235, 80, 70)

_STYLE = """
QToolTip { color: #e6e6e6; background: #2a2a2d; border: 1px solid #444; }
QDockWidget::title { background: #26262a; padding: 4px 6px; }
QStatusBar { background: #1c1c1f; }
QSlider::groove:horizontal { height: 4px; background: #3a3a3e; border-radius: 2px; }
QSlider::handle:horizontal { width: 12px; margin: -5px 0; border-radius: 6px; background: #8aa8d8; }
QLabel[warning="true"] { color: #ffaa28; font-weight: bold; }
QLabel[ok="true"] { color: #7fd37f; }
"""


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 30, 33), QColor(40, 40, 44), QColor(226, 226, 226)
    for role, colour in (
        (QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, QColor(36, 36, 40)),
        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, window),
        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.Highlight, ACCENT),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.ToolTipBase, QColor(42, 42, 45)), (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.PlaceholderText, QColor(130, 130, 130)), (QPalette.ColorRole.Link, ACCENT),
    ):
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(110, 110, 110))
    return p


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style, the dark palette and a few stylesheet touches."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(_STYLE)
