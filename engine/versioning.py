"""One registry of versioned file formats: ``{"schema": "<Name>.<version>", ...}`` with upgrade steps.

Every JSON format of our own carries a schema tag (CONVENTIONS.md "Files"). Loading calls
:func:`upgrade_to_current`, which applies the registered one-step upgrades (``Project.1 -> Project.2``
…) in order; a document from a newer version, of another format or with a malformed tag is refused
with the error class the caller names (``InvalidProject`` by default), saying which file and what to do.

    @upgrade("Project", 1)
    def _project_1_to_2(data: dict) -> dict: ...

    data = upgrade_to_current(json_dict, "Project", 2, path=path)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import InvalidProject, SpatialDreamerError

Upgrade = Callable[[dict], dict]
_UPGRADES: dict[tuple[str, int], Upgrade] = {}
_CURRENT: dict[str, int] = {}


def register_format(name: str, version: int) -> str:
    """Record `name.<version>` as the current version of one of our formats; returns its tag."""
    if _CURRENT.get(name, version) != version:
        raise ValueError(f"format {name} is already registered at version {_CURRENT[name]}")
    _CURRENT[name] = version
    return schema_tag(name, version)


def current_version(name: str) -> int:
    """The registered current version of format `name` (KeyError if it is not registered)."""
    return _CURRENT[name]


def upgrade(name: str, from_version: int) -> Callable[[Upgrade], Upgrade]:
    """Register a function that turns a `name.<from_version>` dict into `name.<from_version + 1>`."""

    def register(fn: Upgrade) -> Upgrade:
        key = (name, from_version)
        if key in _UPGRADES and _UPGRADES[key] is not fn:
            raise ValueError(f"an upgrade from {name}.{from_version} is already registered")
        _UPGRADES[key] = fn
        return fn

    return register


def schema_tag(name: str, version: int) -> str:
    """('Project', 2) -> 'Project.2'."""
    return f"{name}.{version}"


def parse_schema(tag: Any, *, path: str | None = None,
                 error: type[SpatialDreamerError] = InvalidProject) -> tuple[str, int]:
    """'Project.1' -> ('Project', 1); `error` for anything else (a missing tag included)."""
    if not isinstance(tag, str):
        raise error(f"the file has no schema tag (found {tag!r}); it was not written by SpatialDreamer",
                    path=path)
    name, _, version = tag.rpartition(".")
    if not name or not version.isdigit():
        raise error(f"schema tag {tag!r} is not of the form Name.<version>", path=path)
    return name, int(version)


def upgrade_to_current(data: dict, name: str, current: int, *, path: str | None = None,
                       error: type[SpatialDreamerError] = InvalidProject) -> dict:
    """Apply registered upgrades until `data` is at `name.<current>`; `error` naming the file otherwise."""
    found, version = parse_schema(data.get("schema"), path=path, error=error)
    if found != name:
        raise error(f"this is a {found} file, not a {name} file", path=path)
    if version > current:
        raise error(f"schema {found}.{version} is newer than this version understands ({name}.{current})",
                    path=path, hint="Update SpatialDreamer Studio to open it")
    while version < current:
        step = _UPGRADES.get((name, version))
        if step is None:
            raise error(f"no upgrade from {name}.{version} to {name}.{current}", path=path)
        data = step(dict(data))
        version += 1
        data["schema"] = schema_tag(name, version)
    return data


class StaleSchema(SpatialDreamerError):
    """A document that is not `name.<current>` (nor upgradable to it): for caches, a miss, not an error."""


def current_or_none(data: Any, name: str, current: int) -> dict | None:
    """`data` upgraded to `name.<current>`, or None when it is not a dict or cannot be (wrong or newer tag).

    For files that are only a cache (the depth cache's meta entries, its media index): a mismatch
    means "compute it again", never an error for the user.
    """
    if not isinstance(data, dict):
        return None
    try:
        return upgrade_to_current(data, name, current, error=StaleSchema)
    except StaleSchema:
        return None
