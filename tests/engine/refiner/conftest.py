"""Fixtures of the refiner tests: a random tiny pipeline, pairs from the demo clip, one tiny training run.

The pair dataset is made with ``make-pairs`` from the first 16 frames of the bundled demo clip (640×360, an
SD clip) at 64 px wide; the training run is the tiny config for 60 steps on it (shared by several tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.jobs.pairs import PairRequest, make_pairs
from engine.refiner.train import TrainRequest, train_refiner
from tests.support.refiner import DEMO, run_job, tiny_pipeline


@pytest.fixture
def pipe():
    return tiny_pipeline()


@pytest.fixture(scope="session")
def demo_pairs(tmp_path_factory) -> Path:
    """PairDataset.1 from the demo clip's first 16 frames, 64 px wide, wide divergence (real holes)."""
    out = tmp_path_factory.mktemp("refiner-pairs") / "pairs"
    request = PairRequest(inputs=(DEMO,), output=out, divergence_range=(10.0, 12.0), max_width=64, max_frames=16,
                          shots="off", device="cpu", use_cache=False)
    run_job(make_pairs(request))
    return out


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory, demo_pairs):
    """A 60-step tiny training run on the demo pairs: (output folder, Progress events, TrainReport)."""
    out = tmp_path_factory.mktemp("refiner-run") / "tiny"
    request = TrainRequest(config="tiny", data=(demo_pairs,), output=out, max_steps=60, device="cpu")
    report, seen = run_job(train_refiner(request))
    return out, seen, report
