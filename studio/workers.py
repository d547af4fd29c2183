"""The only thread code in the studio: engine calls run in a QThread, results cross by signals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine import api


class _Job(QObject):
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._fn = fn

    @Slot()
    def run(self) -> None:
        try:
            self.finished.emit(self._fn())
        except api.SpatialDreamerError as exc:
            self.failed.emit(exc.one_line())
        except Exception as exc:  # shown to the user as one line; never a traceback
            self.failed.emit(f"internal error: {type(exc).__name__}: {exc}")


class Worker(QObject):
    """Runs one engine call at a time off the GUI thread; a newer request supersedes a pending one.

    Signals:
        result(object): the return value of the last submitted call.
        error(str): its one-line error.
        busy(bool): whether a call is running.
    """

    result = Signal(object)
    error = Signal(str)
    busy = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._job: _Job | None = None
        self._pending: Callable[[], Any] | None = None

    def submit(self, fn: Callable[[], Any]) -> None:
        """Run `fn` in the worker thread; if one is running, `fn` replaces any call still waiting."""
        if self._thread is not None:
            self._pending = fn
            return
        self._start(fn)

    def _start(self, fn: Callable[[], Any]) -> None:
        thread, job = QThread(), _Job(fn)
        job.moveToThread(thread)
        thread.started.connect(job.run)
        job.finished.connect(self.result)
        job.failed.connect(self.error)
        job.finished.connect(thread.quit)
        job.failed.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._job = thread, job
        self.busy.emit(True)
        thread.start()

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is None or self.sender() is not self._thread:
            return  # already released by wait()
        self._release()
        pending, self._pending = self._pending, None
        if pending is not None:
            self._start(pending)
        else:
            self.busy.emit(False)

    def _release(self) -> None:
        self._thread.deleteLater()
        self._job.deleteLater()
        self._thread = self._job = None

    def is_running(self) -> bool:
        return self._thread is not None

    def wait(self, msecs: int = 30_000) -> bool:
        """Drop any waiting call and block until the running one ends (shutdown); True if none is left."""
        self._pending = None
        thread = self._thread
        if thread is None:
            return True
        if not thread.wait(msecs):
            return False
        self._release()
        self.busy.emit(False)
        return True
