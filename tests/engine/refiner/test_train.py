"""engine.refiner.train: the tiny config learns; resume loses nothing; NaN stops cleanly; bad outputs refused."""

from __future__ import annotations

import json

import pytest
import torch

import engine.refiner.train as train_module
from engine.errors import Cancelled, OutputError, TrainingError, UsageError
from engine.progress import CancelToken
from engine.refiner.checkpoints import complete_checkpoints, read_loss_csv
from engine.refiner.configs import TINY
from engine.refiner.data import open_datasets, split_clips, validation_windows
from engine.refiner.pipeline import SpatialDreamerPipeline
from engine.refiner.train import RefinerTraining, TrainRequest, initial_components, make_pipeline, train_refiner
from tests.support.refiner import run_job


def test_tiny_config_brings_the_loss_below_seventy_percent(trained_tiny):
    out, seen, report = trained_tiny
    rows = read_loss_csv(out / "loss.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 61))  # one row per optimiser step
    first, last = (sum(r["loss"] for r in part) / 5 for part in (rows[:5], rows[-5:]))
    assert last < 0.7 * first, (first, last)
    assert {"val_loss", "val_psnr_hole", "val_ssim_hole"} <= set(rows[19]) and "val_loss" not in rows[18]
    assert report.steps == 60 and report.first_loss == pytest.approx(rows[0]["loss"], rel=1e-6)
    assert [p.done for p in seen if p.stage == "train"] == list(range(1, 61))
    record = json.loads((out / "training.json").read_text())
    assert record["schema"] == "RefinerTraining.1" and record["step"] == 60 and record["config"]["name"] == "tiny"
    assert [s for s, _ in complete_checkpoints(out)] == [40, 60]  # keep_checkpoints = 2


def test_trained_tiny_beats_the_same_model_untrained_on_held_out_holes(trained_tiny, demo_pairs):
    out, _, _ = trained_tiny
    _, val, _ = split_clips(open_datasets([demo_pairs]), TINY.train.num_frames)
    windows = validation_windows(val, TINY.train.num_frames, TINY.train.validation_clips)
    scores = {}
    untrained = make_pipeline(TINY, initial_components(TINY, None, seed=0))  # the run's own starting weights
    for name, pipe in (("untrained", untrained), ("trained", SpatialDreamerPipeline.from_pretrained(out))):
        for m in (pipe.denoiser, pipe.refiner_net):
            m.eval()
        scores[name] = train_module.validate(pipe, RefinerTraining(pipe), windows, TINY)
    assert scores["trained"]["val_psnr_hole"] > scores["untrained"]["val_psnr_hole"]
    assert scores["trained"]["val_loss"] < scores["untrained"]["val_loss"]


def _request(data, out, **kw):
    settings = dict(config="tiny", data=(data,), output=out, max_steps=10, device="cpu", checkpoint_every=5,
                    validate_every=1000)
    settings.update(kw)
    return TrainRequest(**settings)


def test_interrupted_and_resumed_run_loses_nothing(demo_pairs, tmp_path):
    run_job(train_refiner(_request(demo_pairs, tmp_path / "straight")))
    straight = read_loss_csv(tmp_path / "straight" / "loss.csv")
    cancel = CancelToken()
    job = train_refiner(_request(demo_pairs, tmp_path / "cut"), cancel)
    with pytest.raises(Cancelled, match="step 7"):
        for p in job:
            if p.stage == "train" and p.done == 7:
                cancel.cancel()
    assert [s for s, _ in complete_checkpoints(tmp_path / "cut")] == [5, 7]
    (tmp_path / "cut" / "checkpoints" / ".step-000009.partial").mkdir()  # a crash mid-checkpoint
    report, seen = run_job(train_refiner(_request(demo_pairs, tmp_path / "cut")))
    assert report.resumed_from == 7 and report.steps == 10
    assert any("resuming from the checkpoint of step 7" in (p.message or "") for p in seen)
    resumed = read_loss_csv(tmp_path / "cut" / "loss.csv")
    assert [int(r["step"]) for r in resumed] == list(range(1, 11))
    for a, b in zip(straight, resumed, strict=True):  # the same examples, noise and state after the restart
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-3, abs=1e-5)
    assert not (tmp_path / "cut" / "checkpoints" / ".step-000009.partial").exists()
    assert [s for s, _ in complete_checkpoints(tmp_path / "cut")] == [7, 10]


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(demo_pairs, tmp_path, monkeypatch):
    real = train_module.refiner_loss
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        terms = real(*args, **kwargs)
        if calls["n"] == 8:
            terms.total = terms.total * float("nan")
        return terms

    monkeypatch.setattr(train_module, "refiner_loss", flaky)
    with pytest.raises(TrainingError, match=r"nan at step 8.*last good checkpoint \(step 5\)"):
        run_job(train_refiner(_request(demo_pairs, tmp_path / "nan")))
    assert [s for s, _ in complete_checkpoints(tmp_path / "nan")] == [5]
    assert len(read_loss_csv(tmp_path / "nan" / "loss.csv")) == 7
    SpatialDreamerPipeline.from_pretrained(tmp_path / "nan")  # the pipeline of step 5 is intact


def test_output_folders_that_are_not_runs_are_refused(demo_pairs, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds no refiner training run"):
        run_job(train_refiner(_request(demo_pairs, tmp_path / "busy")))
    run_job(train_refiner(_request(demo_pairs, tmp_path / "run", max_steps=5)))
    with pytest.raises(UsageError, match="another config"):
        run_job(train_refiner(_request(demo_pairs, tmp_path / "run", max_steps=6, learning_rate=1e-5)))
    with pytest.raises(UsageError, match="max-steps"):
        _request(demo_pairs, tmp_path / "x", max_steps=0)


def test_stratified_noise_levels_are_shared_by_restarts_and_cover_every_stratum():
    from engine.refiner.losses import stratified_sigmas

    torch.testing.assert_close(stratified_sigmas(10, 4, 0.7, 1.6), stratified_sigmas(10, 4, 0.7, 1.6))
    for n in range(20):  # one level from each equal-probability quarter of the log-normal, every batch
        u = torch.special.ndtr((stratified_sigmas(n, 4, 0.7, 1.6).double().log() - 0.7) / 1.6)
        assert ((u * 4).floor().tolist() == [0.0, 1.0, 2.0, 3.0]), u
    many = torch.cat([stratified_sigmas(n, 2, 0.7, 1.6) for n in range(10000)]).log()
    assert abs(float(many.mean()) - 0.7) < 0.02 and abs(float(many.std()) - 1.6) < 0.02
