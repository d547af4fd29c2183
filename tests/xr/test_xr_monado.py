"""The headset preview against a real OpenXR runtime: Monado (Debian 13 chroot, null compositor, simulated HMD).

Run with `make test-xr` (CI runs it after `make test`). The chroot is provisioned when missing
(tools/xr/monado_chroot.sh, root, a few minutes once; cached at /var/cache/spatialdreamer/monado-trixie).
The client runs studio.xr's XrPreview inside the chroot (Monado's runtime library loads into the client
and needs trixie's glibc); the stereo content is the demo clip's graded frame made here by engine.api.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import api
from tests.xr.support import runtime as rt

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo" / "demo.mp4"
N_FRAMES = 30


def _sbs(divergence: float) -> np.ndarray:
    request = api.ConvertRequest(input=DEMO, layout="sbs-full", temporal=False, shots="off",
                                 params=api.StereoParams(divergence, 1 / 3))
    (image,) = api.preview_images(request, "24f")
    return image


@pytest.fixture(scope="module")
def content():
    grades = {"a_d3": _sbs(3.0), "b_d6": _sbs(6.0)}
    for image in grades.values():
        w = image.shape[1] // 2
        # the two eyes differ (real stereo), and the two grades differ
        assert np.abs(image[:, :w].astype(int) - image[:, w:]).mean() > 1.0
    assert np.abs(grades["a_d3"].astype(int) - grades["b_d6"]).mean() > 0.5
    return grades


@pytest.fixture(scope="module")
def monado():
    rt.provision()
    runtime = rt.MonadoRuntime()
    try:
        runtime.start()
        yield runtime
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def client(monado, content):
    np.savez(monado.scratch / "content.npz", **content)
    proc = monado.client(monado.scratch / "content.npz", monado.scratch)
    proc.content = content
    yield proc
    proc.kill()


def _status(state: str):
    return lambda e: e["event"] == "status" and e["state"] == state


def test_xr_runtime_reaches_focused_and_ends_frames(client):
    client.send("show a_d3")
    client.wait_event(_status("FOCUSED"), 60, "FOCUSED session state")
    first = client.wait_event(lambda e: e["event"] == "frame" and e["id"] == 1, 30, "a frame with content")
    last = client.wait_event(lambda e: e["event"] == "frame" and e["i"] >= first["i"] + N_FRAMES, 30,
                             f"{N_FRAMES} more xrEndFrame calls")
    frames = [e for e in client.seen if e["event"] == "frame" and first["i"] <= e["i"] <= last["i"]]
    assert len(frames) >= N_FRAMES + 1 and all(f["id"] == 1 for f in frames)
    seen_states = [e["state"] for e in client.seen if e["event"] == "status" and e["state"]]
    order = ["IDLE", "READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED"]
    ordered = [s for i, s in enumerate(seen_states) if s in order and (i == 0 or seen_states[i - 1] != s)]
    assert ordered[:5] == order


def _check_eyes(monado, capture: dict, sbs: np.ndarray) -> None:
    image = np.load(monado.host_view(capture["path"]))[..., :3].astype(int)
    h, w2 = sbs.shape[:2]
    eyes = {name: (x, y, w, hh) for name, x, y, w, hh in capture["layers"]}
    assert set(eyes) == {"left", "right"}
    left_view, right_view = sbs[:, : w2 // 2].astype(int), sbs[:, w2 // 2:].astype(int)
    for eye, own, other in (("left", left_view, right_view), ("right", right_view, left_view)):
        x, y, w, hh = eyes[eye]
        shown = image[image.shape[0] - (y + hh): image.shape[0] - y, x: x + w]  # rect y is from the bottom
        assert shown.shape == own.shape, (eye, shown.shape, own.shape)
        own_err, other_err = np.abs(shown - own).mean(), np.abs(shown - other).mean()
        assert own_err < 0.5, f"{eye} eye's layer differs from the {eye} view by {own_err:.2f}"
        assert other_err > 4 * own_err + 1.0, f"{eye} eye's layer is not distinguishable from the other view"


def test_xr_runtime_each_eye_layer_holds_its_view(monado, client):
    client.send("capture")
    capture = client.wait_event(lambda e: e["event"] == "captured", 30, "a swapchain read-back")
    assert capture["id"] == 1
    _check_eyes(monado, capture, client.content["a_d3"])


def test_xr_runtime_grade_change_is_in_the_next_frame(monado, client):
    client.send("show b_d6")
    shown = client.wait_event(lambda e: e["event"] == "shown" and e["id"] == 2, 10, "the new grade shown")
    after = client.wait_event(lambda e: e["event"] == "frame" and e["t"] > shown["t"], 10,
                              "the first frame begun after the grade change")
    assert after["id"] == 2, "the first frame begun after the change still carried the old grade"
    client.send("capture")
    capture = client.wait_event(lambda e: e["event"] == "captured", 30, "a read-back of the new grade")
    assert capture["id"] == 2
    _check_eyes(monado, capture, client.content["b_d6"])


def test_xr_runtime_survives_service_kill_and_reconnects(monado, client):
    monado.kill_service()
    lost = client.wait_event(lambda e: e["event"] == "status" and e["status"] == "LOST", 60,
                             "the loss of the runtime reported")
    assert "InstanceLost" in lost["message"] or "Runtime" in lost["message"], lost
    # while the service is down, reconnect attempts say there is no runtime and what to install
    missing = client.wait_event(lambda e: e["event"] == "status" and e["status"] == "NO_RUNTIME", 60,
                                "a no-runtime report while the service is down")
    assert "monado-service" in missing["message"]
    assert client.popen.poll() is None, "the client died with the runtime"
    monado.start_service()
    client.wait_event(_status("FOCUSED"), 90, "FOCUSED again after the service came back")
    again = client.wait_event(lambda e: e["event"] == "frame" and e["id"] == 2, 30, "frames in the new session")
    client.wait_event(lambda e: e["event"] == "frame" and e["i"] >= again["i"] + 5, 30, "frames keep flowing")


def test_xr_runtime_clean_stop(client):
    client.send("stop")
    stopped = client.wait_event(lambda e: e["event"] == "stopped", 30, "the preview stopped")
    assert stopped["joined"] and stopped["threads"] == ["MainThread"]
    assert stopped["sessions"] >= 2 and stopped["reconnects"] >= 1
    assert client.popen.wait(30) == 0


@pytest.fixture(scope="module")
def shared_client(monado, content, client):
    """A second client whose XR context shares a "viewer" context's textures (after the first one stopped)."""
    assert client.popen.wait(30) == 0
    proc = monado.client(monado.scratch / "content.npz", monado.scratch, "--share")
    proc.content = content
    yield proc
    proc.kill()


