"""The editor's document: projects, clips, shots, keyframe tracks, depth edits, render queue, time.

Pure Python (no torch/av). Edits are pure functions in :mod:`engine.document.edits`.
"""

from engine.document.grade import (
    DEFAULT_CONVERGENCE,
    DEFAULT_DIVERGENCE,
    GRADE_TRACKS,
    INTERPOLATIONS,
    TRACK_DEFAULTS,
    TRACK_LIMITS,
    DepthCurve,
    Grade,
    Keyframe,
    StereoParams,
    Track,
)
from engine.document.project import (
    JOB_STATES,
    STROKE_KINDS,
    WINDOW_EDGES,
    WINDOW_TRACKS,
    Clip,
    Project,
    RenderJob,
    RenderSettings,
    Shot,
    Stroke,
    WindowTrack,
)
from engine.document.schema import (
    PROJECT_SUFFIX,
    load_project,
    project_from_dict,
    project_to_dict,
    save_project,
)
from engine.document.timecode import TimeSpec, parse_time

__all__ = [
    "DEFAULT_CONVERGENCE", "DEFAULT_DIVERGENCE", "GRADE_TRACKS", "INTERPOLATIONS", "JOB_STATES",
    "PROJECT_SUFFIX", "STROKE_KINDS", "TRACK_DEFAULTS", "TRACK_LIMITS", "WINDOW_EDGES", "WINDOW_TRACKS",
    "Clip", "DepthCurve", "Grade", "Keyframe", "Project", "RenderJob", "RenderSettings", "Shot", "StereoParams",
    "Stroke", "TimeSpec", "Track", "WindowTrack", "load_project", "parse_time", "project_from_dict",
    "project_to_dict", "save_project",
]
