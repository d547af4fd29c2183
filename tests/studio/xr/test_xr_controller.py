"""The studio's "Preview in headset" action: status indicator, frames in step with the viewer, clean close."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from studio.xr.controller import HeadsetPreview
from studio.xr.session import Status, XrPreview
from tests.studio.xr.fake_xr import FakeGraphics, FakeRuntime, make_fake_xr

DEMO = Path(__file__).resolve().parents[3] / "resources" / "demo" / "demo.mp4"


def _fake_factory(rt: FakeRuntime):
    xr = make_fake_xr(rt)

    def factory(**kwargs) -> XrPreview:
        return XrPreview(xr_module=xr, graphics=lambda _xr: FakeGraphics(rt), retry_s=0.01, **kwargs)

    return factory


def _no_xr_thread() -> bool:
    return not any(t.name == "xr-preview" for t in threading.enumerate())


@pytest.fixture
def opened(window, qtbot):
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.open_media(DEMO)
    return window


def test_xr_controller_headset_follows_the_viewer_within_one_frame(opened, qtbot):
    window = opened
    rt = FakeRuntime()
    window.headset._factory = _fake_factory(rt)
    shown: list[tuple[int, int]] = []  # (frame id, monotonic ns when the viewer's result handed it over)
    original = window.headset.show_sbs

    def recording(sbs: np.ndarray) -> int:
        frame_id = original(sbs)
        shown.append((frame_id, time.monotonic_ns()))
        return frame_id

    window.headset.show_sbs = recording
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.headset.action.setChecked(True)  # turning it on renders the stereo pair for the headset
    qtbot.waitUntil(lambda: window.headset.report.status is Status.RUNNING, timeout=10_000)
    preview = window.headset._preview
    qtbot.waitUntil(lambda: any(f.content_id == shown[-1][0] for f in preview.stats.recent), timeout=10_000)
    assert "running" in window.headset.indicator.text()
    sbs = window.headset._last.sbs
    assert sbs.shape == (360, 1280, 3)  # full SBS of the 640×360 demo clip: left and right eye views
    assert np.abs(sbs[:, :640].astype(int) - sbs[:, 640:]).mean() > 1.0

    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.divergence.setValue(6.0)  # a grading change
    new_id, t_shown = shown[-1]
    qtbot.waitUntil(lambda: any(f.render_start_ns > t_shown for f in preview.stats.recent), timeout=10_000)
    first_after = next(f for f in preview.stats.recent if f.render_start_ns > t_shown)
    assert first_after.content_id == new_id  # the next headset frame carries the new grade
    assert not np.array_equal(window.headset._last.sbs, sbs)


def test_xr_controller_without_runtime_says_what_to_install_and_the_app_works(opened, qtbot, monkeypatch):
    monkeypatch.setenv("XR_RUNTIME_JSON", "/nonexistent/openxr/1/active_runtime.json")
    window = opened
    window.headset.action.setChecked(True)
    qtbot.waitUntil(lambda: window.headset.report.status is Status.NO_RUNTIME, timeout=20_000)
    assert "no runtime" in window.headset.indicator.text()
    assert "monado-service" in window.headset.indicator.toolTip()
    window.divergence.setValue(4.0)  # the studio is unaffected
    qtbot.waitUntil(lambda: window.viewer.state.grade.divergence == pytest.approx(4.0), timeout=10_000)
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.seek(10)
    window.headset.action.setChecked(False)
    assert _no_xr_thread() and window.headset.report.status is Status.STOPPED


def test_xr_controller_studio_close_stops_the_session(opened, qtbot):
    window = opened
    rt = FakeRuntime()
    window.headset._factory = _fake_factory(rt)
    window.headset.action.setChecked(True)
    qtbot.waitUntil(lambda: window.headset.report.status is Status.RUNNING, timeout=10_000)
    window.close()
    assert _no_xr_thread(), "the XR thread outlived the studio"
    assert "request_exit_session" in rt.calls and "destroy_instance" in rt.calls
    assert not window.headset.action.isChecked()


def test_xr_controller_show_stereo_packs_left_then_right(qtbot):
    headset = HeadsetPreview()
    left = np.full((4, 6, 3), 10, np.uint8)
    right = np.full((4, 6, 3), 20, np.uint16) << 8
    assert headset.show_stereo(left, right) == 1
    sbs = headset._last.sbs
    assert sbs.shape == (4, 12, 3) and (sbs[:, :6] == 10).all() and (sbs[:, 6:] == 20).all()
    with pytest.raises(ValueError, match="differ"):
        headset.show_stereo(left, right[:2])
    assert headset.shutdown()


def test_xr_controller_screen_dialog_sets_size_distance_height(qtbot):
    from studio.xr.controller import ScreenDialog
    from studio.xr.geometry import ScreenGeometry, screen_pose

    headset = HeadsetPreview()
    dialog = ScreenDialog(headset.geometry)
    qtbot.addWidget(dialog)
    assert (dialog.width_box.value(), dialog.distance_box.value()) == (3.0, 2.5)  # the headset preset
    dialog.width_box.setValue(4.5)
    dialog.distance_box.setValue(3.2)
    dialog.height_box.setValue(-0.2)
    headset.set_geometry(dialog.geometry_value())
    assert screen_pose(headset.geometry).position == pytest.approx((0.0, -0.2, -3.2))
    assert headset.geometry.width_m == 4.5
    dialog.reset()
    assert dialog.geometry_value() == ScreenGeometry()
    assert [a.text() for a in headset.actions][0] == "Preview in &headset"
    assert headset.shutdown()
