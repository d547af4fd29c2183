"""The studio's one-click suggestion: one shot's grade fitted to a screen, from the session's exact δ.

The inspector offers it for the current shot (undoable there as a document edit); it measures the
same δ the master uses — the session's per-shot normalisation and depth edits, then each frame's
depth curve — and replaces only the shot's divergence and convergence tracks (and, when asked, its
floating-window tracks), exactly as `qc --suggest` and `convert --auto-grade` do for every shot.
"""

from __future__ import annotations

from collections.abc import Generator

from engine.document import Shot
from engine.grading.qc import DeltaStats, delta_stats
from engine.grading.qc_screens import budget_for
from engine.grading.qc_suggest import Suggestion, shot_depth, suggest_grade
from engine.grading.render import curved_depth
from engine.jobs.frame import depth_to_tensor
from engine.jobs.qc_report import suggested_shot
from engine.progress import CancelToken, Progress


def shot_delta_stats(session, shot: Shot, cancel: CancelToken | None = None
                     ) -> Generator[Progress, None, list[DeltaStats]]:
    """δ' statistics of every frame of `shot` (analysing it first when the session has not yet)."""
    cancel = cancel or CancelToken()
    if not session.analysed(shot):
        yield from session.analyse(shot, cancel)
    stats = []
    for n in range(shot.start, shot.end):
        cancel.check()
        depth = session.depth(n, exact=True, cancel=cancel)
        if depth.is_disparity:
            raise ValueError("a shot graded from imported pixel disparity has no grade to suggest")
        curved = curved_depth(depth_to_tensor(depth.delta, "cpu"), session.params_at(n))[0, 0].numpy()
        stats.append(delta_stats(curved))
        yield Progress("qc", n - shot.start + 1, len(shot))
    return stats


def suggest_shot(session, shot_index: int, screen: str = "tv65", budget: tuple[float, float] | None = None,
                 windows: bool = True, cancel: CancelToken | None = None
                 ) -> Generator[Progress, None, tuple[Shot, Suggestion]]:
    """(the shot with its suggested grade, the suggestion) for shot `shot_index` of the session's clip.

    Raises UsageError for an unknown screen or a bad budget, IndexError for a shot that does not exist.
    """
    target = budget_for(screen, budget)
    shot = session.clip.shots[shot_index]
    stats = yield from shot_delta_stats(session, shot, cancel)
    suggestion = suggest_grade(shot_depth(stats), target)
    return suggested_shot(shot, shot.start, suggestion, windows), suggestion


__all__ = ["shot_delta_stats", "suggest_shot"]
