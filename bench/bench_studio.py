"""Studio speed on this machine (Xvfb / llvmpipe here): viewer redraw, scrub latency, playback, start-up.

    .venv/bin/python bench/bench_studio.py [--json bench/results/studio.json]

Needs an X display; without one it re-runs itself under ``xvfb-run``. The source is the 1080p H.264
clip (GOP 24) that bench_session.py writes (DAVIS footage upscaled, else the demo clip), analysed
first so δ comes from the depth cache. Figures (medians unless named otherwise):

- redraw after a keyframe change, GL viewer alone, anaglyph, eyes 1280×720 (a 1080p source in a
  1280-pixel view) and 1920×1080 (1:1): the grade alternates between two values, each change
  painted with ``repaint()``. ``full``: both eyes built at once at the shown size + composition
  (progressive building off). ``progressive``: the first picture (preview-size eyes), the time
  until the full-size eyes replace it, and the longest single UI-thread block while they are
  built in bands (the budget is 16 ms / 50 ms). ``compose_only``: a repaint with nothing changed
  (the mode's composition and the swap). ``*_cpu_ms``: CPU time of the process over the same span
  (all threads: llvmpipe rasterises on its own threads), the figure a loaded machine skews least.
- scrub, in the main window on the analysed clip: seek → the viewer shows the frame (its first
  picture, preview or full). ``cached``: frames just shown; ``uncached``: frames not decoded yet
  in this session (seek + decode up to one GOP + δ from the disk cache + upload + eyes).
- playback: 3 s of the analysed clip from frame 0 (its 72 frames); the rate new frames came on screen
  (first to last frame shown), the frames shown and the frames dropped.
- start-up: ``spatialdreamer-studio CLIP --exit-after-first-frame`` in a fresh process: seconds
  until the window is up and its event loop runs (usable), and until the first frame is shown.

The load average is recorded: the machine is shared and every figure is skewed by other jobs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_JSON = ROOT / "bench" / "results" / "studio.json"


def rerun_under_xvfb() -> int | None:
    """Without an X display, run this script again under xvfb-run: its exit status (None: there is a display)."""
    if os.environ.get("DISPLAY"):
        return None
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        print(f"{Path(sys.argv[0]).name}: needs an X display (set DISPLAY or install xvfb)", file=sys.stderr)
        return 2
    return subprocess.call([xvfb, "-a", "-s", "-screen 0 2000x1200x24 -nolisten tcp", sys.executable, *sys.argv])


def _wait(app, cond, timeout_s: float) -> bool:
    """Run the event loop until `cond()` (checked every 2 ms) or `timeout_s`: whether `cond` came true.

    The loop blocks between events as the application's own does. (A ``processEvents`` spin here held
    the GIL and a core the whole time: it starved the workers and put a core's worth of CPU into every
    figure measured while it waited; playback read ~40 ms of UI-thread CPU per frame shown that the
    studio itself never spends.)
    """
    from PySide6.QtCore import QEventLoop, QTimer

    end = time.monotonic() + timeout_s
    if cond():
        return True
    loop = QEventLoop()
    timer = QTimer(interval=2)

    def check() -> None:
        if cond() or time.monotonic() > end:
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    return bool(cond())


def _longest_block(app, cond, timeout_s: float) -> float:
    """Run the event loop until `cond`: the longest the UI thread was kept from it (a UI-thread block), ms.

    A 1 ms timer runs beside the work; a gap between two of its ticks longer than its interval is the
    time something held the thread.
    """
    from PySide6.QtCore import QTimer

    last, longest = [time.perf_counter()], [0.0]

    def tick() -> None:
        now = time.perf_counter()
        longest[0] = max(longest[0], (now - last[0]) * 1000 - 1.0)
        last[0] = now

    timer = QTimer(interval=1)
    timer.timeout.connect(tick)
    timer.start()
    _wait(app, cond, timeout_s)
    timer.stop()
    tick()
    return max(0.0, longest[0])


def _cpu_ms() -> float:
    """CPU time of this process, all threads (llvmpipe's rasteriser threads included), ms."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000.0


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


def bench_redraw(app, rgb, delta, repeats: int) -> dict:
    """GL viewer alone: the cost of showing a grade change, full and progressive, at two eye sizes."""
    return {label: _redraw_at(app, rgb, delta, width, repeats)
            for label, width in (("1280x720", 1280), ("1920x1080 (1:1)", 1920))}


def _redraw_at(app, rgb, delta, width: int, repeats: int) -> dict:
    from engine.document import StereoParams
    from studio.viewer.geometry import Zoom
    from studio.viewer.gl_viewer import GlViewer
    from studio.viewer.modes import FrameData, ViewState

    viewer = GlViewer()
    viewer.resize(width, width * 9 // 16)
    viewer.show()
    _wait(app, viewer.isVisible, 10)
    shown: list[tuple[str, float]] = []
    viewer.frame_drawn.connect(lambda n: shown.append(("full", time.perf_counter())))
    viewer.preview_drawn.connect(lambda n: shown.append(("preview", time.perf_counter())))
    state = ViewState(mode="anaglyph")
    viewer.set_state(state)
    viewer.set_zoom(Zoom())
    viewer.set_frame(FrameData(0, rgb, delta, "00:00:00:00"))
    # as the studio opens a clip: its preview first, then the full size (so both paths' first draws, which
    # llvmpipe compiles its shader variants for, are not counted as a keyframe change's)
    _wait(app, lambda: any(kind == "full" for kind, _ in shown), 60)
    full, prog_first, prog_final, prog_block, full_cpu, first_cpu, compose, compose_cpu = ([] for _ in range(8))
    for i in range(repeats * 2):
        progressive = i >= repeats
        viewer.progressive = progressive
        shown.clear()
        params = StereoParams(3.0 + 0.5 * (i % 2) + 0.01 * i, 0.33)
        c0, t0 = _cpu_ms(), time.perf_counter()
        viewer.set_state(replace(state, params=params))
        viewer.repaint()  # paints now: what a change costs the UI thread before anything shows
        first, cpu = (time.perf_counter() - t0) * 1000, _cpu_ms() - c0
        if not progressive:
            full.append(first)
            full_cpu.append(cpu)
            c0, t0 = _cpu_ms(), time.perf_counter()
            viewer.repaint()  # nothing changed: the composition (and swap) alone
            compose.append((time.perf_counter() - t0) * 1000)
            compose_cpu.append(_cpu_ms() - c0)
            continue
        first_cpu.append(cpu)
        longest = _longest_block(app, lambda: any(kind == "full" for kind, _ in shown), 60)
        prog_first.append(first)
        prog_final.append((next((t for kind, t in shown if kind == "full"), time.perf_counter()) - t0) * 1000)
        prog_block.append(max(first, longest))
    eye = viewer.renderer.eye_size if viewer.renderer else None
    result = {"eye_size": list(eye) if eye else None,
              "full_build_and_paint_ms": _median(full), "full_build_and_paint_cpu_ms": _median(full_cpu),
              "compose_only_ms": _median(compose), "compose_only_cpu_ms": _median(compose_cpu),
              "progressive_first_picture_ms": _median(prog_first),
              "progressive_first_picture_cpu_ms": _median(first_cpu),
              "progressive_first_picture_max_ms": round(max(prog_first), 1) if prog_first else None,
              "progressive_full_size_shown_after_ms": _median(prog_final),
              "progressive_longest_block_ms": round(max(prog_block), 1) if prog_block else None,
              "preview_eye_width": viewer.cost.preview_size(tuple(eye))[0] if eye else None}
    viewer.release_gl()
    viewer.close()
    viewer.deleteLater()
    return result


def bench_window(app, clip: Path, tmp: Path) -> dict:
    """Scrub and playback in the main window on the analysed clip."""
    import numpy as np
    from PySide6.QtCore import QSettings

    from studio.main_window import MainWindow

    settings = QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(use_audio_device=False, settings=settings)
    window.resize(1900, 1060)
    window.show()
    window.open_media(clip)
    viewer = window.viewer
    if not _wait(app, lambda: viewer.frame is not None, 180):
        raise RuntimeError("the clip never showed")
    analysed = []
    window.controller.analysed.connect(analysed.append)
    window.controller.analyse_shot(window.controller.session.shot_at(0))
    _wait(app, lambda: analysed, 600)
    shown: list[tuple[int, float]] = []
    viewer.frame_drawn.connect(lambda n: shown.append((n, time.perf_counter())))
    inner = viewer.viewer
    if hasattr(inner, "preview_drawn"):
        inner.preview_drawn.connect(lambda n: shown.append((n, time.perf_counter())))

    cpu: list[float] = []

    def seek_ms(n: int) -> float | None:
        shown.clear()
        c0, t0 = _cpu_ms(), time.perf_counter()
        window.seek(n)
        if not _wait(app, lambda: any(m == n for m, _ in shown), 30):
            return None
        cpu.append(_cpu_ms() - c0)
        return (next(t for m, t in shown if m == n) - t0) * 1000

    count = window.controller.frame_count
    rng = np.random.default_rng(1)
    picks = [int(n) for n in rng.permutation(np.arange(1, count))[:12]]
    uncached = [ms for ms in (seek_ms(n) for n in picks) if ms is not None]
    uncached_cpu, cpu[:] = list(cpu), []
    cached = [ms for ms in (seek_ms(n) for n in picks) if ms is not None]
    cached_cpu = list(cpu)
    _wait(app, lambda: False, 1.0)
    window.seek(0)
    _wait(app, lambda: False, 1.0)
    controller = window.controller
    shown_before, dropped_before = controller.shown, controller.dropped
    start = controller.position  # on screen already (repainted as playback starts): not a frame played
    shown.clear()
    c0, t0 = _cpu_ms(), time.perf_counter()
    controller.play()
    _wait(app, lambda: not controller.playing or time.perf_counter() - t0 > 3.0, 10)
    play_cpu = _cpu_ms() - c0
    controller.pause()
    first_drawn: dict[int, float] = {}
    for n, t in shown:
        if n != start:
            first_drawn.setdefault(n, t)
    played = sorted(first_drawn.values())
    # the rate frames came on screen, first to last: the 72-frame clip ends after 3 s, so frames shown ÷
    # 3 s could never reach the clip's rate (71 new frames in 3 s is 23.7 fps)
    rate = (len(played) - 1) / (played[-1] - played[0]) if len(played) > 1 and played[-1] > played[0] else 0.0
    eye = inner.eye_size() if hasattr(inner, "eye_size") and inner.frame is not None else None  # full size
    result = {"viewer_eye_size": list(eye) if eye else None,
              "scrub_uncached_ms": _median(uncached), "scrub_uncached_max_ms": round(max(uncached), 1),
              "scrub_uncached_cpu_ms": _median(uncached_cpu),
              "scrub_cached_ms": _median(cached), "scrub_cached_max_ms": round(max(cached), 1),
              "scrub_cached_cpu_ms": _median(cached_cpu),
              "playback_fps": round(rate, 1),
              "playback_frames_shown": len(played),
              "playback_cpu_ms_per_frame_shown": round(play_cpu / max(1, controller.shown - shown_before), 1),
              "playback_dropped": controller.dropped - dropped_before,
              "source_fps": float(controller.fps)}
    window.document.stack.setClean()
    window.shutdown()
    return result


def bench_startup(clip: Path) -> dict:
    """Fresh processes: window up (event loop running) and first frame, seconds after the spawn."""
    ready, first = [], []
    for _ in range(2):
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "studio.app", str(clip), "--exit-after-first-frame"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in proc.stdout:
            if line.startswith("window ready"):
                ready.append(time.perf_counter() - t0)
            elif line.startswith("first frame shown"):
                first.append(time.perf_counter() - t0)
        proc.wait(timeout=300)
    return {"window_ready_s": [round(v, 2) for v in ready], "first_frame_s": [round(v, 2) for v in first]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--skip", default="", help="comma-separated: redraw,window,startup")
    args = parser.parse_args()
    code = rerun_under_xvfb()
    if code is not None:
        return code
    os.environ.setdefault("QT_XCB_GL_INTEGRATION", "xcb_glx")
    skip = set(filter(None, args.skip.split(",")))
    from PySide6.QtGui import QSurfaceFormat
    from PySide6.QtWidgets import QApplication

    from bench.bench_ops import write_json_atomic
    from bench.bench_session import make_source
    from studio.viewer.gl_viewer import gl_format

    QSurfaceFormat.setDefaultFormat(gl_format())
    app = QApplication(sys.argv[:1])
    load = os.getloadavg()
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clip, what = make_source(tmp, 72)
        os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")  # a cold depth cache, analysed below
        if "redraw" not in skip:
            import numpy as np

            from engine import api

            with api.open_session(clip) as s:
                rgb, delta = s.frame(30), s.depth(30).delta
            figures["redraw"] = bench_redraw(app, rgb, np.ascontiguousarray(delta, np.float32), args.repeats)
        if "window" not in skip:
            figures["window"] = bench_window(app, clip, tmp)
        if "startup" not in skip:
            figures["startup"] = bench_startup(clip)
    result = {"benchmark": "studio", "source": what,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "gl": "Mesa llvmpipe under Xvfb" if "llvmpipe" in _gl_renderer() else _gl_renderer(),
                          "loadavg_at_start": [round(v, 2) for v in load],
                          "loadavg_at_end": [round(v, 2) for v in os.getloadavg()]},
              "figures": figures}
    write_json_atomic(args.json, result)
    import json

    print(json.dumps(result, indent=1))
    sys.stdout.flush()
    os._exit(0)  # PySide6's interpreter-exit teardown is skipped, as in tests/studio/conftest.py


def _gl_renderer() -> str:
    from PySide6.QtGui import QOffscreenSurface, QOpenGLContext

    context = QOpenGLContext()
    context.create()
    surface = QOffscreenSurface()
    surface.create()
    context.makeCurrent(surface)
    from OpenGL import GL

    name = GL.glGetString(GL.GL_RENDERER).decode()
    context.doneCurrent()
    return name


if __name__ == "__main__":
    sys.exit(main())
