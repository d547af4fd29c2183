"""The QC report: measured frames judged against a budget, suggestions, verdict (QcReport.1 JSON).

:func:`build_report` turns what the QC job measured (:class:`Measured`) into a
:class:`QcReport`: per-frame verdicts, a per-shot table (parallax in % / px / mm / degrees,
windows, suggestions), depth jumps across cuts, master checks, and the pass/fail verdict
with exit code 6 when a limit is broken (CONVENTIONS.md). Window violations fail only with
``fail_on_windows``; vertical disparity, colour mismatch and depth jumps warn.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from engine.document import Keyframe, Project, Shot, Track, WindowTrack
from engine.document.project import WINDOW_MAX_PCT
from engine.fileio import atomic_write_json
from engine.grading.qc import DeltaStats, ParallaxStats
from engine.grading.qc_check import ShotCheck, check_shot, depth_jumps, frame_states
from engine.grading.qc_screens import Budget
from engine.grading.qc_suggest import Suggestion, shot_depth, smooth_convergence, suggest_grade

QC_SCHEMA = "QcReport.1"
EXIT_LIMITS_BROKEN = 6
MIN_MATCHED = 0.25  # a master whose eyes match on fewer pixels than this is not a stereo pair
VERTICAL_WARN_PCT = 0.2  # % of the eye height
COLOUR_WARN_DE = 3.0  # CIE76 ΔE between the eyes' mean colours
JUMP_WARN_FRACTION = 0.5  # a depth jump wider than half the budget's span


@dataclass(frozen=True, eq=False)
class Thumbnail:
    """One worst frame: (h, w, 3) uint8 image and (h', w') float32 parallax map (% of width; NaN unknown)."""

    frame: int
    excess: float
    image: np.ndarray
    parallax: np.ndarray


@dataclass
class ShotFrames:
    """One shot's frames [start, end), its δ statistics (None for a master / pixel disparity) and histogram."""

    start: int
    end: int
    deltas: list[DeltaStats] | None
    histogram: np.ndarray | None


@dataclass(frozen=True)
class MasterChecks:
    """What only a master's pixels tell: eye order, how well the eyes match, vertical and colour mismatch."""

    layout: str
    swap_eyes: bool
    eye_order: str
    eye_order_votes: tuple[int, int]
    matched_fraction: float
    vertical_pct: float
    colour_delta_e: float
    analysis_width: int


@dataclass
class Measured:
    """Everything the QC job measured, before judging."""

    mode: str
    fps: Fraction
    eye_size: tuple[int, int] | None
    frames: list[ParallaxStats]
    shots: list[ShotFrames]
    thumbnails: list[Thumbnail]
    master: MasterChecks | None = None
    notes: list[str] = field(default_factory=list)


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


@dataclass
class ShotRow:
    """A row of the per-shot table."""

    check: ShotCheck
    suggestion: Suggestion | None
    histogram: np.ndarray | None

    def to_dict(self, budget: Budget, eye_width: int) -> dict[str, Any]:
        c, screen = self.check, budget.screen
        row = {k: (_finite(v) if isinstance(v, float) else v) for k, v in asdict(c).items()}
        row.update(passes=c.passes, window_violation=c.window_violation,
                   p01_px=_finite(c.p01 / 100 * eye_width), p99_px=_finite(c.p99 / 100 * eye_width),
                   p01_mm=_finite(screen.pct_to_mm(c.p01)), p99_mm=_finite(screen.pct_to_mm(c.p99)),
                   p01_deg=_finite(screen.vergence_deg(c.p01)) if math.isfinite(c.p01) else None,
                   p99_deg=_finite(screen.vergence_deg(c.p99)) if math.isfinite(c.p99) else None)
        if self.suggestion is not None:
            s = self.suggestion
            row["suggestion"] = {**asdict(s), "budget_used": s.budget_used(budget)}
        return row


