"""The user's configuration file, shared by the CLI and the studio.

Lives at ``$XDG_CONFIG_HOME/spatialdreamer/config.toml`` (default
``~/.config/spatialdreamer/config.toml``) and is versioned with
``schema = "UserConfig.1"``. Example::

    schema = "UserConfig.1"
    models_dir = "/data/spatialdreamer/models"
    cache_dir = "/scratch/spatialdreamer-cache"
    cache_max_gb = 50.0
    device = "cuda:0"

    [studio]            # tables and keys we do not know are kept as they are
    recent = ["a.otio"]

A missing file means all defaults. Relative paths in the file are relative to
the file's own folder; ``~`` is expanded.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InvalidProject, OutputError
from engine.fileio import atomic_write_text
from engine.versioning import parse_schema

SCHEMA = "UserConfig.1"
_SCHEMA_NAME, _SCHEMA_VERSION = SCHEMA.split(".")
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_KNOWN_KEYS = ("schema", "models_dir", "cache_dir", "cache_max_gb", "device")


@dataclass(frozen=True)
class UserConfig:
    """Settings a user keeps between runs.

    Attributes:
        models_dir: folder of learned-model sub-folders; None = the default
            (:func:`default_models_dir`), after ``--models-dir`` and ``SPATIALDREAMER_MODELS``.
        cache_dir: depth/flow cache folder; None = :func:`default_cache_dir`.
        cache_max_gb: size the cache is trimmed to, in GB (10^9 bytes).
        device: default ``--device`` (``auto`` | ``cpu`` | ``cuda`` | ``cuda:N``).
        extra: keys and tables this version does not know (the studio's own
            settings, a newer minor version's): kept so that saving never drops them.
    """

    models_dir: Path | None = None
    cache_dir: Path | None = None
    cache_max_gb: float = 20.0
    device: str = "auto"
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


def _xdg_dir(variable: str, fallback: str) -> Path:
    """An XDG base directory: the variable when set to an absolute path, else ``~/<fallback>``."""
    value = os.environ.get(variable, "")
    return Path(value) if value and Path(value).is_absolute() else Path.home() / fallback


def user_config_path() -> Path:
    """``$XDG_CONFIG_HOME/spatialdreamer/config.toml`` (default ``~/.config/...``)."""
    return _xdg_dir("XDG_CONFIG_HOME", ".config") / "spatialdreamer" / "config.toml"


def default_models_dir() -> Path:
    """``$XDG_DATA_HOME/spatialdreamer/models`` (default ``~/.local/share/...``)."""
    return _xdg_dir("XDG_DATA_HOME", ".local/share") / "spatialdreamer" / "models"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/spatialdreamer`` (default ``~/.cache/spatialdreamer``)."""
    return _xdg_dir("XDG_CACHE_HOME", ".cache") / "spatialdreamer"


def _invalid(path: Path, message: str, hint: str | None = None) -> InvalidProject:
    hint = hint or "Fix or delete the file (defaults are used without it)"
    return InvalidProject(message, path=path, hint=hint)


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    """TOML text -> dict; a syntax error becomes InvalidProject naming the file and line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"line (\d+)", str(exc))
        line = f"line {where.group(1)}: " if where else ""
        raise _invalid(path, f"{line}not valid TOML ({exc})") from exc


def _check_schema(data: Mapping[str, Any], path: Path) -> None:
    """Accept no schema (a hand-written file) or ``UserConfig.1``; refuse newer or foreign ones.

    The tag is read by the one registry (:mod:`engine.versioning`); the messages are the config's own.
    """
    schema = data.get("schema", SCHEMA)
    try:
        name, version = parse_schema(schema, path=str(path))
    except InvalidProject:
        name, version = "", 0
    if name != _SCHEMA_NAME:
        raise _invalid(path, f"schema '{schema}' is not a user config (expected '{SCHEMA}')")
    if version > int(_SCHEMA_VERSION):
        raise _invalid(
            path,
            f"schema '{schema}' was written by a newer SpatialDreamer (this one reads '{SCHEMA}')",
            hint="Upgrade SpatialDreamer, or point XDG_CONFIG_HOME elsewhere",
        )


def _path_value(data: Mapping[str, Any], key: str, path: Path) -> Path | None:
    """A folder setting: a string, ``~`` expanded, relative to the config file's folder."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(path, f"'{key}' must be a folder path in quotes, not {value!r}")
    folder = Path(value).expanduser()
    return folder if folder.is_absolute() else (path.parent / folder)


def _number_value(data: Mapping[str, Any], key: str, default: float, path: Path) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _invalid(path, f"'{key}' must be a number >= 0, not {value!r}")
    return float(value)


def _device_value(data: Mapping[str, Any], path: Path) -> str:
    value = data.get("device", "auto")
    if not isinstance(value, str) or not _DEVICE_RE.match(value.strip().lower()):
        raise _invalid(path, f"'device' must be auto, cpu, cuda or cuda:N, not {value!r}")
    return value.strip().lower()


def parse_user_config(data: Mapping[str, Any], path: Path) -> UserConfig:
    """Validate a parsed TOML mapping into a :class:`UserConfig` (``path`` names it in errors)."""
    _check_schema(data, path)
    return UserConfig(
        models_dir=_path_value(data, "models_dir", path),
        cache_dir=_path_value(data, "cache_dir", path),
        cache_max_gb=_number_value(data, "cache_max_gb", UserConfig.cache_max_gb, path),
        device=_device_value(data, path),
        extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
    )


def load_user_config(path: Path | None = None) -> UserConfig:
    """Read the user config file; all defaults when it does not exist.

    Raises:
        InvalidProject: the file is unreadable, not TOML (names the line), has a
            wrong value type, or a schema from a newer version.
    """
    path = Path(path) if path is not None else user_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UserConfig()
    except (OSError, UnicodeDecodeError) as exc:
        raise _invalid(path, f"cannot read the user config ({exc})") from exc
    return parse_user_config(_parse_toml(text, path), path)


def user_config_to_dict(cfg: UserConfig) -> dict[str, Any]:
    """The TOML-ready mapping for ``cfg``: schema first, unset folders omitted, unknown keys kept."""
    data: dict[str, Any] = {"schema": SCHEMA}
    if cfg.models_dir is not None:
        data["models_dir"] = str(cfg.models_dir)
    if cfg.cache_dir is not None:
        data["cache_dir"] = str(cfg.cache_dir)
    data["cache_max_gb"] = float(cfg.cache_max_gb)
    data["device"] = cfg.device
    data.update({k: v for k, v in cfg.extra.items() if k not in _KNOWN_KEYS})
    return data


def _write_atomic(path: Path, text: str) -> None:
    """Create the folder, then :func:`engine.fileio.atomic_write_text` (a replaced file keeps its mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def save_user_config(cfg: UserConfig, path: Path | None = None) -> Path:
    """Write ``cfg`` atomically (temp file + rename) and return the path written.

    Raises:
        OutputError: the folder cannot be created or the file cannot be written.
    """
    import tomli_w

    path = Path(path) if path is not None else user_config_path()
    try:
        _write_atomic(path, tomli_w.dumps(user_config_to_dict(cfg)))
    except OSError as exc:
        raise OutputError(
            f"cannot write the user config ({exc.strerror or exc})",
            path=path,
            hint="Check the folder exists and is writable, or set XDG_CONFIG_HOME",
        ) from exc
    return path
