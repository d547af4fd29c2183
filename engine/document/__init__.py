"""The editor's document: projects, shots, keyframed stereo grades, time. Pure Python (no torch/av)."""

from engine.document.grade import (
    DEFAULT_CONVERGENCE,
    DEFAULT_DIVERGENCE,
    Grade,
    Keyframe,
    StereoParams,
)
from engine.document.project import Project, Shot
from engine.document.schema import load_project, project_from_dict, project_to_dict, save_project
from engine.document.timecode import TimeSpec, parse_time

__all__ = [
    "DEFAULT_CONVERGENCE", "DEFAULT_DIVERGENCE", "Grade", "Keyframe", "Project", "Shot", "StereoParams",
    "TimeSpec", "load_project", "parse_time", "project_from_dict", "project_to_dict", "save_project",
]
