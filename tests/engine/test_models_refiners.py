"""`models list` beyond depth: the refiner's base weights (svd-xt/, sd21/) and trained refiners with their state."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.models import scan_base_weights, scan_refiners
from tests.engine.test_models import write_safetensors
from tests.support.refiner import tiny_pipeline


@pytest.fixture(scope="module")
def saved_tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("saved") / "tinyrand"
    tiny_pipeline().save_pretrained(folder)
    return folder


def make_base(models_dir: Path, name: str, modules: tuple[str, ...], unet_class: str) -> Path:
    folder = models_dir / name
    for rel in ("model_index.json", "scheduler/scheduler_config.json"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text("{}", encoding="utf-8")
    for module in modules:
        (folder / module).mkdir(parents=True, exist_ok=True)
        config = {"_class_name": unet_class} if module == "unet" else {}
        (folder / module / "config.json").write_text(json.dumps(config), encoding="utf-8")
        stem = "model" if module == "image_encoder" else "diffusion_pytorch_model"
        write_safetensors(folder / module / f"{stem}.fp16.safetensors")
    return folder


def test_every_listed_model_can_be_fetched_by_models_get():
    from engine.models import BASE_SPECS, MODEL_SPECS
    from engine.models.hub import HUB_SOURCES

    assert set(MODEL_SPECS) | set(BASE_SPECS) <= set(HUB_SOURCES)


def test_base_weights_states(tmp_path):
    assert {s.name: s.state for s in scan_base_weights(tmp_path)} == {"svd-xt": "missing", "sd21": "missing"}
    make_base(tmp_path, "svd-xt", ("unet", "vae", "image_encoder"), "UNetSpatioTemporalConditionModel")
    sd21 = make_base(tmp_path, "sd21", ("unet",), "UNet2DConditionModel")
    (sd21 / "unet" / "diffusion_pytorch_model.fp16.safetensors").unlink()
    states = {s.name: s for s in scan_base_weights(tmp_path)}
    assert states["svd-xt"].state == "ok"
    assert states["sd21"].state == "incomplete" and "unet/diffusion_pytorch_model.safetensors" in (
        states["sd21"].missing_files[0])
    (tmp_path / "svd-xt" / "unet" / "config.json").write_text('{"_class_name": "UNet2DModel"}', encoding="utf-8")
    assert {s.name: s.state for s in scan_base_weights(tmp_path)}["svd-xt"] == "corrupt"


def test_refiners_in_the_models_folder_and_shipped(tmp_path, saved_tiny):
    models, shipped = tmp_path / "models", tmp_path / "resources" / "refiner"
    assert scan_refiners(models, shipped=[]) == []
    shutil.copytree(saved_tiny, models / "mine")
    shutil.copytree(saved_tiny, shipped / "small")
    broken = shutil.copytree(saved_tiny, models / "broken")
    for weights in (broken / "refiner_net").glob("*.safetensors"):
        weights.unlink()
    (models / "da2-small").mkdir()  # other models are not refiners
    states = {s.name: s for s in scan_refiners(models, shipped=[shipped])}
    assert sorted(states) == ["broken", "mine", "small"]
    assert states["mine"].state == "ok" and states["small"].path == shipped / "small"
    assert states["broken"].state == "incomplete" and "refiner_net" in states["broken"].missing_files[0]


def test_cli_models_list_shows_every_kind(tmp_path, saved_tiny, capsys):
    from engine.cli import main

    shutil.copytree(saved_tiny, tmp_path / "tinyrand")
    assert main(["models", "list", "--models-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in text.splitlines() if line and not line[0].isspace()
            and len(line.split()) >= 3}
    assert rows["tinyrand"] == "ok" and rows["svd-xt"] == "missing" and rows["da2-small"] == "missing"
    assert "refiners (convert --refiner NAME)" in text
