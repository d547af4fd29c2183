"""The main window on the demo clip: first frame, the decoded pixels, every mode (screenshots), shortcuts,
bad input, the CPU fallback, the unsaved-changes prompt."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from studio.viewer.cpu_viewer import CpuViewer
from studio.viewer.geometry import Zoom
from studio.viewer.modes import MODES
from tests.support.data import DEMO_CLIP
from tests.support.studio import open_demo


def _image_array(qimage) -> np.ndarray:
    img = qimage.convertToFormat(qimage.Format.Format_RGB888)
    h, w = img.height(), img.width()
    raw = np.frombuffer(img.constBits(), np.uint8).reshape(h, img.bytesPerLine())
    return raw[:, : w * 3].reshape(h, w, 3).copy()


def test_opening_a_clip_shows_the_decoded_first_frame(window, qtbot):
    window.docks["bin"].hide()
    window.docks["inspector"].hide()
    open_demo(window, qtbot)
    frame = window.viewer.frame
    assert frame.index == 0
    assert np.array_equal(frame.rgb, window.controller.session.frame(0))
    window.set_mode("source")
    window.viewer.set_zoom(Zoom().one_to_one())
    with qtbot.waitSignal(window.viewer.frame_drawn, timeout=20_000):
        window.viewer.viewer.update()
    shown = _image_array(window.viewer.viewer.grabFramebuffer())
    h, w = frame.rgb.shape[:2]
    vh, vw = shown.shape[:2]
    y0, x0 = (vh - h) // 2, (vw - w) // 2
    # below the overlay's text boxes the viewer shows exactly the session's decoded pixels
    top = max(0, 120 - y0)
    crop = shown[y0 + top: y0 + h, x0: x0 + w]
    assert crop.shape == frame.rgb[top:].shape
    assert np.abs(crop.astype(int) - frame.rgb[top:].astype(int)).max() <= 1


def test_screenshots_of_the_window_in_every_viewer_mode(window, qtbot, screenshot_dir):
    open_demo(window, qtbot)
    shots = {}
    for name, _label, _id in MODES:
        with qtbot.waitSignal(window.viewer.frame_drawn, timeout=20_000):
            window.set_mode(name)
        image = window.grab().toImage()
        image.save(str(screenshot_dir / f"window_{name}.png"))
        shots[name] = _image_array(image)
    assert not np.array_equal(shots["anaglyph"], shots["sbs"])
    assert not np.array_equal(shots["depth"], shots["heatmap"])


def test_frame_step_and_cut_shortcuts(window, qtbot):
    open_demo(window, qtbot)
    # Shortcuts need an active window; a bare Xvfb has no window manager to activate one.
    with pytest.warns(DeprecationWarning):
        QApplication.setActiveWindow(window)
    target = window.viewer.viewer
    target.setFocus()
    with qtbot.waitSignal(window.controller.frame_ready, timeout=30_000):
        qtbot.keyClick(target, Qt.Key.Key_Right)
    assert window.controller.position == 1
    qtbot.keyClick(target, Qt.Key.Key_Down)  # next cut: one shot, so the last frame
    assert window.controller.position == 71
    qtbot.keyClick(target, Qt.Key.Key_Up)
    assert window.controller.position == 0
    qtbot.keyClick(target, Qt.Key.Key_I)
    qtbot.keyClick(target, Qt.Key.Key_Right)
    qtbot.keyClick(target, Qt.Key.Key_Right)
    qtbot.keyClick(target, Qt.Key.Key_O)
    assert window.marks == [0, 2]
    qtbot.keyClick(target, Qt.Key.Key_K)  # stopped: K keys D and c at the playhead
    shot = window.document.clip.shots[0]
    assert shot.grade.track("divergence").key_at(2) is not None
    qtbot.keyClick(target, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.document.clip.shots[0].grade.track("divergence").key_at(2) is None


def test_playback_advances_and_stops(window, qtbot):
    open_demo(window, qtbot)
    window.controller.play()
    qtbot.waitUntil(lambda: window.controller.position >= 6, timeout=60_000)
    qtbot.waitUntil(lambda: window.timeline.playhead >= 6, timeout=60_000)  # moved by the frames shown
    assert window.timeline.playhead <= window.controller.position
    window.controller.pause()
    assert not window.controller.playing
    assert window.timeline.playhead == window.controller.position  # the stop shows where playback is


def test_unsupported_file_gives_one_line_and_leaves_the_project(window, tmp_path, qtbot):
    open_demo(window, qtbot)
    before = window.document.project
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    assert not window.open_media(bad)
    assert len(window.dialogs.errors) == 1
    message = window.dialogs.errors[0]
    assert str(bad) in message and "\n" not in message
    assert window.document.project == before


def test_no_gl_33_falls_back_to_the_cpu_viewer(make_window, qtbot):
    window = make_window(probe=lambda: "OpenGL 2.1 only (the viewer needs 3.3)")
    assert isinstance(window.viewer.viewer, CpuViewer)
    assert "3.3" in window.viewer.viewer.notice
    open_demo(window, qtbot)
    window.set_mode("anaglyph")  # the eyes come from the engine's per-frame path in a worker
    qtbot.waitUntil(lambda: window.viewer.viewer._eyes is not None, timeout=60_000)
    with qtbot.waitSignal(window.viewer.frame_drawn, timeout=20_000):
        window.viewer.viewer.update()


@pytest.mark.parametrize("answer, closes", [("cancel", False), ("discard", True)])
def test_unsaved_changes_prompt_on_close(window, qtbot, answer, closes):
    open_demo(window, qtbot)
    window.controller.position = 5
    window.add_keyframe()
    assert window.document.dirty
    window.dialogs.unsaved_answer = answer
    assert window.close() is closes


def test_a_settled_playhead_gets_its_neighbours_decoded(window, qtbot):
    """After a seek the frames around the playhead are decoded in the background (stepping either way is cached)."""
    from studio.playback import AROUND

    open_demo(window, qtbot)
    reader = window.controller.session.reader
    with qtbot.waitSignal(window.controller.frame_ready, timeout=30_000):
        window.seek(40)
    wanted = set(range(40 - AROUND[0], 40 + AROUND[1] + 1))
    qtbot.waitUntil(lambda: wanted <= set(reader.cached()), timeout=60_000)
    with qtbot.waitSignal(window.controller.frame_ready, timeout=30_000) as blocker:
        window.controller.step(-1)
    assert blocker.args[0].index == 39 and np.array_equal(blocker.args[0].rgb, reader.frame(39).image)


def test_importing_media_keeps_the_event_loop_running(window, qtbot, monkeypatch):
    """The probe (and the first import of the media stack) runs in a worker; the UI thread keeps serving
    events meanwhile, and a second import asked for during it is refused with a status line."""
    import threading
    import time

    from engine import api

    real_probe = api.probe
    probe_threads: list[bool] = []

    def slow_probe(path):  # a long file's packet scan
        probe_threads.append(threading.current_thread() is threading.main_thread())
        time.sleep(0.4)
        return real_probe(path)

    monkeypatch.setattr(api, "probe", slow_probe)
    window.show()
    qtbot.waitExposed(window)
    ticks: list[int] = []
    nested: list[bool] = []

    def tick() -> None:
        ticks.append(1)
        if len(ticks) == 3:
            nested.append(window.open_media(DEMO_CLIP))

    from PySide6.QtCore import QTimer

    timer = QTimer(interval=10, timeout=tick)
    timer.start()
    try:
        assert window.open_media(DEMO_CLIP)
    finally:
        timer.stop()
    assert probe_threads == [False]  # probed once, off the UI thread
    assert len(ticks) >= 5  # the loop ran while it was probed
    assert nested == [False] and "being read" in window.statusBar().currentMessage()
    assert window.document.project.clips
