"""The depth pass stores raw maps in a writer thread: every map is stored by the end, failures surface."""

import threading

import numpy as np
import pytest

from engine.cache import roundtrip
from engine.jobs.convert import DepthStage


class _Store:
    float_storage = "float16"

    def __init__(self) -> None:
        self.entries: dict[int, np.ndarray] = {}
        self.threads: set[str] = set()

    def put_prepared(self, index: int, values: np.ndarray, out: np.dtype) -> None:
        self.threads.add(threading.current_thread().name)
        self.entries[index] = values.astype(out)
        self.stored = values.dtype


def _maps(n: int):
    rng = np.random.default_rng(0)
    return [rng.random((6, 8), dtype=np.float32) * 3 for _ in range(n)]


def test_every_map_is_stored_off_the_jobs_thread_when_the_pass_ends():
    maps, store = _maps(7), _Store()
    out = list(DepthStage._stored(iter(maps), store, start=10))
    assert sorted(store.entries) == list(range(10, 17))
    assert store.threads == {"depth-store"}
    for k, raw in enumerate(maps):
        assert np.array_equal(out[k], roundtrip(raw))  # what a later read returns, float16-rounded
        assert np.array_equal(store.entries[10 + k], out[k])  # the entry holds the same rounded values
    assert store.stored == np.float16  # rounded once, in the job's thread, and stored as it was rounded


def test_a_failed_write_surfaces_in_the_job():
    class Full(_Store):
        def put_prepared(self, index, values, out):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        list(DepthStage._stored(iter(_maps(50)), Full(), start=0))
