"""Versioned JSON for projects: ``{"schema": "Project.<n>", ...}`` with registered upgrades.

Loading upgrades older documents step by step (``Project.0 -> Project.1`` …)
through functions registered with :func:`upgrade`; an unknown or newer schema
is a clear :class:`engine.errors.InvalidProject`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from engine.document.grade import Grade, Keyframe, StereoParams
from engine.document.project import Project, Shot
from engine.errors import InvalidProject
from engine.fileio import atomic_write_json

PROJECT_SCHEMA = "Project"
PROJECT_VERSION = 1

_UPGRADES: dict[tuple[str, int], Callable[[dict], dict]] = {}


def upgrade(name: str, from_version: int) -> Callable[[Callable[[dict], dict]], Callable[[dict], dict]]:
    """Register a function that turns a `name.<from_version>` dict into `name.<from_version + 1>`."""

    def register(fn: Callable[[dict], dict]) -> Callable[[dict], dict]:
        _UPGRADES[(name, from_version)] = fn
        return fn

    return register


def parse_schema(tag: Any, *, path: str | None = None) -> tuple[str, int]:
    """'Project.1' -> ('Project', 1); InvalidProject for anything else."""
    name, _, version = str(tag).rpartition(".")
    if not name or not version.isdigit():
        raise InvalidProject(f"schema tag {tag!r} is not of the form Name.<version>", path=path)
    return name, int(version)


def upgrade_to_current(data: dict, name: str, current: int, *, path: str | None = None) -> dict:
    """Apply registered upgrades until `data` is at `name.<current>`."""
    found, version = parse_schema(data.get("schema"), path=path)
    if found != name:
        raise InvalidProject(f"this is a {found} file, not a {name} file", path=path)
    if version > current:
        raise InvalidProject(f"schema {found}.{version} is newer than this version understands ({name}.{current})",
                             path=path, hint="Update SpatialDreamer Studio to open it")
    while version < current:
        step = _UPGRADES.get((name, version))
        if step is None:
            raise InvalidProject(f"no upgrade from {name}.{version}", path=path)
        data = step(dict(data))
        version += 1
        data["schema"] = f"{name}.{version}"
    return data


@upgrade(PROJECT_SCHEMA, 0)
def _project_0_to_1(data: dict) -> dict:
    """Project.0 stored one flat 'stereo' block instead of per-shot grades."""
    stereo = data.pop("stereo", {})
    key = {"frame": 0, "divergence": stereo.get("divergence", 3.0),
           "convergence": stereo.get("convergence", 1 / 3), "interpolation": "linear"}
    data["shots"] = [{**s, "keyframes": [dict(key, frame=s["start"])]} for s in data.get("shots", [])]
    return data


def _keyframe_to_dict(k: Keyframe) -> dict:
    return {"frame": k.frame, "divergence": k.params.divergence, "convergence": k.params.convergence,
            "interpolation": k.interpolation}


def _shot_to_dict(s: Shot) -> dict:
    return {"start": s.start, "end": s.end, "name": s.name,
            "keyframes": [_keyframe_to_dict(k) for k in s.grade.keyframes]}


def project_to_dict(project: Project) -> dict:
    """JSON-ready dict at the current schema."""
    return {
        "schema": f"{PROJECT_SCHEMA}.{PROJECT_VERSION}",
        "name": project.name,
        "media": project.media,
        "fps": f"{project.fps.numerator}/{project.fps.denominator}",
        "frame_count": project.frame_count,
        "shots": [_shot_to_dict(s) for s in project.shots],
    }


def project_from_dict(data: dict, *, path: str | None = None) -> Project:
    """Inverse of :func:`project_to_dict`, upgrading older schemas; InvalidProject on bad content."""
    data = upgrade_to_current(data, PROJECT_SCHEMA, PROJECT_VERSION, path=path)
    try:
        shots = tuple(
            Shot(int(s["start"]), int(s["end"]), name=str(s.get("name", "")), grade=Grade(tuple(
                Keyframe(int(k["frame"]), StereoParams(float(k["divergence"]), float(k["convergence"])),
                         str(k.get("interpolation", "linear")))
                for k in s["keyframes"])))
            for s in data["shots"])
        return Project(media=str(data["media"]), fps=Fraction(str(data["fps"])),
                       frame_count=int(data["frame_count"]), shots=shots, name=str(data.get("name", "")))
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise InvalidProject(f"project content is invalid ({type(exc).__name__}: {exc})", path=path) from exc


def save_project(project: Project, path: str | Path) -> None:
    """Write `project` atomically as JSON."""
    atomic_write_json(path, project_to_dict(project))


def load_project(path: str | Path) -> Project:
    """Read a project file, upgrading it to the current schema."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidProject("project file not found", path=path) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidProject(f"not a readable project file ({exc})", path=path) from exc
    if not isinstance(data, dict):
        raise InvalidProject("project file does not hold a JSON object", path=path)
    return project_from_dict(data, path=str(path))
