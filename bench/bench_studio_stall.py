"""The studio's longest UI-thread stall during a scripted scrub-play-edit-render session.

A 2 ms QTimer runs on the event loop; the longest gap between its ticks (minus the interval) is the
longest time the UI thread was busy. Beside it, the UI thread's own CPU time between two ticks
(``time.thread_time``): on a loaded machine the wall gap also holds the time the thread waited to be
scheduled or for the GIL (a worker holding it while descheduled), which the CPU figure leaves out; it
also leaves out waits for llvmpipe's rasteriser threads (glFinish, the swap), which the wall gap holds.
Script: let the new window come up (phase "start", 1 s: its first paint and GL set-up), open the demo
clip, scrub 0..40, play ~2 s, drag the divergence slider through 20 values, render
a 6-frame range through the queue. Needs a display (Xvfb).

Watchdog: a Python thread checks the timer's heartbeat (a timestamp each tick writes) every ~5 ms;
whenever the event loop has not come back for more than ``WATCH_MS`` it samples the UI thread's
Python stack (``sys._current_frames``) and counts it under the phase. At the end the top stacks
(innermost frames, by sample count, ~5 ms a sample) and the top innermost functions are printed per
phase: what the UI thread does in its stalls, with each stall's length, the UI thread's own CPU in it
and the other threads' innermost frames at the samples. A stack ending in a C call (GL, Qt painting)
shows the Python line that made it. The watchdog needs the GIL to sample: a stall of N ms with far
fewer than N / 5 samples had the GIL held all along, by the UI thread in C++ that keeps it (Qt's own
painting, text) or by a worker. ``--no-watch`` turns it off.
Writes bench/results/studio_stall.json with os.getloadavg(). Without a display it re-runs under xvfb-run.

    .venv/bin/python bench/bench_studio_stall.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WATCH_MS = 30.0  # the event loop away longer than this: the watchdog samples the UI thread's stack
SAMPLE_S = 0.005
STACK_DEPTH = 10  # innermost frames kept per sample
TOP = 6


def frame_stack(frame, depth: int = STACK_DEPTH) -> tuple[str, ...]:
    """The innermost `depth` frames of a Python stack, innermost first, as 'file:line function'."""
    out = []
    while frame is not None and len(out) < depth:
        code = frame.f_code
        out.append(f"{Path(code.co_filename).name}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return tuple(out)


class Watchdog(threading.Thread):
    """Samples `thread_id`'s stack every SAMPLE_S while `beat()` is more than WATCH_MS old.

    samples[phase]: Counter of stacks (frame_stack tuples); stalls[phase]: stall episodes seen."""

    def __init__(self, thread_id: int, beat, phase) -> None:
        super().__init__(name="stall-watchdog", daemon=True)
        self.thread_id, self.beat, self.phase = thread_id, beat, phase
        self.samples: dict[str, Counter] = {}
        self.stalls: Counter = Counter()
        self.others: dict[str, Counter] = {}  # the other threads' innermost frames at the samples
        self.cpu_at: dict[float, float] = {}  # beat -> the UI thread's CPU (ms) in the gap it ended (ticks write)
        self.episodes: list[dict] = []  # each stall: phase, seconds into it, length (ms), top innermost frames
        self.stop = threading.Event()

    def run(self) -> None:
        stall: dict | None = None  # the stall going on: its phase, start, samples and innermost frames
        phase_start: dict[str, float] = {}
        while not self.stop.wait(SAMPLE_S):
            beat = self.beat()
            phase_start.setdefault(self.phase(), time.monotonic())
            if stall is not None and beat != stall["beat"]:  # the loop came back: the stall is over
                self._end(stall, beat)
                stall = None
            if (time.monotonic() - beat) * 1000.0 <= WATCH_MS:
                continue
            frames = sys._current_frames()
            frame = frames.pop(self.thread_id, None)
            frames.pop(threading.get_ident(), None)
            if frame is None:
                continue
            stack = frame_stack(frame)
            others = [frame_stack(f, 1)[0] for f in frames.values()]
            del frame, frames
            phase = self.phase()
            if stall is None:
                self.stalls[phase] += 1
                stall = {"phase": phase, "beat": beat, "at_s": beat - phase_start[phase], "leaves": Counter(),
                         "samples": 0}
            stall["leaves"][stack[0] if stack else "?"] += 1
            stall["samples"] += 1
            self.samples.setdefault(phase, Counter())[stack] += 1
            self.others.setdefault(phase, Counter()).update(o for o in others if not o.startswith("threading.py"))

    def _end(self, stall: dict, beat: float) -> None:
        self.episodes.append({"phase": stall["phase"], "at_s": round(stall["at_s"], 3),
                              "ms": round((beat - stall["beat"]) * 1000.0, 1), "end": beat, "samples": stall["samples"],
                              "leaves": stall["leaves"].most_common(3)})

    def report(self) -> dict:
        """Per phase: stall episodes (with the UI thread's CPU in each), samples, the top stacks and the top
        innermost frames."""
        for e in self.episodes:
            cpu = self.cpu_at.get(e.pop("end", None))
            e["cpu_ms"] = None if cpu is None else round(cpu, 1)
        out = {}
        for phase, counter in self.samples.items():
            leaves: Counter = Counter()
            for stack, n in counter.items():
                leaves[stack[0] if stack else "?"] += n
            out[phase] = {"stalls": self.stalls[phase], "samples": sum(counter.values()),
                          "top_stacks": [{"samples": n, "stack": list(stack)} for stack, n in counter.most_common(3)],
                          "top_leaves": [[leaf, n] for leaf, n in leaves.most_common(TOP)],
                          "other_threads": [[f, n] for f, n in self.others.get(phase, Counter()).most_common(TOP)],
                          "episodes": [e for e in self.episodes if e["phase"] == phase]}
        return out


def print_watch(report: dict) -> None:
    for phase, r in report.items():
        print(f"== {phase}: {r['stalls']} stalls > {WATCH_MS:.0f} ms, {r['samples']} samples "
              f"(~{SAMPLE_S * 1e3:.0f} ms each)")
        for e in r["episodes"]:
            print(f"   stall at {e['at_s']:.2f} s, {e['ms']:.0f} ms (UI CPU {e['cpu_ms']} ms), {e['samples']} samples: "
                  f"{e['leaves']}")
        print("   other threads at the samples:", r["other_threads"])
        for leaf, n in r["top_leaves"]:
            print(f"   {n:4d}  {leaf}")
        for top in r["top_stacks"]:
            print(f"  -- {top['samples']} samples")
            for line in top["stack"]:
                print(f"       {line}")


def main() -> int:
    from bench.bench_studio import rerun_under_xvfb

    code = rerun_under_xvfb()
    if code is not None:
        return code
    from studio.preload import Preload, freeze_heap

    preload = Preload.start()  # as studio.app does: torch and PyOpenGL beside the Qt start-up
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
    from PySide6.QtGui import QSurfaceFormat
    from PySide6.QtWidgets import QApplication

    from studio.viewer.gl_viewer import gl_format

    QSurfaceFormat.setDefaultFormat(gl_format())
    app = QApplication(sys.argv[:1])  # noqa: F841 (kept alive for the run)
    from studio.main_window import MainWindow

    tmp = Path(tempfile.mkdtemp())
    settings = QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(use_audio_device=False, settings=settings)
    window.resize(1280, 800)
    preload.join()
    freeze_heap(collect=True)
    window.show()
    clock, gaps, busy, phase = QElapsedTimer(), {}, {}, ["start"]
    clock.start()
    last = [clock.nsecsElapsed(), time.thread_time()]
    beat = [time.monotonic()]
    watch = Watchdog(threading.get_ident(), lambda: beat[0], lambda: phase[0])
    if "--no-watch" not in sys.argv:
        watch.start()

    def tick() -> None:
        now, cpu = clock.nsecsElapsed(), time.thread_time()
        gap_ms, cpu_ms = (now - last[0]) / 1e6 - 2.0, (cpu - last[1]) * 1000.0
        gaps[phase[0]] = max(gaps.get(phase[0], 0.0), gap_ms)
        busy[phase[0]] = max(busy.get(phase[0], 0.0), cpu_ms)
        last[:] = [now, cpu]
        beat_s = time.monotonic()
        if gap_ms > WATCH_MS:  # the UI thread's own CPU over the stall, for the watchdog's record of it
            watch.cpu_at[beat_s] = cpu_ms
        beat[0] = beat_s

    timer = QTimer(interval=2, timeout=tick)
    timer.start()

    def wait_until(cond, timeout_s: float) -> None:  # a blocking event loop, as the application's own
        end = time.monotonic() + timeout_s
        if cond():
            return
        loop = QEventLoop()
        check = QTimer(interval=5)
        check.timeout.connect(lambda: (cond() or time.monotonic() > end) and loop.quit())
        check.start()
        loop.exec()
        check.stop()

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
    watch.stop.set()
    window.document.stack.setClean()
    window.shutdown()
    result = {"longest_stall_ms": round(max(gaps.values()), 1),
              "by_phase_ms": {k: round(v, 1) for k, v in gaps.items()},
              "longest_ui_thread_cpu_ms": round(max(busy.values()), 1),
              "ui_thread_cpu_by_phase_ms": {k: round(v, 1) for k, v in busy.items()},
              "render_state": window.document.project.job(job).state, "loadavg": os.getloadavg(),
              "watchdog": watch.report()}
    out = ROOT / "bench" / "results" / "studio_stall.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_watch(result["watchdog"])
    print(json.dumps({k: v for k, v in result.items() if k != "watchdog"}))
    os._exit(0)  # see tests/studio/conftest.py: PySide6's final teardown can abort after many objects


if __name__ == "__main__":
    sys.exit(main())
