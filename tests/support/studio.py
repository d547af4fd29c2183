"""Helpers for tests of the studio's main window."""

from __future__ import annotations

from tests.support.data import DEMO_CLIP


def open_demo(window, qtbot) -> None:
    """Show `window`, open the bundled demo clip in it and wait for its first frame and its session."""
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.first_frame_shown, timeout=120_000):
        assert window.open_media(DEMO_CLIP)
    qtbot.waitUntil(lambda: window.controller.session is not None, timeout=60_000)
