"""Studio test fixtures: every window is closed and no worker thread may outlive its test."""

from __future__ import annotations

import pytest


@pytest.fixture
def window(qtbot):
    from studio.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    yield win
    finished = win.worker.wait(30_000)
    assert finished and not win.worker.is_running(), "a worker thread outlived the test"
