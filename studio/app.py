"""`spatialdreamer-studio [MEDIA | PROJECT]`: start the studio.

Start-up stays light: nothing heavy is imported on the way to the window except through
`studio.preload`, which imports torch and PyOpenGL in a thread beside the Qt start-up and is joined
before the window is shown, so their long GIL holds never land in the event loop; the depth models
load in the session's worker after the window is up. ``--exit-after-first-frame`` quits as soon as
the viewer has drawn the first frame and prints the time it took (the start-up benchmark and test
use it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

T0 = time.perf_counter()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spatialdreamer-studio", description="SpatialDreamer Studio")
    parser.add_argument("path", nargs="?", type=Path, help="a clip or still to open, or a .sdproj project")
    parser.add_argument("--exit-after-first-frame", action="store_true",
                        help="quit once the first frame is shown; print the seconds it took")
    parser.add_argument("--no-recovery", action="store_true", help="do not offer to recover an autosave")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from studio.preload import Preload, freeze_heap

    preload = Preload.start()
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QSurfaceFormat
    from PySide6.QtWidgets import QApplication

    from studio.viewer.gl_viewer import gl_format

    QSurfaceFormat.setDefaultFormat(gl_format())
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("SpatialDreamer Studio")
    app.setOrganizationName("SpatialDreamer")
    from studio.main_window import MainWindow
    from studio.theme import apply_dark_theme

    apply_dark_theme(app)
    window = MainWindow()
    window.resize(1400, 860)
    preload.join()
    freeze_heap(collect=True)  # before the event loop: later GC passes skip torch's and Qt's objects
    window.show()
    if args.exit_after_first_frame:
        QTimer.singleShot(0, lambda: print(f"window ready after {time.perf_counter() - T0:.2f} s", flush=True))

        def report() -> None:
            print(f"first frame shown after {time.perf_counter() - T0:.2f} s", flush=True)
            window.document.stack.setClean()
            QTimer.singleShot(0, window.close)  # not from inside the viewer's paint

        window.first_frame_shown.connect(report)
    if args.path is not None:
        opener = window.open_project if args.path.suffix in (".sdproj", ".otio") else window.open_media
        if not opener(args.path) and args.exit_after_first_frame:
            return 3
    if not args.no_recovery:
        offered = window.offer_recovery()  # a strip in the window: it never holds up the path opened above
        if args.exit_after_first_frame and offered:
            print(f"recovery offered for {offered} autosave(s)", flush=True)
    code = app.exec()
    return code


if __name__ == "__main__":
    sys.exit(main())
