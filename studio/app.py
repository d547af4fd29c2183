"""`spatialdreamer-studio [MEDIA]`: start the studio."""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from studio.main_window import MainWindow

    argv = sys.argv if argv is None else argv
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("SpatialDreamer Studio")
    window = MainWindow()
    window.resize(1100, 640)
    window.show()
    if len(argv) > 1:
        window.open_media(Path(argv[1]))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
