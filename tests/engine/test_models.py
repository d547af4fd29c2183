"""engine.models: models-folder resolution, file checks, states, errors and the table."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from engine.config import UserConfig, save_user_config
from engine.errors import InvalidProject, ModelNotFound, UsageError
from engine.models import (
    MODEL_SPECS,
    PREFERENCE,
    best_available,
    check_model,
    format_models_table,
    require_model,
    resolve_models_dir,
    scan_models,
)


def write_safetensors(path: Path, n_floats: int = 4) -> None:
    """A valid safetensors file holding one float32 tensor (format: u64 header length, JSON header, data)."""
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [n_floats], "data_offsets": [0, 4 * n_floats]}}
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4 * n_floats))


def make_da2(models_dir: Path, name: str = "da2-small") -> Path:
    folder = models_dir / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "depth_anything"}), encoding="utf-8")
    write_safetensors(folder / "model.safetensors")
    return folder


def make_marigold(models_dir: Path, fp16_unet: bool = False) -> Path:
    folder = models_dir / "marigold"
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "MarigoldDepthPipeline"}), "utf-8")
    for rel in (
        "scheduler/scheduler_config.json",
        "unet/config.json",
        "vae/config.json",
        "text_encoder/config.json",
    ):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("{}", encoding="utf-8")
    unet = "unet/diffusion_pytorch_model" + (".fp16" if fp16_unet else "") + ".safetensors"
    for rel in (unet, "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"):
        write_safetensors(folder / rel)
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "vocab.json").write_text("{}", encoding="utf-8")
    (folder / "tokenizer" / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return folder


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("SPATIALDREAMER_MODELS", raising=False)
    return tmp_path


def test_resolve_precedence_explicit_env_config_default(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_models_dir() == (env / "data" / "spatialdreamer" / "models", "default")

    save_user_config(UserConfig(models_dir=env / "from-config"))
    folder, source = resolve_models_dir()
    assert folder == env / "from-config"
    assert source.startswith("config file") and str(env / "cfg") in source

    monkeypatch.setenv("SPATIALDREAMER_MODELS", str(env / "from-env"))
    assert resolve_models_dir() == (env / "from-env", "SPATIALDREAMER_MODELS")

    assert resolve_models_dir(env / "explicit") == (env / "explicit", "--models-dir")


def test_resolve_with_malformed_config_says_so(env: Path) -> None:
    path = env / "cfg" / "spatialdreamer" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("models_dir = [\n", encoding="utf-8")
    with pytest.raises(InvalidProject):
        resolve_models_dir()
    assert resolve_models_dir(env / "x")[1] == "--models-dir", "an explicit folder never reads the file"


def test_scan_empty_folder_reports_every_model_missing(tmp_path: Path) -> None:
    statuses = scan_models(tmp_path)
    assert [s.name for s in statuses] == list(PREFERENCE)
    assert {s.state for s in statuses} == {"missing"}
    da2 = next(s for s in statuses if s.name == "da2-large")
    assert da2.path == tmp_path / "da2-large"
    assert "depth-anything/Depth-Anything-V2-Large-hf" in da2.hint and str(da2.path) in da2.hint
    assert "config.json" in da2.missing_files
    assert best_available(tmp_path) is None


def test_complete_folders_are_ok_and_preference_orders_them(tmp_path: Path) -> None:
    make_marigold(tmp_path, fp16_unet=True)
    assert best_available(tmp_path) == "marigold"
    make_da2(tmp_path, "da2-small")
    assert best_available(tmp_path) == "da2-small"
    make_da2(tmp_path, "da2-large")
    assert best_available(tmp_path) == "da2-large"
    states = {s.name: s.state for s in scan_models(tmp_path)}
    assert states == {"da2-large": "ok", "da2-base": "missing", "da2-small": "ok", "marigold": "ok"}
    assert require_model("marigold", tmp_path) == tmp_path / "marigold"


def test_incomplete_folder_lists_missing_files(tmp_path: Path) -> None:
    folder = make_marigold(tmp_path)
    (folder / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    (folder / "tokenizer" / "merges.txt").unlink()
    status = check_model("marigold", tmp_path)
    assert status.state == "incomplete"
    assert any(m.startswith("vae/diffusion_pytorch_model.safetensors or ") for m in status.missing_files)
    assert "tokenizer/merges.txt or tokenizer/tokenizer.json" in status.missing_files
    assert len(status.missing_files) == 2
    with pytest.raises(ModelNotFound) as info:
        require_model("marigold", tmp_path)
    assert info.value.exit_code == 5
    assert info.value.path == str(folder)
    assert "vae/diffusion_pytorch_model.safetensors" in info.value.message
    assert "prs-eth/marigold-depth-v1-1" in info.value.hint


def test_missing_weights_file_of_da2(tmp_path: Path) -> None:
    folder = make_da2(tmp_path)
    (folder / "model.safetensors").unlink()
    status = check_model("da2-small", tmp_path)
    assert status.state == "incomplete"
    assert status.missing_files == ("model.safetensors or pytorch_model.bin",)


def test_missing_model_raises_with_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound) as info:
        require_model("da2-base", tmp_path)
    assert "not installed" in info.value.message
    assert str(tmp_path / "da2-base") in info.value.one_line()
    assert "Depth-Anything-V2-Base-hf" in info.value.one_line()


def test_truncated_safetensors_is_corrupt(tmp_path: Path) -> None:
    folder = make_da2(tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-3])
    status = check_model("da2-small", tmp_path)
    assert status.state == "corrupt"
    assert "model.safetensors is truncated" in status.problem
    assert best_available(tmp_path) is None, "auto never picks a damaged model"
    with pytest.raises(ModelNotFound, match="damaged"):
        require_model("da2-small", tmp_path)


def test_garbage_and_wrong_configs_are_corrupt(tmp_path: Path) -> None:
    folder = make_da2(tmp_path)
    (folder / "config.json").write_text("{this is not json", encoding="utf-8")
    assert "config.json is not valid JSON" in check_model("da2-small", tmp_path).problem
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    status = check_model("da2-small", tmp_path)
    assert status.state == "corrupt" and "'bert'" in status.problem


def test_corrupt_component_weights_name_the_subfolder(tmp_path: Path) -> None:
    folder = make_marigold(tmp_path)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00" * 5)
    status = check_model("marigold", tmp_path)
    assert status.state == "corrupt"
    assert status.problem.startswith("unet/diffusion_pytorch_model.safetensors")


def test_bin_weights_must_be_a_whole_zip(tmp_path: Path) -> None:
    folder = make_da2(tmp_path)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"PK\x03\x04 truncated")
    assert check_model("da2-small", tmp_path).state == "corrupt"


def test_unknown_model_name_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="da2-small"):
        require_model("da3-huge", tmp_path)


def test_specs_cover_every_learned_flag_value() -> None:
    from engine.vocabulary import MODEL_NAMES

    assert set(MODEL_SPECS) == set(MODEL_NAMES) - {"auto", "weights-free"}
    assert set(PREFERENCE) == set(MODEL_SPECS)


def test_format_table_shows_states_missing_files_and_hints(tmp_path: Path) -> None:
    make_da2(tmp_path, "da2-small")
    folder = make_marigold(tmp_path)
    (folder / "text_encoder" / "model.safetensors").unlink()
    text = format_models_table(scan_models(tmp_path), tmp_path, "--models-dir")
    lines = text.splitlines()
    assert lines[0] == f"Models folder: {tmp_path}  (from --models-dir)"
    row = {line.split()[0]: line.split()[1] for line in lines[2:] if not line.startswith(" ")}
    assert row == {"da2-large": "missing", "da2-base": "missing", "da2-small": "ok", "marigold": "incomplete"}
    assert "missing: text_encoder/model.safetensors or" in text
    assert "hf download prs-eth/marigold-depth-v1-1" in text
