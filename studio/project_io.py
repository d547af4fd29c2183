"""Project files for the studio: open / save (atomic), autosave side files and crash recovery, recent files.

Autosave (CONVENTIONS.md): a saved project ``dir/name.sdproj`` autosaves to ``dir/.name.sdproj.autosave``;
an untitled one to ``<user data>/spatialdreamer/autosave/untitled-<timestamp>.sdproj.autosave``. A clean
save or close removes the side file, so one found at start-up is a crash's leftover and recovery is
offered. Writes go through the engine's atomic writer: a full disk leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine import api
from engine.document import Project

AUTOSAVE_SUFFIX = ".sdproj.autosave"
PROJECT_SUFFIX = ".sdproj"
CURRENT_SCHEMA = "Project.2"


def user_data_dir() -> Path:
    """The user data folder ($XDG_DATA_HOME/spatialdreamer, else ~/.local/share/spatialdreamer)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "spatialdreamer"


def autosave_path(project_path: Path | None, started: float) -> Path:
    """Where a project autosaves: beside its file, or in the user data folder while untitled."""
    if project_path is not None:
        return project_path.with_name(f".{project_path.name}.autosave")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    return user_data_dir() / "autosave" / f"untitled-{stamp}{AUTOSAVE_SUFFIX}"


class SaveFailed(Exception):
    """Saving did not happen; the previous file is intact. `str()` is one line for the user."""


def save(project: Project, path: Path) -> None:
    """Write `project` to `path` atomically; SaveFailed (one line) when the disk refuses."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        api.save_project(project, path)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SaveFailed(f"{path}: could not save ({reason}); the previous file is unchanged. "
                         "Free some space or save elsewhere") from exc
    except api.SpatialDreamerError as exc:
        raise SaveFailed(exc.one_line()) from exc


@dataclass(frozen=True)
class Opened:
    """A project read from disk: the document, and the schema it was stored in when that was older."""

    project: Project
    upgraded_from: str | None
    missing_media: tuple[str, ...]


def schema_of(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("schema") if isinstance(data, dict) else None


def open_project(path: Path) -> Opened:
    """Load a project (raises api.InvalidProject with one line: newer schema, broken file, …)."""
    project = api.load_project(path)
    schema = schema_of(path) if path.suffix == PROJECT_SUFFIX or path.name.endswith(AUTOSAVE_SUFFIX) else None
    upgraded = schema if schema and schema != CURRENT_SCHEMA else None
    missing = tuple(c.id for c in project.clips if not Path(c.media).exists())
    return Opened(project, upgraded, missing)


def leftover_autosaves(recent: list[Path]) -> list[Path]:
    """Autosave side files left by a crash: of the recent projects and every untitled one."""
    found = [autosave_path(p, 0) for p in recent if autosave_path(p, 0).exists()]
    folder = user_data_dir() / "autosave"
    if folder.is_dir():
        found += sorted(folder.glob(f"untitled-*{AUTOSAVE_SUFFIX}"))
    return found


def project_for_autosave(autosave: Path) -> Path | None:
    """The project file an autosave belongs to (None for an untitled one)."""
    name = autosave.name
    if name.startswith("untitled-"):
        return None
    return autosave.with_name(name[1:].removesuffix(".autosave"))


class RecentFiles:
    """Most-recent-first project paths kept in QSettings."""

    KEY = "recent_projects"
    LIMIT = 10

    def __init__(self, settings) -> None:
        self.settings = settings

    def paths(self) -> list[Path]:
        value = self.settings.value(self.KEY, [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [Path(p) for p in items if p]

    def add(self, path: Path) -> None:
        items = [str(path.resolve())] + [str(p) for p in self.paths() if p.resolve() != path.resolve()]
        self.settings.setValue(self.KEY, items[: self.LIMIT])
