"""The studio's dark theme: a Fusion palette for grading rooms (neutral greys, no colour cast)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ACCENT = QColor(64, 140, 230)
WARNING = QColor(255, 170, 40)
ERROR = QColor(235, 80, 70)

_STYLE = """
QToolTip { color: #e6e6e6; background: #2a2a2d; border: 1px solid #444; }
QMainWindow::separator { background: #1c1c1f; width: 3px; height: 3px; }
QDockWidget { color: #cfcfd4; }
QDockWidget::title { background: #26262a; padding: 4px 6px; border-bottom: 1px solid #1c1c1f; }
QStatusBar { background: #1c1c1f; color: #bdbdc2; }
QMenuBar { background: #26262a; }
QMenuBar::item:selected, QMenu::item:selected { background: #3a5a8c; }
QMenu { background: #2a2a2e; border: 1px solid #3a3a3e; }
QToolBar { background: #26262a; border: none; spacing: 2px; padding: 2px; }
QToolButton { padding: 3px 7px; border-radius: 3px; color: #d6d6da; }
QToolButton:hover { background: #34343a; }
QToolButton:checked { background: #3a5a8c; color: #ffffff; }
QTabBar::tab { background: #26262a; color: #a8a8ae; padding: 4px 12px; border: 1px solid #1c1c1f; }
QTabBar::tab:selected { background: #34343a; color: #e6e6e6; border-bottom: 2px solid #4a8ce6; }
QHeaderView::section { background: #2c2c30; color: #bdbdc2; padding: 3px 6px; border: none;
                       border-right: 1px solid #1f1f22; }
QTreeView, QTableView, QListView { background: #1e1e21; alternate-background-color: #242428;
                                   border: 1px solid #1a1a1d; }
QGroupBox { border: 1px solid #36363b; border-radius: 4px; margin-top: 10px; padding-top: 4px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 3px; color: #bdbdc2; }
QPushButton { background: #34343a; border: 1px solid #44444a; border-radius: 3px; padding: 4px 10px; }
QPushButton:hover { background: #3c3c43; }
QPushButton:pressed { background: #2c2c31; }
QPushButton:disabled { color: #6e6e6e; }
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
    """Fusion style, the dark palette and a few stylesheet touches (once per application)."""
    if app.property("spatialdreamer_theme"):
        return
    app.setProperty("spatialdreamer_theme", True)
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(_STYLE)
