"""`spatialdreamer train-refiner`: runs through engine.api, one-line errors, no heavy import at api import."""

from __future__ import annotations

import json
import subprocess
import sys

from engine.refiner.checkpoints import read_loss_csv


def test_train_refiner_command_trains_and_resumes(cli, demo_pairs, tmp_path):
    out = tmp_path / "run"
    args = ("train-refiner", "--config", "tiny", "--data", demo_pairs, "--out", out, "--device", "cpu",
            "--validate-every", "100", "--progress", "none")
    result = cli(*args, "--max-steps", 3)
    assert result.code == 0, result.err
    assert "3 steps (from 0)" in result.err and (out / "model_index.json").is_file()
    result = cli(*args, "--max-steps", 4, "--progress", "json")
    assert result.code == 0 and json.loads(result.out.strip().splitlines()[-1])["report"]["resumed_from"] == 3
    assert [int(r["step"]) for r in read_loss_csv(out / "loss.csv")] == [1, 2, 3, 4]


def test_train_refiner_bad_input_is_one_line(cli, tmp_path, demo_pairs):
    result = cli("train-refiner", "--config", "tiny", "--data", tmp_path, "--out", tmp_path / "o", "--device", "cpu")
    assert result.code == 3 and "not a pair dataset" in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    result = cli("train-refiner", "--config", "huge", "--data", demo_pairs, "--out", tmp_path / "o")
    assert result.code == 2 and "unknown refiner config 'huge'" in result.err


def test_engine_api_import_stays_light():
    code = ("import sys, engine.api, engine.refiner, engine.refiner.configs; "
            "print([m for m in ('diffusers', 'accelerate', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
