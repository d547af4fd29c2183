"""XrPreview's session life cycle and frame loop against a fake pyopenxr module (fast; no runtime, no GL)."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from studio.xr import session as xs
from studio.xr.geometry import Placement, ScreenGeometry
from studio.xr.lifecycle import XrState
from tests.studio.xr.fake_xr import FakeGraphics, FakeRuntime, make_fake_xr

TIMEOUT = 10.0


class Harness:
    """An XrPreview on a fake runtime, with waits on its status and frame callbacks."""

    def __init__(self, rt: FakeRuntime, **kwargs) -> None:
        self.rt = rt
        self.xr = make_fake_xr(rt)
        self.reports: list[xs.StatusReport] = []
        self.frames: list[xs.SubmittedFrame] = []
        self.changed = threading.Condition()
        self.graphics: list[FakeGraphics] = []
        self.preview = xs.XrPreview(xr_module=self.xr, graphics=self._graphics, on_status=self._status,
                                    on_frame=self._frame, retry_s=0.01, **kwargs)

    def _graphics(self, xr):
        g = FakeGraphics(self.rt)
        self.graphics.append(g)
        return g

    def _status(self, report) -> None:
        with self.changed:
            self.reports.append(report)
            self.changed.notify_all()

    def _frame(self, frame) -> None:
        with self.changed:
            self.frames.append(frame)
            self.changed.notify_all()

    def wait(self, pred, what: str):
        with self.changed:
            assert self.changed.wait_for(pred, TIMEOUT), f"timed out waiting for {what}; saw {self.reports[-5:]}"

    def wait_status(self, status: xs.Status, state: XrState | None = None) -> None:
        self.wait(lambda: any(r.status is status and (state is None or r.state is state) for r in self.reports),
                  f"{status} {state}")

    def frames_with(self, frame_id: int) -> list[xs.SubmittedFrame]:
        return [f for f in self.frames if f.content_id == frame_id]


def _content(frame_id: int, left: int = 200, right: int = 40, h: int = 6, w: int = 8) -> xs.Content:
    sbs = np.zeros((h, 2 * w, 3), np.uint8)
    sbs[:, :w] = left
    sbs[:, w:] = right
    return xs.Content(frame_id, sbs)


@pytest.fixture
def harness():
    made: list[Harness] = []

    def make(rt: FakeRuntime | None = None, **kwargs) -> Harness:
        h = Harness(rt or FakeRuntime(), **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        assert h.preview.stop(), "the XR thread did not stop"
        assert not any(t.name == "xr-preview" for t in threading.enumerate()), "an XR thread leaked"


def test_xr_session_walks_the_states_and_submits_both_eyes(harness):
    h = harness()
    h.preview.show(_content(1))
    h.preview.start()
    h.wait(lambda: len(h.frames_with(1)) >= 5, "5 frames with content")
    states = [r.state for r in h.reports if r.state is not None]
    for earlier, later in zip([XrState.IDLE, XrState.READY, XrState.SYNCHRONIZED, XrState.VISIBLE],
                              [XrState.READY, XrState.SYNCHRONIZED, XrState.VISIBLE, XrState.FOCUSED], strict=True):
        assert states.index(earlier) < states.index(later)
    assert h.rt.calls.index("check_requirements") < h.rt.calls.index("create_session")
    assert h.rt.calls.count("begin_session") == 1
    layers = h.rt.ended_layers[-1]
    assert [la["eye_visibility"] for la in layers] == [h.xr.EyeVisibility.LEFT, h.xr.EyeVisibility.RIGHT]
    rects = [(la["sub_image"].image_rect.offset.x, la["sub_image"].image_rect.extent.width) for la in layers]
    assert rects == [(0, 8), (8, 8)]  # the left eye sees the left half, the right eye the right half
    assert all(la["space"] == "space2" for la in layers)  # LOCAL space: a screen fixed in the room
    size = layers[0]["size"]
    assert (size.width, size.height) == pytest.approx((3.0, 3.0 * 6 / 8))
    assert layers[0]["pose"].position.z == pytest.approx(-2.5)


def test_xr_session_keeps_its_gl_context_current_after_runtime_calls(harness):
    h = harness(FakeRuntime(steals_context=True))
    h.preview.show(_content(1))
    h.preview.start()
    h.wait(lambda: len(h.frames_with(1)) >= 3, "frames")  # FakeGraphics.render asserts the context is current
    assert h.graphics[0].renders >= 3


def test_xr_session_stop_exits_through_stopping_and_exiting(harness):
    h = harness()
    h.preview.show(_content(1))
    h.preview.start()
    h.wait_status(xs.Status.RUNNING, XrState.FOCUSED)
    assert h.preview.stop()
    calls = h.rt.calls
    assert calls.index("request_exit_session") < calls.index("end_session") < calls.index("destroy_session")
    assert "destroy_instance" in calls and h.graphics[0].closed
    assert [r.state for r in h.reports if r.state in (XrState.STOPPING, XrState.EXITING)] == \
        [XrState.STOPPING, XrState.EXITING]
    assert h.reports[-1].status is xs.Status.STOPPED


def test_xr_session_stop_does_not_hang_on_a_runtime_that_never_exits(harness, monkeypatch):
    monkeypatch.setattr(xs, "EXIT_TIMEOUT_S", 0.2)
    h = harness(FakeRuntime(never_exit=True))
    h.preview.start()
    h.wait_status(xs.Status.RUNNING, XrState.FOCUSED)
    assert h.preview.stop(timeout=5.0)
    assert "destroy_session" in h.rt.calls and "end_session" not in h.rt.calls


def test_xr_session_grade_change_reaches_the_next_frame(harness):
    h = harness()
    h.preview.show(_content(1))
    h.preview.start()
    h.wait(lambda: len(h.frames_with(1)) >= 2, "frames of content 1")
    import time

    t_change = time.monotonic_ns()
    h.preview.show(_content(2, left=90))
    h.wait(lambda: any(f.render_start_ns > t_change for f in h.frames), "a frame begun after the change")
    after = [f for f in h.frames if f.render_start_ns > t_change]
    assert after[0].content_id == 2 and all(f.content_id == 2 for f in after)


def test_xr_session_without_a_runtime_says_what_to_install_and_retries(harness):
    h = harness(FakeRuntime(missing_for=3))
    h.preview.start()
    h.wait_status(xs.Status.NO_RUNTIME)
    report = next(r for r in h.reports if r.status is xs.Status.NO_RUNTIME)
    assert "monado-service" in report.message and "SteamVR" in report.message
    h.wait_status(xs.Status.RUNNING, XrState.FOCUSED)  # the runtime appeared: it connects on its own
    assert h.rt.instances_created == 1


def test_xr_session_runtime_without_headset_reports_and_retries(harness):
    h = harness(FakeRuntime(no_headset_for=2))
    h.preview.start()
    h.wait_status(xs.Status.NO_HEADSET)
    msg = next(r.message for r in h.reports if r.status is xs.Status.NO_HEADSET)
    assert "no headset" in msg and "retrying" in msg
    h.wait_status(xs.Status.RUNNING, XrState.FOCUSED)
    # every failed attempt released its instance
    assert sum(d.startswith("instance:") for d in h.rt.destroyed) == 2


def test_xr_session_instance_lost_mid_session_reconnects(harness):
    rt = FakeRuntime(lose_instance_at_frame=3)
    h = harness(rt)
    h.preview.show(_content(1))
    h.preview.start()
    h.wait_status(xs.Status.LOST)
    h.wait(lambda: h.preview.stats.sessions_started >= 2 and len(h.frames_with(1)) >= 6, "a second session")
    assert rt.instances_created == 2 and h.preview.stats.reconnects == 1
    assert h.graphics[0].closed and "destroy_session" in rt.calls


def test_xr_session_instance_loss_pending_event_reconnects(harness):
    rt = FakeRuntime(loss_pending_at_frame=2)
    h = harness(rt)
    h.preview.show(_content(1))
    h.preview.start()
    h.wait(lambda: rt.sessions_created >= 2 and h.preview.stats.frames_ended >= 4, "a new session after loss")
    assert h.preview.stats.reconnects >= 1


def test_xr_session_capture_returns_what_each_eye_layer_shows(harness):
    h = harness()
    got = threading.Event()
    out = {}

    def capture(rgba, layers, frame_id):
        out.update(rgba=rgba, layers=layers, frame_id=frame_id)
        got.set()

    h.preview.show(_content(5, left=210, right=30))
    h.preview.start()
    h.preview.capture_next(capture)
    assert got.wait(TIMEOUT)
    assert out["frame_id"] == 5
    by_eye = {la.eye: la.rect for la in out["layers"]}
    x, _, w, _ = by_eye["left"]
    assert (out["rgba"][:, x:x + w, 0] == 210).all()
    x, _, w, _ = by_eye["right"]
    assert (out["rgba"][:, x:x + w, 0] == 30).all()


def test_xr_session_recentre_and_head_locked_placement(harness):
    h = harness()
    h.preview.show(_content(1))
    h.preview.start()
    h.wait(lambda: len(h.frames_with(1)) >= 1, "a frame")
    h.preview.recentre()  # the fake head looks 90° to the left (+y yaw), 1.6 m up
    h.wait(lambda: h.preview.geometry.anchor.position != (0.0, 0.0, 0.0), "the recentred geometry")
    n = len(h.rt.ended_layers)
    h.wait(lambda: len(h.rt.ended_layers) > n + 1, "a frame after recentre")
    pos = h.rt.ended_layers[-1][0]["pose"].position
    assert (pos.x, pos.y, pos.z) == pytest.approx((-2.5, 1.6, 0.0), abs=1e-5)
    h.preview.set_geometry(ScreenGeometry(placement=Placement.HEAD_LOCKED, distance_m=1.5))
    n = len(h.rt.ended_layers)
    h.wait(lambda: len(h.rt.ended_layers) > n + 1, "a frame after switching to head-locked")
    layer = h.rt.ended_layers[-1][0]
    assert layer["space"] == "space1" and layer["pose"].position.z == pytest.approx(-1.5)


def test_xr_session_without_pyopenxr_reports_no_runtime(harness, monkeypatch):
    monkeypatch.setitem(sys.modules, "xr", None)  # `import xr` raises ImportError
    reports = []
    preview = xs.XrPreview(on_status=reports.append)
    preview.start()
    assert preview.stop()
    assert reports[0].status is xs.Status.NO_RUNTIME and "pip install pyopenxr" in reports[0].message


def test_xr_content_rejects_a_bad_image():
    with pytest.raises(ValueError, match="odd"):
        xs.Content(1, np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        xs.Content(1, np.zeros((4, 6, 3), np.float32))
