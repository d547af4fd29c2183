"""Runs the project's queued render jobs one at a time: api.convert with the Project, in a worker lane.

Job states live in the document (saved with the project, so the queue survives a restart); the
runner changes them outside the undo history (undoing an edit never "un-renders" a master).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine import api
from engine.document import edits
from studio.workers import Lane


def job_request(project, job) -> api.ConvertRequest:
    """The ConvertRequest that renders `job` of `project` (its clip, range and output settings)."""
    s = job.settings
    return api.ConvertRequest(
        input=None, output=Path(job.output), project=project, clip=job.clip, layout=s.layout,
        synthesize=s.synthesize, temporal=s.temporal, swap_eyes=s.swap_eyes, max_width=s.max_width,
        encode=api.EncodeSettings(codec=s.codec, bit_depth=s.bit_depth, crf=s.crf, preset=s.preset),
        start=f"{job.start}f", end=f"{job.end}f", overwrite=True,
        refiner=api.RefinerSpec(s.refiner, steps=s.refiner_steps, seed=s.refiner_seed, blend=s.refiner_blend)
        if s.refiner else None)


class QueueRunner(QObject):
    """Signals:
        job_progress(str, float, float): job id, fraction done, seconds left (-1 unknown).
        job_finished(str, str, str): job id, state (done / failed / cancelled), message.
    """

    job_progress = Signal(str, float, float)
    job_finished = Signal(str, str, str)

    def __init__(self, document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.lane = Lane("render", self)
        self.lane.progress.connect(self._progress)
        self.lane.finished.connect(lambda rid, _r: self._ended(rid, "done", ""))
        self.lane.failed.connect(lambda rid, message: self._ended(rid, "failed", message))
        self.lane.cancelled.connect(lambda rid: self._ended(rid, "cancelled", "cancelled"))
        self.running: tuple[int, str, float] | None = None  # (request id, job id, started)
        self.active = False

    def start(self) -> None:
        """Run queued jobs until none is left."""
        self.active = True
        self._next()

    def _next(self) -> None:
        project = self.document.project
        if not self.active or self.running is not None or project is None:
            return
        job = edits.next_queued(project)
        if job is None:
            self.active = False
            return
        request = job_request(project, job)
        self.document.set_job_state(job.id, "running", "")

        def run(ctx):
            yield from api.convert(request, ctx.cancel)

        self.running = (self.lane.submit(run), job.id, time.monotonic())

    def cancel(self, job_id: str | None = None) -> None:
        """Cancel the running job (the partial master is removed by the engine), and stop the queue."""
        if self.running is not None and (job_id is None or job_id == self.running[1]):
            self.active = False
            self.lane.cancel(self.running[0])

    def _progress(self, rid: int, p) -> None:
        if self.running is None or rid != self.running[0] or not isinstance(p, api.Progress) or not p.total:
            return
        if p.stage not in ("render", "encode", "depth", "analyse"):
            return
        frac = p.fraction
        elapsed = time.monotonic() - self.running[2]
        eta = elapsed / frac - elapsed if frac > 0.02 else -1.0
        self.job_progress.emit(self.running[1], frac, eta)

    def _ended(self, rid: int, state: str, message: str) -> None:
        if self.running is None or rid != self.running[0]:
            return
        job_id = self.running[1]
        self.running = None
        self.document.set_job_state(job_id, state, message)
        self.job_finished.emit(job_id, state, message)
        if state == "done":
            self._next()
        else:
            self.active = False

    def close(self) -> None:
        self.active = False
        self.lane.close()
