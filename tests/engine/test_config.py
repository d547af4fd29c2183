"""engine.config: the user config file (XDG location, schema, round-trip, errors)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from engine.config import (
    SCHEMA,
    UserConfig,
    default_cache_dir,
    default_models_dir,
    load_user_config,
    save_user_config,
    user_config_path,
)
from engine.errors import InvalidProject, OutputError


@pytest.fixture()
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG variables into tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var, sub in (("XDG_CONFIG_HOME", "cfg"), ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    return tmp_path


def test_locations_follow_xdg(xdg: Path) -> None:
    assert user_config_path() == xdg / "cfg" / "spatialdreamer" / "config.toml"
    assert default_models_dir() == xdg / "data" / "spatialdreamer" / "models"
    assert default_cache_dir() == xdg / "cache" / "spatialdreamer"


def test_locations_fall_back_to_home_when_xdg_unset_or_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv(
        "XDG_DATA_HOME", "relative/is/ignored"
    )  # the XDG spec says relative values are invalid
    assert user_config_path() == tmp_path / ".config" / "spatialdreamer" / "config.toml"
    assert default_models_dir() == tmp_path / ".local" / "share" / "spatialdreamer" / "models"


def test_missing_file_gives_defaults(xdg: Path) -> None:
    assert load_user_config() == UserConfig()


def test_round_trip_keeps_values_and_unknown_tables(xdg: Path) -> None:
    cfg = UserConfig(
        models_dir=xdg / "models",
        cache_dir=xdg / "cache dir",
        cache_max_gb=12.5,
        device="cuda:1",
        extra={"studio": {"recent": ["a.otio", "b.otio"], "theme": "dark"}},
    )
    written = save_user_config(cfg)
    assert written == user_config_path()
    raw = tomllib.loads(written.read_text(encoding="utf-8"))
    assert raw["schema"] == SCHEMA == "UserConfig.1"
    assert load_user_config() == cfg
    assert not list(written.parent.glob("*.tmp")), "the temp file must be renamed into place"


def test_save_omits_unset_folders_and_reloads_as_none(xdg: Path) -> None:
    path = save_user_config(UserConfig(cache_max_gb=3))
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert "models_dir" not in raw and "cache_dir" not in raw
    assert load_user_config(path) == UserConfig(cache_max_gb=3.0)


def test_relative_and_tilde_paths(xdg: Path) -> None:
    path = xdg / "elsewhere" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('models_dir = "models"\ncache_dir = "~/c"\n', encoding="utf-8")
    cfg = load_user_config(path)
    assert cfg.models_dir == path.parent / "models"
    assert cfg.cache_dir == xdg / "home" / "c"


def test_hand_written_file_without_schema_is_accepted(xdg: Path) -> None:
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text('device = "CPU"\n', encoding="utf-8")
    assert load_user_config().device == "cpu"


def test_malformed_toml_names_file_and_line(xdg: Path) -> None:
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text('schema = "UserConfig.1"\nmodels_dir = /no/quotes\n', encoding="utf-8")
    with pytest.raises(InvalidProject) as info:
        load_user_config()
    assert info.value.path == str(path)
    assert "line 2" in info.value.message
    assert info.value.exit_code == 3


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("models_dir = 5", "models_dir"),
        ("cache_max_gb = -1", "cache_max_gb"),
        ("cache_max_gb = true", "cache_max_gb"),
        ('device = "gpu"', "device"),
    ],
)
def test_wrong_value_types_name_the_key(xdg: Path, text: str, key: str) -> None:
    path = xdg / "c.toml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(InvalidProject, match=key):
        load_user_config(path)


def test_newer_or_foreign_schema_is_refused(xdg: Path) -> None:
    path = xdg / "c.toml"
    path.write_text('schema = "UserConfig.2"\n', encoding="utf-8")
    with pytest.raises(InvalidProject, match="newer"):
        load_user_config(path)
    path.write_text('schema = "Project.1"\n', encoding="utf-8")
    with pytest.raises(InvalidProject, match="not a user config"):
        load_user_config(path)


def test_unwritable_place_is_an_output_error(xdg: Path) -> None:
    blocker = xdg / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError) as info:
        save_user_config(UserConfig(), blocker / "config.toml")  # parent is a file
    assert info.value.path == str(blocker / "config.toml")


def test_save_replaces_existing_file_atomically(xdg: Path) -> None:
    path = save_user_config(UserConfig(device="cpu"))
    inode_before = path.stat().st_ino
    save_user_config(UserConfig(device="cuda"))
    assert load_user_config().device == "cuda"
    assert path.stat().st_ino != inode_before, "a new file is renamed over the old one"
