"""The only thread code in the studio: engine calls and generator jobs off the UI thread.

A :class:`Lane` is one background QThread running submitted jobs one at a time, in order.
A job is any callable taking a :class:`JobContext`; when it returns a generator (every long
engine job is one, yielding ``Progress``), the lane drives it, forwards its progress
(throttled) and checks its cancel token between steps; the generator's return value is the
job's result. Results, progress and one-line errors cross to the UI thread by signals only.

Request ids: every submit returns a new id. With a ``key`` (e.g. ``"frame"``) a newer submit
supersedes the older ones with that key: those still waiting are dropped, the running one is
asked to cancel, and a result that still arrives from it is dropped as stale — so a scrub
never shows an old frame after a newer one was asked for.

No thread outlives its owner: a lane is closed (cancel, drop, join) when its parent is
destroyed or :meth:`Lane.close` is called; :func:`live_lanes` lists the ones still running
(the studio tests fail a test that leaves one behind).
"""

from __future__ import annotations

import inspect
import itertools
import queue
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from engine import api

PROGRESS_INTERVAL_S = 0.05
_ids = itertools.count(1)
_lanes: weakref.WeakSet[Lane] = weakref.WeakSet()


def one_line_error(exc: BaseException) -> str:
    """What a user sees for a failed job: the engine's one line, or the exception type and text."""
    if isinstance(exc, api.SpatialDreamerError):
        return exc.one_line()
    text = " ".join(str(exc).split()) or "no details"
    return f"internal error ({type(exc).__name__}: {text})"


@dataclass
class JobContext:
    """What a job receives: its request id, a cancel token and a progress callback."""

    request_id: int
    cancel: api.CancelToken = field(default_factory=api.CancelToken)
    report: Callable[[Any], None] = lambda progress: None

    def check(self) -> None:
        """Raise ``api.Cancelled`` if the job was cancelled."""
        self.cancel.check()


@dataclass
class _Task:
    fn: Callable[[JobContext], Any]
    context: JobContext
    key: str | None
    on_done: Callable[[Any], None] | None = None
    last_report: float = 0.0


class _Runner(QThread):
    """The lane's thread: pulls tasks from a queue until it gets None."""

    def __init__(self, run_task: Callable[[_Task], None]) -> None:
        super().__init__()
        self._run_task = run_task
        self.tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()

    def run(self) -> None:
        while (task := self.tasks.get()) is not None:
            self._run_task(task)


