"""Progress output for the CLI: a bar with fps and ETA, JSON lines, or nothing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Generator
from typing import TextIO, TypeVar

from engine.api import CancelToken, Progress
from engine.cli.signals import GUARD

T = TypeVar("T")


def format_eta(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressPrinter:
    """Render a stream of Progress as `mode` ('bar' | 'json' | 'none') on `stream`.

    The bar redraws in place on a terminal (at most 10 times a second) and
    prints a plain line every 10 % elsewhere (logs, CI). Notes always print
    unless quiet.
    """

    def __init__(self, mode: str = "bar", stream: TextIO | None = None, quiet: bool = False) -> None:
        self.mode, self.quiet = mode, quiet
        self.stream = stream or sys.stderr
        self._tty = self.stream.isatty()
        self._stage: str | None = None
        self._stage_t0 = 0.0
        self._last_draw = 0.0
        self._first_done = 0
        self._last_decile = -1

    def __call__(self, p: Progress) -> None:
        if self.mode == "json":
            payload = {"stage": p.stage, "done": p.done, "total": p.total}
            if p.message:
                payload["message"] = p.message
            print(json.dumps(payload), file=sys.stdout, flush=True)
            return
        if p.stage == "note":
            if not self.quiet:
                self._newline()
                print(f"note: {p.message}", file=self.stream, flush=True)
            return
        if self.mode == "none" or self.quiet:
            return
        self._bar(p)

    def _newline(self) -> None:
        if self._tty and self._stage is not None:
            print(file=self.stream)

    def _bar(self, p: Progress) -> None:
        now = time.monotonic()
        if p.stage != self._stage:
            self._newline()
            self._stage, self._stage_t0, self._first_done, self._last_decile = p.stage, now, p.done, -1
        elapsed = now - self._stage_t0
        fps = (p.done - self._first_done) / elapsed if elapsed > 0 else 0.0
        eta = (p.total - p.done) / fps if fps > 0 and p.total else 0.0
        rate = f"{fps:6.2f} fps  ETA {format_eta(eta)}" if fps > 0 else "  --.-- fps  ETA -:--:--"
        line = f"{p.stage:<7} {p.done:>6}/{p.total:<6} {100 * p.fraction:5.1f}%  {rate}"
        finished = p.total and p.done >= p.total
        if self._tty:
            if finished or now - self._last_draw >= 0.1:
                width = 28
                filled = int(width * p.fraction)
                print(f"\r[{'#' * filled}{'.' * (width - filled)}] {line}", end="", file=self.stream, flush=True)
                self._last_draw = now
            return
        decile = int(10 * p.fraction)
        if decile != self._last_decile or finished:
            self._last_decile = decile
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._tty and self._stage is not None and self.mode == "bar" and not self.quiet:
            print(file=self.stream, flush=True)


def run_job(start: Callable[[CancelToken], Generator[Progress, None, T]], mode: str = "bar",
            quiet: bool = False) -> T:
    """Drive a long engine job from the CLI: progress output, Ctrl-C/SIGTERM/SIGHUP, its return value.

    The first signal asks the job to stop between frames (it raises Cancelled after removing partial
    output; the CLI exits 130, 143 or 129 by the signal); a second one aborts at once
    (:class:`engine.cli.signals.Interrupted`).

    Args:
        start: called with the CancelToken, returns the job's Progress generator.
    Returns:
        the generator's return value (StopIteration.value).
    """
    printer = ProgressPrinter(mode, quiet=quiet)
    with GUARD.watching(CancelToken()) as token:
        job = start(token)
        try:
            while True:
                printer(next(job))
        except StopIteration as stop:
            return stop.value
        finally:
            job.close()  # a job left at a yield (a signal in the printer) cleans up now, not at GC
            printer.close()