@dataclass
class QcReport:
    """The judged check. `exit_code` is 0 when it passes, 6 when a limit is broken."""

    input: str
    mode: str
    budget: Budget
    fps: Fraction
    eye_size: tuple[int, int] | None
    frames: list[ParallaxStats]
    states: list[str]
    shots: list[ShotRow]
    jumps: list
    master: MasterChecks | None
    failures: list[str]
    warnings: list[str]
    notes: list[str]
    thumbnails: list[Thumbnail]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else EXIT_LIMITS_BROKEN

    def suggested_project(self, project: Project | None = None, media: str | None = None,
                          windows: bool = True, clip: str | None = None) -> Project:
        """A one-clip project whose shots carry the suggested D and c (and floating windows).

        Args:
            project: the checked project: its shots keep their names, depth curves, strokes and
                other tracks; only divergence, convergence (and, with `windows`, the window
                tracks) are replaced. None = new shots from the checked source's shot ranges.
            media: the clip's media path (default: the project's, else the checked input).
            windows: also set the suggested floating windows (0 = no track on that edge).
            clip: which clip of `project` was checked (None = its only clip).
        """
        if any(row.suggestion is None for row in self.shots):
            raise ValueError("suggestions exist only for a source or a project, not for a master")
        clip = project.clip(clip) if project is not None else None
        shots = []
        for row in self.shots:
            base = clip.shot_at(row.check.start) if clip is not None else Shot(row.check.start, row.check.end)
            if base is not None:  # a gap between the project's shots stays ungraded
                shots.append(suggested_shot(base, row.check.start, row.suggestion, windows))
        media = media or (clip.media if clip is not None else self.input)
        frame_count = clip.frame_count if clip is not None else len(self.frames)
        return Project.single(media, Fraction(self.fps), frame_count, tuple(shots),
                              name=project.name if project is not None else "",
                              clip_name=clip.name if clip is not None else "")

    def to_dict(self) -> dict[str, Any]:
        width = self.eye_size[0] if self.eye_size else 0
        b = self.budget
        return {
            "schema": QC_SCHEMA, "input": self.input, "mode": self.mode, "passed": self.passed,
            "exit_code": self.exit_code,
            "screen": {"name": b.screen.name, "width_m": b.screen.width_m, "distance_m": b.screen.distance_m,
                       "divergence_limit_pct": b.screen.divergence_limit_pct()},
            "budget": {"low": b.low, "high": b.high, "excursion": list(b.excursion) if b.excursion else None},
            "fps": str(self.fps), "eye_size": list(self.eye_size) if self.eye_size else None,
            "failures": self.failures, "warnings": self.warnings, "notes": self.notes,
            "shots": [row.to_dict(b, width) for row in self.shots],
            "depth_jumps": [{"cut": j.cut, "before": _finite(j.before), "after": _finite(j.after),
                             "jump": _finite(j.jump)} for j in self.jumps],
            "master": None if self.master is None else {
                k: (_finite(v) if isinstance(v, float) else v) for k, v in asdict(self.master).items()},
            "frames": [{"frame": i, "state": st, **{k: _finite(v) for k, v in asdict(s).items()}}
                       for i, (s, st) in enumerate(zip(self.frames, self.states, strict=True))],
        }

    def write_json(self, path: Path) -> None:
        atomic_write_json(path, self.to_dict())


def suggested_shot(base: Shot, frame: int, s: Suggestion, windows: bool = True) -> Shot:
    """`base` with its divergence and convergence tracks replaced by the suggestion's values keyed at `frame`.

    Its name, depth curve, strokes and other tracks are kept; with `windows` its floating-window tracks
    become the suggested ones (an edge that needs none gets no track).
    """
    grade = (base.grade.with_track("divergence", Track((Keyframe(frame, s.divergence),)))
             .with_track("convergence", Track((Keyframe(frame, s.convergence),))))
    tracks = base.windows
    if windows:
        tracks = tuple(WindowTrack(edge, Track((Keyframe(frame, min(w, WINDOW_MAX_PCT)),)))
                       for edge, w in (("left", s.window_left), ("right", s.window_right)) if w > 0)
    return replace(base, grade=grade, windows=tracks)