class Lane(QObject):
    """One background thread that runs jobs in submission order.

    Signals (all delivered on the UI thread):
        started(int): a job began (request id).
        progress(int, object): a Progress (or any object a job reports), at most every 50 ms per job.
        finished(int, object): the job's result (never for a superseded request).
        failed(int, str): the job raised; the one-line message.
        cancelled(int): the job was cancelled (and not superseded).
        idle(): nothing is running or waiting.
    """

    started = Signal(int)
    progress = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    idle = Signal()
    # (request id, outcome, (payload,)) from the thread; the payload rides in a tuple because PySide6
    # mishandles the refcount of a bare None sent through a queued connection (none_dealloc at exit).
    _done = Signal(int, str, object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._latest: dict[str, int] = {}
        self._state = _LaneState()
        self._active = self._state.active
        self._closed = False
        self._done.connect(self._deliver)
        self.destroyed.connect(self._state.stop)
        _lanes.add(self)

    # ---------------------------------------------------------------- submitting

    def submit(self, fn: Callable[[JobContext], Any], *, key: str | None = None,
               on_done: Callable[[Any], None] | None = None) -> int:
        """Queue `fn(context)`; returns its request id. A `key` supersedes older jobs with that key;
        `on_done(result)` runs on the UI thread when the job finishes (and is not superseded).
        A closed lane runs nothing and returns 0."""
        if self._closed:  # shutting down: late requests (signals still in flight) are dropped
            return 0
        request_id = next(_ids)
        context = JobContext(request_id, report=lambda p, rid=request_id: self._report(rid, p))
        if key is not None:
            self._supersede(key)
            self._latest[key] = request_id
        task = _Task(fn, context, key, on_done)
        self._active[request_id] = task
        self._ensure_runner().tasks.put(task)
        return request_id

    def _supersede(self, key: str) -> None:
        for task in self._active.values():
            if task.key == key:
                task.context.cancel.cancel()

    def cancel(self, request_id: int | None = None) -> None:
        """Cancel one job (it stops at its next check) or, with no id, every job."""
        for rid, task in list(self._active.items()):
            if request_id is None or rid == request_id:
                task.context.cancel.cancel()

    def is_busy(self) -> bool:
        """Whether a job is running or waiting."""
        return bool(self._active)

    def is_current(self, request_id: int, key: str) -> bool:
        """Whether `request_id` is the newest request with `key`."""
        return self._latest.get(key) == request_id

    def _ensure_runner(self) -> _Runner:
        state = self._state
        if state.runner is None:
            state.runner = _Runner(self._run_task)
            state.runner.setObjectName(f"lane-{self.objectName()}")
            state.runner.start()
        return state.runner

    # ---------------------------------------------------------------- the thread side

    def _report(self, request_id: int, payload: Any) -> None:
        task = self._active.get(request_id)
        if task is None:
            return
        now = time.monotonic()
        if now - task.last_report >= PROGRESS_INTERVAL_S or getattr(payload, "fraction", 0.0) >= 1.0:
            task.last_report = now
            self._done.emit(request_id, "progress", (payload,))

    def _run_task(self, task: _Task) -> None:
        ctx = task.context
        if ctx.cancel.cancelled:
            self._done.emit(ctx.request_id, "cancelled", ((),))
            return
        self._done.emit(ctx.request_id, "started", ((),))
        try:
            result = task.fn(ctx)
            if inspect.isgenerator(result):
                result = _drive(result, ctx)
        except api.Cancelled:
            self._done.emit(ctx.request_id, "cancelled", ((),))
        except Exception as exc:  # a job's failure is shown as one line; the traceback goes to the log
            self._done.emit(ctx.request_id, "failed", ((one_line_error(exc), traceback.format_exc()),))
        else:
            self._done.emit(ctx.request_id, "finished", (result,))

    # ---------------------------------------------------------------- back on the UI thread

    def _deliver(self, request_id: int, outcome: str, boxed: tuple) -> None:
        payload = boxed[0]
        task = self._active.get(request_id)
        if task is None:
            return
        stale = task.key is not None and self._latest.get(task.key) != request_id
        if outcome == "started":
            self.started.emit(request_id)
            return
        if outcome == "progress":
            if not stale:
                self.progress.emit(request_id, payload)
            return
        del self._active[request_id]
        if not stale:
            if outcome == "finished":
                if task.on_done is not None:
                    task.on_done(payload)
                self.finished.emit(request_id, payload)
            elif outcome == "failed":
                self.failed.emit(request_id, payload[0])
            else:
                self.cancelled.emit(request_id)
        if not self._active:
            self.idle.emit()

    # ---------------------------------------------------------------- shutdown

    def close(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything, stop the thread and wait for it; True when it has ended."""
        self._closed = True
        return self._state.stop(timeout_ms=timeout_ms)

    def is_running(self) -> bool:
        """Whether the lane's thread is alive."""
        return self._state.runner is not None and self._state.runner.isRunning()


def _drive(gen, ctx: JobContext) -> Any:
    """Run a Progress generator to its end, reporting each step and honouring cancellation."""
    try:
        while True:
            ctx.check()
            ctx.report(next(gen))
    except StopIteration as stop:
        return stop.value
    finally:
        gen.close()


class _LaneState:
    """A lane's thread and jobs, kept apart from the QObject so they can be stopped when it is destroyed."""

    def __init__(self) -> None:
        self.runner: _Runner | None = None
        self.active: dict[int, _Task] = {}

    def stop(self, *_: object, timeout_ms: int = 30_000) -> bool:
        """Cancel every job, end the thread and join it; True when no thread is left."""
        for task in self.active.values():
            task.context.cancel.cancel()
        runner = self.runner
        if runner is None:
            return True
        runner.tasks.put(None)
        if not runner.wait(timeout_ms):
            return False
        self.runner = None
        return True


def live_lanes() -> list[Lane]:
    """Lanes whose thread is still running (should be none once their owners are closed)."""
    return [lane for lane in list(_lanes) if lane.is_running()]
