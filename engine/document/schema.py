"""Versioned JSON for projects (``.sdproj``): ``{"schema": "Project.2", ...}`` with registered upgrades.

Loading upgrades older documents step by step (``Project.0 -> 1 -> 2``) through the registry in
:mod:`engine.versioning`; a newer schema, another format or malformed content is a clear
:class:`engine.errors.InvalidProject` naming the file. Saving is atomic (temp file + rename): a
failure leaves the previous file intact. Media and output paths are stored relative to the project
file's folder when they can be (plus the absolute path as a relink hint) and come back absolute.
The format is documented in docs/project_format.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields, replace
from fractions import Fraction
from pathlib import Path, PurePath
from typing import Any

from engine.document.grade import GRADE_TRACKS, Grade, Keyframe, Track
from engine.document.project import Clip, Project, RenderJob, RenderSettings, Shot, Stroke, WindowTrack
from engine.errors import InvalidProject
from engine.fileio import atomic_write_json
from engine.versioning import parse_schema, schema_tag, upgrade, upgrade_to_current

PROJECT_SCHEMA = "Project"
PROJECT_VERSION = 2
PROJECT_SUFFIX = ".sdproj"
#: What a content error can raise while a dict is turned into dataclasses (all become InvalidProject).
CONTENT_ERRORS = (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError, OverflowError,
                  IndexError, RecursionError)

__all__ = ["PROJECT_SCHEMA", "PROJECT_VERSION", "load_project", "parse_schema", "project_from_dict",
           "project_to_dict", "save_project", "shot_from_dict", "shot_to_dict", "upgrade",
           "upgrade_to_current"]


# ---------------------------------------------------------------- upgrades


@upgrade(PROJECT_SCHEMA, 0)
def _project_0_to_1(data: dict) -> dict:
    """Project.0 stored one flat 'stereo' block instead of per-shot grades."""
    stereo = data.pop("stereo", {})
    key = {"frame": 0, "divergence": stereo.get("divergence", 3.0),
           "convergence": stereo.get("convergence", 1 / 3), "interpolation": "linear"}
    data["shots"] = [{**s, "keyframes": [dict(key, frame=s["start"])]} for s in data.get("shots", [])]
    return data


def tracks_from_v1(keyframes: list) -> dict:
    """Project.1 / OtioShot.1 keyframes ({frame, divergence, convergence, interpolation}) -> Project.2 tracks."""
    tracks: dict[str, list] = {name: [] for name in GRADE_TRACKS}
    for k in keyframes:
        for name in ("divergence", "convergence"):
            tracks[name].append({"frame": k["frame"], "value": k[name],
                                 "interpolation": k.get("interpolation", "linear")})
    return tracks


@upgrade(PROJECT_SCHEMA, 1)
def _project_1_to_2(data: dict) -> dict:
    """Project.1 held one media file: it becomes clip ``c1``; per-parameter tracks; empty edits and queue."""
    shots = [{"start": s["start"], "end": s["end"], "name": s.get("name", ""),
              "tracks": tracks_from_v1(s["keyframes"]), "strokes": [], "windows": []} for s in data["shots"]]
    clip = {"id": "c1", "name": "", "media": data["media"], "fps": data["fps"],
            "frame_count": data["frame_count"], "shots": shots}
    return {"schema": data["schema"], "name": data.get("name", ""), "clips": [clip], "render": {}, "queue": []}


# ---------------------------------------------------------------- strict readers


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    return value


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number, got {value!r}")
    return float(value)


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {value!r}")
    return value


def _list(value: Any, what: str) -> list:
    if not isinstance(value, list):
        raise TypeError(f"{what} must be a list, got {type(value).__name__}")
    return value


def _dict(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be an object, got {type(value).__name__}")
    return value


def _fps(value: Any) -> Fraction:
    fps = Fraction(_str(value, "fps")) if not isinstance(value, int) or isinstance(value, bool) else Fraction(value)
    if fps <= 0 or fps > 10_000:
        raise ValueError(f"fps {value!r} is not a frame rate")
    return fps


# ---------------------------------------------------------------- tracks, strokes, windows, shots


def _track_to_list(track: Track) -> list:
    return [{"frame": k.frame, "value": k.value, "interpolation": k.interpolation} for k in track.keyframes]


def _track_from_list(items: Any, what: str) -> Track:
    return Track(tuple(Keyframe(_int(_dict(k, what)["frame"], f"{what} frame"), _num(k["value"], f"{what} value"),
                                _str(k.get("interpolation", "linear"), f"{what} interpolation"))
                       for k in _list(items, what)))


def _stroke_to_dict(s: Stroke) -> dict:
    return {"id": s.id, "kind": s.kind, "frame": s.frame, "points": [list(p) for p in s.points],
            "radius": s.radius, "softness": s.softness, "amount": s.amount, "value": s.value,
            "edge_aware": s.edge_aware, "visible": s.visible, **({"matte": s.matte} if s.matte else {})}


def _point(value: Any) -> tuple[float, float]:
    if len(_list(value, "stroke point")) != 2:
        raise ValueError(f"a stroke point is [x, y], got {value!r}")
    return _num(value[0], "stroke point x"), _num(value[1], "stroke point y")


def _stroke_from_dict(d: Any) -> Stroke:
    d = _dict(d, "stroke")
    points = tuple(_point(p) for p in _list(d["points"], "stroke points"))
    edge_aware, visible = d.get("edge_aware", False), d.get("visible", True)
    for name, flag in (("edge_aware", edge_aware), ("visible", visible)):
        if not isinstance(flag, bool):
            raise TypeError(f"stroke {name} must be true or false, got {flag!r}")
    return Stroke(_str(d["id"], "stroke id"), _str(d["kind"], "stroke kind"), _int(d["frame"], "stroke frame"),
                  points, _num(d["radius"], "stroke radius"), _num(d.get("softness", 0.0), "stroke softness"),
                  _num(d.get("amount", 1.0), "stroke amount"), _num(d.get("value", 0.0), "stroke value"),
                  edge_aware, visible, _str(d.get("matte", ""), "stroke matte"))


def shot_to_dict(s: Shot) -> dict:
    """A shot as JSON (shared by .sdproj and our OTIO clip metadata)."""
    return {"start": s.start, "end": s.end, "name": s.name,
            "tracks": {name: _track_to_list(s.grade.track(name)) for name in GRADE_TRACKS},
            "strokes": [_stroke_to_dict(k) for k in s.strokes],
            "windows": [{"edge": w.edge, "keyframes": _track_to_list(w.track)} for w in s.windows]}


def shot_from_dict(d: Any) -> Shot:
    """Inverse of :func:`shot_to_dict` (raises the CONTENT_ERRORS on bad content)."""
    d = _dict(d, "shot")
    tracks = _dict(d.get("tracks", {}), "shot tracks")
    unknown = set(tracks) - set(GRADE_TRACKS)
    if unknown:
        raise ValueError(f"unknown grade tracks {sorted(unknown)}")
    grade = Grade(**{name: _track_from_list(tracks.get(name, []), f"{name} keyframe") for name in GRADE_TRACKS})
    windows = tuple(WindowTrack(_str(_dict(w, "window")["edge"], "window edge"),
                                _track_from_list(w.get("keyframes", []), "window keyframe"))
                    for w in _list(d.get("windows", []), "windows"))
    strokes = tuple(_stroke_from_dict(s) for s in _list(d.get("strokes", []), "strokes"))
    return Shot(_int(d["start"], "shot start"), _int(d["end"], "shot end"), grade,
                _str(d.get("name", ""), "shot name"), strokes, windows)


def rehome_strokes(clip: Clip) -> Clip:
    """Each stroke moved to the shot that contains its painted frame (kept where it is when none does)."""
    moved = {i: [] for i in range(len(clip.shots))}
    for i, shot in enumerate(clip.shots):
        for stroke in shot.strokes:
            home = clip.shot_index_at(stroke.frame)
            moved[i if home is None else home].append(stroke)
    shots = tuple(replace(shot, strokes=tuple(sorted(moved[i], key=_creation_order(clip))))
                  for i, shot in enumerate(clip.shots))
    return replace(clip, shots=shots)


def _creation_order(clip: Clip):
    """Sort key keeping strokes in their original (creation) order across shots."""
    order = {s.id: n for n, s in enumerate(s for shot in clip.shots for s in shot.strokes)}
    return lambda s: order[s.id]


# ---------------------------------------------------------------- paths


def store_path(path: str, base: Path | None) -> str:
    """`path` as stored in a project file in folder `base`: relative (POSIX) when it can be, else absolute."""
    if base is None or not path:
        return path
    absolute = os.path.abspath(path)
    try:
        return PurePath(os.path.relpath(absolute, base)).as_posix()
    except ValueError:  # another drive (Windows): no relative form
        return absolute


def resolve_path(stored: str, hint: str | None, base: Path | None) -> str:
    """The absolute path a stored one means: relative to `base`; the absolute `hint` when only it exists."""
    if not stored or base is None or os.path.isabs(stored):
        return stored
    candidate = os.path.normpath(os.path.join(base, stored))
    if not os.path.exists(candidate) and hint and os.path.isabs(hint) and os.path.exists(hint):
        return hint
    return candidate


# ---------------------------------------------------------------- render settings and queue


def settings_to_dict(s: RenderSettings, base: Path | None) -> dict:
    return {**asdict(s), "output_dir": store_path(s.output_dir, base)}


_SETTING_TYPES = {f.name: f.type for f in fields(RenderSettings)}


def settings_from_dict(d: Any, base: Path | None) -> RenderSettings:
    d = _dict(d, "render settings")
    unknown = set(d) - set(_SETTING_TYPES)
    if unknown:
        raise ValueError(f"unknown render settings {sorted(unknown)}")
    values = {}
    for name, value in d.items():
        kind = _SETTING_TYPES[name]
        if "bool" in kind and not isinstance(value, bool):
            raise TypeError(f"render setting {name} must be true or false, got {value!r}")
        if "int" in kind and value is not None:
            _int(value, f"render setting {name}")
        if kind.startswith("str") and not isinstance(value, str) and not (value is None and "None" in kind):
            raise TypeError(f"render setting {name} must be a string, got {value!r}")
        values[name] = value
    settings = RenderSettings(**values)
    return replace(settings, output_dir=resolve_path(settings.output_dir, None, base))


def _job_to_dict(j: RenderJob, base: Path | None) -> dict:
    return {"id": j.id, "clip": j.clip, "start": j.start, "end": j.end, "output": store_path(j.output, base),
            "settings": settings_to_dict(j.settings, base), "state": j.state, "message": j.message,
            "label": j.label}


def _job_from_dict(d: Any, base: Path | None) -> RenderJob:
    d = _dict(d, "render job")
    state, message = _str(d.get("state", "queued"), "job state"), _str(d.get("message", ""), "job message")
    if state == "running":  # the app closed while it rendered: it runs again
        state, message = "queued", "interrupted when the studio closed; queued again"
    return RenderJob(_str(d["id"], "job id"), _str(d["clip"], "job clip"), _int(d["start"], "job start"),
                     _int(d["end"], "job end"), resolve_path(_str(d["output"], "job output"), None, base),
                     settings_from_dict(d.get("settings", {}), base), state, message,
                     _str(d.get("label", ""), "job label"))


# ---------------------------------------------------------------- clips and projects


def _clip_to_dict(c: Clip, base: Path | None) -> dict:
    return {"id": c.id, "name": c.name, "media": store_path(c.media, base),
            "media_absolute": os.path.abspath(c.media) if base is not None else c.media,
            "fps": f"{c.fps.numerator}/{c.fps.denominator}", "frame_count": c.frame_count,
            "shots": [shot_to_dict(s) for s in c.shots]}


def _clip_from_dict(d: Any, base: Path | None) -> Clip:
    d = _dict(d, "clip")
    hint = d.get("media_absolute")
    media = resolve_path(_str(d["media"], "clip media"), hint if isinstance(hint, str) else None, base)
    clip = Clip(_str(d["id"], "clip id"), media, _fps(d["fps"]), _int(d["frame_count"], "clip frame_count"),
                tuple(shot_from_dict(s) for s in _list(d["shots"], "clip shots")), _str(d.get("name", ""), "clip name"))
    return rehome_strokes(clip)


def project_to_dict(project: Project, base: str | Path | None = None) -> dict:
    """JSON-ready dict at the current schema; paths relative to folder `base` when given."""
    base = None if base is None else Path(os.path.abspath(base))
    return {"schema": schema_tag(PROJECT_SCHEMA, PROJECT_VERSION), "name": project.name,
            "clips": [_clip_to_dict(c, base) for c in project.clips],
            "render": settings_to_dict(project.render, base),
            "queue": [_job_to_dict(j, base) for j in project.queue]}


def project_from_dict(data: Any, *, path: str | None = None, base: str | Path | None = None) -> Project:
    """Inverse of :func:`project_to_dict`, upgrading older schemas; InvalidProject on any bad content.

    Args:
        data: the parsed JSON.
        path: the file it came from (for messages).
        base: folder that relative paths are relative to (the project file's); None keeps them as stored.
    """
    if not isinstance(data, dict):
        raise InvalidProject("project file does not hold a JSON object", path=path)
    base = None if base is None else Path(os.path.abspath(base))
    try:
        data = upgrade_to_current(data, PROJECT_SCHEMA, PROJECT_VERSION, path=path)
        return Project(tuple(_clip_from_dict(c, base) for c in _list(data["clips"], "clips")),
                       _str(data.get("name", ""), "project name"),
                       settings_from_dict(data.get("render", {}), base),
                       tuple(_job_from_dict(j, base) for j in _list(data.get("queue", []), "queue")))
    except CONTENT_ERRORS as exc:
        detail = exc.args[0] if exc.args and isinstance(exc, KeyError) else exc
        what = f"missing {detail!r}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {detail}"
        raise InvalidProject(f"project content is invalid ({what})", path=path,
                             hint="Open a backup or the autosave, or fix the file") from exc


def save_project(project: Project, path: str | Path) -> None:
    """Write `project` to `path` as Project.2 JSON, atomically (the old file stays intact on failure)."""
    path = Path(path)
    atomic_write_json(path, project_to_dict(project, base=path.parent))


def load_project(path: str | Path) -> Project:
    """Read a project file: ``.sdproj`` (any Project schema, upgraded) or our ``.otio``.

    Raises:
        InvalidProject: naming the file — missing, unreadable, not JSON, another format, newer schema,
            or malformed content.
    """
    path = Path(path)
    if path.suffix.lower() == ".otio":
        from engine.document.otio_io import read_otio  # otio_io imports this module

        return read_otio(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidProject("project file not found", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidProject(f"not a readable project file ({exc})", path=path) from exc
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidProject(f"not a readable project file ({type(exc).__name__}: {exc})", path=path) from exc
    if isinstance(data, dict) and "OTIO_SCHEMA" in data:  # an OTIO timeline saved under another name
        from engine.document.otio_io import read_otio

        return read_otio(path)
    return project_from_dict(data, path=str(path), base=path.parent)