def _suggestions(measured: Measured, budget: Budget, smooth: bool) -> list[Suggestion | None]:
    if any(s.deltas is None for s in measured.shots):
        return [None] * len(measured.shots)
    depths = [shot_depth(s.deltas) for s in measured.shots]
    return smooth_convergence(depths, budget) if smooth else [suggest_grade(d, budget) for d in depths]


def _master_verdict(m: MasterChecks, failures: list[str], warnings: list[str]) -> None:
    if m.matched_fraction < MIN_MATCHED:
        failures.append(f"the two eyes do not match as a stereo pair (only {m.matched_fraction:.0%} of pixels "
                        f"match consistently): is this a mono file, or is --layout {m.layout} wrong?")
    elif m.eye_order == "swapped":
        a, b = m.eye_order_votes
        failures.append(f"eyes are swapped: {b} of {a + b} occlusion edges show the right eye's view on the left "
                        "(re-export with the eyes exchanged, or pass --swap-eyes to check it that way)")
    if math.isfinite(m.vertical_pct) and abs(m.vertical_pct) > VERTICAL_WARN_PCT:
        warnings.append(f"vertical disparity between the eyes: {m.vertical_pct:+.2f} % of the height "
                        f"(more than {VERTICAL_WARN_PCT} % strains the eyes)")
    if math.isfinite(m.colour_delta_e) and m.colour_delta_e > COLOUR_WARN_DE:
        warnings.append(f"colour mismatch between the eyes: ΔE {m.colour_delta_e:.1f} (more than {COLOUR_WARN_DE})")


def _shot_verdicts(rows: list[ShotRow], budget: Budget, fail_on_windows: bool,
                   failures: list[str], warnings: list[str]) -> None:
    for i, row in enumerate(rows, 1):
        c = row.check
        where = f"shot {i} (frames {c.start}-{c.end - 1})"
        if c.frames_diverging:
            failures.append(f"{where}: {c.frames_diverging} frames diverge (positive parallax wider than 65 mm on "
                            f"the {budget.screen.name} screen, p99 up to {c.p99:.2f} %)")
        if c.frames_over:
            failures.append(f"{where}: {c.frames_over} frames outside the budget {budget.low:g} .. {budget.high:g} % "
                            f"(p01 {c.p01:.2f} %, p99 {c.p99:.2f} %)")
        if c.window_violation:
            text = (f"{where}: window violation (needs a floating window of {c.window_left:.2f} % left, "
                    f"{c.window_right:.2f} % right)")
            (failures if fail_on_windows else warnings).append(text)


def build_report(input_path: Path, measured: Measured, budget: Budget, fail_on_windows: bool = False,
                 smooth: bool = False) -> QcReport:
    """Judge `measured` against `budget`."""
    rows, states, per_shot = [], [], []
    suggestions = _suggestions(measured, budget, smooth)
    for shot, suggestion in zip(measured.shots, suggestions, strict=True):
        stats = measured.frames[shot.start : shot.end]
        states += frame_states(stats, budget, measured.fps)
        rows.append(ShotRow(check_shot(stats, shot.start, budget, measured.fps), suggestion, shot.histogram))
        per_shot.append((shot.start, stats))
    failures: list[str] = []
    warnings: list[str] = []
    if measured.master is not None:
        _master_verdict(measured.master, failures, warnings)
    _shot_verdicts(rows, budget, fail_on_windows, failures, warnings)
    jumps = depth_jumps(per_shot)
    for j in jumps:
        if math.isfinite(j.jump) and abs(j.jump) > JUMP_WARN_FRACTION * budget.span:
            warnings.append(f"depth jump of {j.jump:+.2f} % of width at the cut at frame {j.cut}")
    return QcReport(str(input_path), measured.mode, budget, measured.fps, measured.eye_size, measured.frames,
                    states, rows, jumps, measured.master, failures, warnings, list(measured.notes),
                    measured.thumbnails)


__all__ = ["EXIT_LIMITS_BROKEN", "QC_SCHEMA", "MasterChecks", "Measured", "QcReport", "ShotFrames", "ShotRow",
           "Thumbnail", "build_report", "suggested_shot"]