def test_xr_runtime_gpu_share_swapchain_holds_the_viewers_textures(monado, shared_client):
    c = shared_client
    c.send("gshow a_d3")
    c.wait_event(_status("FOCUSED"), 60, "FOCUSED with a shared GL context")
    c.wait_event(lambda e: e["event"] == "frame" and e["id"] == 1, 30, "a frame of the viewer's textures")
    c.send("capture")
    capture = c.wait_event(lambda e: e["event"] == "captured", 30, "a swapchain read-back")
    assert capture["gpu_shared"] is True, "the XR context did not join the viewer's share group"
    _check_eyes(monado, capture, c.content["a_d3"])
    # GPU to GPU: the XR thread uploaded nothing and read back only the capture asked for
    assert capture["uploads"] == 0 and capture["gpu_copies"] >= 1 and capture["readbacks"] == 1
    frames = [e for e in c.seen if e["event"] == "frame" and e["id"] is not None]
    assert frames and all(f["source"] == "gpu" for f in frames)

    c.send("gshow b_d6")
    shown = c.wait_event(lambda e: e["event"] == "shown" and e["id"] == 2, 10, "the new grade handed over")
    after = c.wait_event(lambda e: e["event"] == "frame" and e["t"] > shown["t"], 10,
                         "the first frame begun after the viewer's new eyes")
    assert after["id"] == 2 and after["source"] == "gpu"
    c.send("capture")
    capture = c.wait_event(lambda e: e["event"] == "captured" and e["id"] == 2, 30, "a read-back of the new grade")
    _check_eyes(monado, capture, c.content["b_d6"])
    assert capture["uploads"] == 0 and capture["readbacks"] == 2
    c.send("stop")
    stopped = c.wait_event(lambda e: e["event"] == "stopped", 30, "the shared preview stopped")
    assert stopped["joined"] and stopped["threads"] == ["MainThread"]
    assert c.popen.wait(30) == 0
