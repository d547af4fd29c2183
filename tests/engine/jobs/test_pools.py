"""Which compute stages may overlap: numba's threading layer decides (workqueue aborts on concurrent use)."""

import threading

import numba
import pytest

from engine.jobs import pools


@pytest.fixture(autouse=True)
def _fresh():
    pools.concurrent_kernels.cache_clear()
    yield
    pools.concurrent_kernels.cache_clear()


def test_the_workqueue_layer_keeps_compute_stages_in_the_callers_thread(monkeypatch):
    monkeypatch.setattr(numba, "threading_layer", lambda: (_ for _ in ()).throw(ValueError("not yet")))
    monkeypatch.setattr(numba.config, "THREADING_LAYER", "workqueue")
    assert pools.concurrent_kernels() is False
    threads = []

    def source():
        for i in range(3):
            threads.append(threading.current_thread().name)
            yield i

    assert list(pools.stage_ahead(source(), maxsize=1, name="stage")) == [0, 1, 2]
    assert threads == [threading.current_thread().name] * 3


@pytest.mark.parametrize("layer, safe", [("omp", True), ("tbb", True), ("workqueue", False)])
def test_the_layer_numba_already_chose_decides(monkeypatch, layer, safe):
    monkeypatch.setattr(numba, "threading_layer", lambda: layer)
    assert pools.concurrent_kernels() is safe


def test_a_safe_layer_runs_the_stage_in_its_own_thread(monkeypatch):
    monkeypatch.setattr(numba, "threading_layer", lambda: "omp")
    threads = []

    def source():
        threads.append(threading.current_thread().name)
        yield 1

    assert list(pools.stage_ahead(source(), maxsize=1, name="stage")) == [1]
    assert threads == ["stage"]
