"""The studio's longest UI-thread stall during a scripted scrub-play-edit-render session.

A 2 ms QTimer runs on the event loop; the longest gap between its ticks (minus the interval) is the
longest time the UI thread was busy. Beside it, the UI thread's own CPU time between two ticks
(``time.thread_time``): on a loaded machine the wall gap also holds the time the thread waited to be
scheduled or for the GIL (a worker holding it while descheduled), which the CPU figure leaves out; it
also leaves out waits for llvmpipe's rasteriser threads (glFinish, the swap), which the wall gap holds.
Script: let the new window come up (phase "start", 1 s: its first paint and GL set-up), open the demo
clip, scrub 0..40, play ~2 s, drag the divergence slider through 20 values, render
a 6-frame range through the queue. Needs a display (Xvfb).
Writes bench/results/studio_stall.json with os.getloadavg(). Without a display it re-runs under xvfb-run.

    .venv/bin/python bench/bench_studio_stall.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from bench.bench_studio import rerun_under_xvfb

    code = rerun_under_xvfb()
    if code is not None:
        return code
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
    from PySide6.QtGui import QSurfaceFormat
    from PySide6.QtWidgets import QApplication

    from studio.viewer.gl_viewer import gl_format

    QSurfaceFormat.setDefaultFormat(gl_format())
    app = QApplication(sys.argv[:1])
    from studio.main_window import MainWindow

    tmp = Path(tempfile.mkdtemp())
    settings = QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(use_audio_device=False, settings=settings)
    window.resize(1280, 800)
    window.show()
    clock, gaps, busy, phase = QElapsedTimer(), {}, {}, ["start"]
    clock.start()
    last = [clock.nsecsElapsed(), time.thread_time()]

    def tick() -> None:
        now, cpu = clock.nsecsElapsed(), time.thread_time()
        gap_ms = (now - last[0]) / 1e6 - 2.0
        gaps[phase[0]] = max(gaps.get(phase[0], 0.0), gap_ms)
        busy[phase[0]] = max(busy.get(phase[0], 0.0), (cpu - last[1]) * 1000.0)
        last[:] = [now, cpu]

    timer = QTimer(interval=2, timeout=tick)
    timer.start()

    def wait_until(cond, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while not cond() and time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)

    def run_for(seconds: float) -> None:
        wait_until(lambda: False, seconds)

    run_for(1.0)  # "start": the window's first layout and paint, GL set-up (start-up, not the session)
    phase[0] = "open"
    window.open_media(ROOT / "resources" / "demo" / "demo.mp4")
    wait_until(lambda: window.viewer.frame is not None, 120)
    phase[0] = "scrub"
    for n in range(0, 40):
        window.seek(n)
        run_for(0.03)
    phase[0] = "play"
    window.controller.play()
    run_for(2.0)
    window.controller.pause()
    phase[0] = "edit"
    for i in range(20):
        window.divergence.setValue(3.0 + 0.2 * i)
        run_for(0.03)
    phase[0] = "render"
    p = window.document.project
    window.document.load(replace(p, render=replace(p.render, max_width=160, temporal=False)), None,
                         window.document.clip_id)
    window.marks = [10, 15]
    job = window.enqueue("range")
    window.document.apply("out", lambda q: replace(q, queue=tuple(replace(j, output=str(tmp / "m.mp4"))
                                                                  for j in q.queue)))
    window.runner.start()
    wait_until(lambda: window.document.project.job(job).state in ("done", "failed"), 300)
    timer.stop()
    window.document.stack.setClean()
    window.shutdown()
    result = {"longest_stall_ms": round(max(gaps.values()), 1),
              "by_phase_ms": {k: round(v, 1) for k, v in gaps.items()},
              "longest_ui_thread_cpu_ms": round(max(busy.values()), 1),
              "ui_thread_cpu_by_phase_ms": {k: round(v, 1) for k, v in busy.items()},
              "render_state": window.document.project.job(job).state, "loadavg": os.getloadavg()}
    out = ROOT / "bench" / "results" / "studio_stall.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    os._exit(0)  # see tests/studio/conftest.py: PySide6's final teardown can abort after many objects


if __name__ == "__main__":
    sys.exit(main())
