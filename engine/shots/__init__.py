"""Shots: cut detection (PySceneDetect detectors on our reader), cut lists <-> projects, conforming edits.

A cut at source frame k is a boundary between frames k-1 and k; shots are half-open [start, end).
OTIO / EDL reading and writing (pure) lives in :mod:`engine.document.otio_io`.
"""

from engine.shots.conform import edl_to_project, otio_to_project
from engine.shots.detect import (
    DETECTORS,
    ShotDetectConfig,
    analysis_frame,
    detect_cuts,
    detect_shots,
)
from engine.shots.ranges import cuts_to_ranges, enforce_min_length, ranges_to_cuts, shots_to_project

__all__ = [
    "DETECTORS", "ShotDetectConfig", "analysis_frame", "cuts_to_ranges", "detect_cuts", "detect_shots",
    "edl_to_project", "enforce_min_length", "otio_to_project", "ranges_to_cuts", "shots_to_project",
]
