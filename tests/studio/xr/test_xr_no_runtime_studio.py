"""No OpenXR runtime, for real: pyopenxr's own loader in each way a machine can lack one, in the studio.

No mocks of the loader: the loader looks for XR_RUNTIME_JSON, then active_runtime.json under
$XDG_CONFIG_HOME, $XDG_CONFIG_DIRS and /etc; each case below sets those up on disk. The studio shows
what to install, keeps working (scrub, grade, viewer frames), spends no CPU on headset renders while
there is nothing to show them on, backs off its retries, and stops cleanly.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from studio.xr import session as xs
from studio.xr.session import Status
from tests.studio.xr.fake_xr import record_headset_jobs

DEMO = Path(__file__).resolve().parents[3] / "resources" / "demo" / "demo.mp4"
SYSTEM_MANIFESTS = (Path("/etc/xdg/openxr/1/active_runtime.json"), Path("/etc/openxr/1/active_runtime.json"))


def _no_runtime(case: str, tmp_path: Path, monkeypatch) -> None:
    home, dirs = tmp_path / "config", tmp_path / "xdg"
    home.mkdir()
    dirs.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(dirs))
    monkeypatch.delenv("XR_RUNTIME_JSON", raising=False)
    if case == "none installed":
        if any(p.exists() for p in SYSTEM_MANIFESTS):
            pytest.fail(f"this machine has a system-wide OpenXR runtime ({SYSTEM_MANIFESTS}); the case needs none")
        return
    manifest = tmp_path / "active_runtime.json"
    if case == "XR_RUNTIME_JSON points nowhere":
        monkeypatch.setenv("XR_RUNTIME_JSON", str(tmp_path / "missing" / "active_runtime.json"))
        return
    if case == "runtime library missing":  # e.g. a runtime uninstalled, its manifest left behind
        manifest.write_text(json.dumps({"file_format_version": "1.0.0", "runtime": {
            "name": "Monado", "library_path": str(tmp_path / "libopenxr_monado.so")}}))
    elif case == "manifest unreadable":
        manifest.write_text("{ not json")
    active = home / "openxr" / "1"
    active.mkdir(parents=True)
    (active / "active_runtime.json").symlink_to(manifest)


CASES = {"none installed": "no active OpenXR runtime is set",
         "XR_RUNTIME_JSON points nowhere": "XR_RUNTIME_JSON points to",
         "runtime library missing": "libopenxr_monado.so, which is missing",
         "manifest unreadable": "is not a readable OpenXR runtime manifest"}


@pytest.mark.parametrize("case", CASES)
def test_xr_no_runtime_real_loader_says_what_to_install(case, tmp_path, monkeypatch):
    _no_runtime(case, tmp_path, monkeypatch)
    seen: list[xs.StatusReport] = []
    twice = threading.Event()

    def on_status(report: xs.StatusReport) -> None:
        seen.append(report)
        if sum(r.status is Status.NO_RUNTIME for r in seen) >= 2:
            twice.set()

    preview = xs.XrPreview(on_status=on_status, retry_s=0.02)
    preview.start()
    assert twice.wait(30), f"{case}: no repeated no-runtime report: {seen}"  # it keeps trying
    assert preview.stop()
    message = next(r.message for r in seen if r.status is Status.NO_RUNTIME)
    assert "monado-service" in message and "SteamVR" in message and "XR_RUNTIME_JSON" in message
    assert "\n" not in message and "Traceback" not in message
    assert CASES[case] in message  # which file is wrong, not only that something is
    assert seen[-1].status is Status.STOPPED
    assert not any(t.name == "xr-preview" for t in threading.enumerate())


def test_xr_no_runtime_retries_back_off():
    waits = [xs.retry_delay(0.25, n) for n in range(12)]
    assert waits[0] == 0.25 and waits == sorted(waits)
    assert waits[-1] == xs.MAX_RETRY_S  # a missing runtime is polled every few seconds, not hammered


@pytest.mark.parametrize("case", ["none installed", "runtime library missing"])
def test_xr_no_runtime_studio_says_what_to_install_and_keeps_working(case, window, qtbot, tmp_path, monkeypatch):
    _no_runtime(case, tmp_path, monkeypatch)
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.open_media(DEMO)
    headset_jobs = record_headset_jobs(window, monkeypatch)
    window.headset.action.setChecked(True)
    qtbot.waitUntil(lambda: window.headset.report.status is Status.NO_RUNTIME, timeout=30_000)
    assert "no runtime" in window.headset.indicator.text()
    tip = window.headset.indicator.toolTip()
    assert "monado-service" in tip and "SteamVR" in tip and CASES[case] in tip
    assert window.headset.action.isChecked()  # still on: it connects by itself once a runtime is there
    # the studio is unaffected: grading and scrubbing still reach the viewer
    window.divergence.setValue(4.0)
    qtbot.waitUntil(lambda: window.viewer.state.grade.divergence == pytest.approx(4.0), timeout=10_000)
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.seek(20)
    assert window.controller.position == 20 and window.viewer.frame.index == 20
    assert headset_jobs == [], "stereo pairs were rendered for a headset that is not there"
    assert window.headset.report.status is Status.NO_RUNTIME
    window.headset.action.setChecked(False)
    assert not any(t.name == "xr-preview" for t in threading.enumerate())
    assert window.headset.report.status is Status.STOPPED
