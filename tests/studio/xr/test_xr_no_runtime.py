"""The real pyopenxr loader with no OpenXR runtime installed: a clear message, retries, a clean stop."""

from __future__ import annotations

import threading

from studio.xr import session as xs


def test_xr_no_runtime_with_the_real_loader(monkeypatch):
    monkeypatch.setenv("XR_RUNTIME_JSON", "/nonexistent/openxr/1/active_runtime.json")
    seen: list[xs.StatusReport] = []
    twice = threading.Event()

    def on_status(report: xs.StatusReport) -> None:
        seen.append(report)
        if sum(r.status is xs.Status.NO_RUNTIME for r in seen) >= 2:
            twice.set()

    preview = xs.XrPreview(on_status=on_status, retry_s=0.05)
    preview.start()
    assert twice.wait(20), f"no repeated no-runtime report: {seen}"  # it keeps trying, quietly
    assert preview.stop()
    message = next(r.message for r in seen if r.status is xs.Status.NO_RUNTIME)
    assert "monado-service" in message and "XR_RUNTIME_JSON" in message
    assert seen[-1].status is xs.Status.STOPPED
    assert not any(t.name == "xr-preview" for t in threading.enumerate())
