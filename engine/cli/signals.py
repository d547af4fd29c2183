"""Ctrl-C, SIGTERM and SIGHUP as clean cancels (CONVENTIONS.md exit codes 130, 143, 129).

Installed by :func:`engine.cli.main` before anything heavy is imported, so a signal while torch
loads ends with one line, not a traceback. While a job runs (:meth:`SignalGuard.watching`), the
first signal asks it to stop between frames (it removes its partial output and raises Cancelled);
a second one, or any signal outside a job, raises :class:`Interrupted` at once, which every
writer's cleanup (``except BaseException``) also honours.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from engine.api import CancelToken

SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)
NAMES = {signal.SIGINT: "Ctrl-C", getattr(signal, "SIGTERM", -1): "SIGTERM", getattr(signal, "SIGHUP", -2): "SIGHUP"}


def exit_code_for(signum: int) -> int:
    """128 + the signal number: 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP), as shells report them."""
    return 128 + int(signum)


class Interrupted(BaseException):
    """A signal arrived outside a cancellable job (or twice): stop now.

    A BaseException, like KeyboardInterrupt, so `except Exception` blocks do not swallow it.
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        self.exit_code = exit_code_for(signum)
        super().__init__(NAMES.get(self.signum, f"signal {self.signum}"))


class SignalGuard:
    """The process's handler for SIGINT, SIGTERM and SIGHUP (main thread only).

    Attributes:
        signum: the first signal received since :meth:`install`, or None.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._token: CancelToken | None = None
        self._previous: dict[int, object] = {}
        self._depth = 0

    def __call__(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum
        token = self._token
        if token is not None and not token.cancelled:
            token.cancel()
            return
        raise Interrupted(signum)

    @property
    def exit_code(self) -> int:
        """The exit status a cancelled job ends with: by the first signal, 130 when there was none."""
        return exit_code_for(self.signum if self.signum is not None else signal.SIGINT)

    def install(self) -> None:
        """Take over the three signals (nested calls count; only the main thread can)."""
        if threading.current_thread() is not threading.main_thread():
            return
        if self._depth == 0:
            self.signum = None
            self._previous = {s: signal.signal(s, self) for s in SIGNALS}
        self._depth += 1

    def restore(self) -> None:
        """Undo the matching :meth:`install`; the last one puts the previous handlers back."""
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth == 0:
            for s, handler in self._previous.items():
                signal.signal(s, handler)
            self._previous = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[SignalGuard]:
        self.install()
        try:
            yield self
        finally:
            self.restore()

    @contextlib.contextmanager
    def watching(self, token: CancelToken) -> Iterator[CancelToken]:
        """While a job runs: the first signal cancels `token` instead of raising."""
        self.install()
        previous, self._token = self._token, token
        try:
            yield token
        finally:
            self._token = previous
            self.restore()


GUARD = SignalGuard()
"""The one guard of this process (signal handlers are per process)."""
