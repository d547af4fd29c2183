"""Progress reports and cooperative cancellation for long-running generators.

Every long job in the engine is a generator yielding :class:`Progress` and
checking a :class:`CancelToken` between frames (ARCHITECTURE.md rule 3).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from engine.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """One step of a long job.

    Attributes:
        stage: short machine-readable stage name ("depth", "render", "encode" ...).
        done: units finished in this stage.
        total: units in this stage (0 when unknown).
        message: optional human-readable note (warnings, notes for verbose output).
        preview: optional payload for a front end (e.g. a small RGB array).
    """

    stage: str
    done: int
    total: int
    message: str | None = None
    preview: Any = None

    @property
    def fraction(self) -> float:
        """done / total in [0, 1]; 0 when the total is unknown."""
        return min(1.0, self.done / self.total) if self.total else 0.0


class CancelToken:
    """Thread-safe cancellation flag shared between a front end and a job."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`engine.errors.Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled()
