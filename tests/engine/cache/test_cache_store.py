"""engine.cache.store: hits and misses, keys, LRU cap, corruption, unwritable folders, flat memory, threads."""

from __future__ import annotations

import gc
import json
import subprocess
import threading
import tracemalloc
import weakref
from pathlib import Path

import numpy as np
import pytest

from engine.cache import ArrayCache, CacheNamespace, params_fingerprint
from engine.cache.codec import encode
from engine.config import UserConfig

MEDIA = "ab" + "0" * 62
PARAMS = params_fingerprint({"provider": "weights-free", "working_width": 480})


def depth(seed: int, shape: tuple[int, int] = (48, 64)) -> np.ndarray:
    """A smooth random float32 map (depth-like), different per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    return (1.0 + rng.random() + np.sin(xx / (5 + seed % 7)) * np.cos(yy / 9.0)).astype(np.float32)


class Counter:
    """A fake provider: counts how often it is asked to compute a frame."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, index: int):
        def compute() -> np.ndarray:
            self.calls.append(index)
            return depth(index)
        return compute


@pytest.fixture
def cache(tmp_path) -> ArrayCache:
    cache = ArrayCache(tmp_path / "cache", max_bytes=10**8)
    assert cache.enabled and cache.notes == []
    return cache


def test_miss_then_hit_and_the_second_request_is_a_read(cache):
    ns = cache.namespace("depth", MEDIA, PARAMS)
    fake = Counter()
    assert ns.get(7) is None
    first = ns.get_or_compute(7, fake(7))
    second = ns.get_or_compute(7, fake(7))
    assert fake.calls == [7]
    assert second.dtype == np.float32 and second.shape == (48, 64)
    np.testing.assert_array_equal(first, second)  # cold and warm runs are bit-identical
    np.testing.assert_allclose(second, depth(7), rtol=1e-3)
    assert ns.has_all([7]) and not ns.has_all([7, 8])
    assert ns.cached_indices() == [7]
    entry = ns.path(7)
    assert entry == cache.root / "v1" / "depth" / "ab" / MEDIA / PARAMS / "00000007.sdc"


def test_entries_cached_by_the_build_before_the_gradient_codec_are_hits(cache):
    """A cache folder filled before the gradient codec (version-1 entries in v1/) keeps its hits; a
    rewrite of a frame replaces its entry with a version-2 one that reads the same values."""
    fixtures = Path(__file__).parent / "fixtures"
    expected = np.load(fixtures / "v1_expected.npz")["depth_f16"]
    ns = cache.namespace("depth", MEDIA, PARAMS)
    ns.path(5).parent.mkdir(parents=True)
    ns.path(5).write_bytes((fixtures / "v1_depth_f16.sdc").read_bytes())
    fake = Counter()
    hit = ns.get_or_compute(5, fake(5), shape_hint=(40, 56))
    assert fake.calls == [] and hit.tobytes() == expected.tobytes()
    ns.put(5, hit)
    assert ns.path(5).read_bytes()[4:6] == (2).to_bytes(2, "little")
    assert ns.get(5).tobytes() == expected.tobytes()


def test_a_new_cache_object_on_the_same_folder_reads_what_was_written(cache):
    cache.namespace("depth", MEDIA, PARAMS).put(3, depth(3))
    again = ArrayCache(cache.root, max_bytes=10**8).namespace("depth", MEDIA, PARAMS)
    np.testing.assert_allclose(again.get(3), depth(3), rtol=1e-3)


def test_any_parameter_kind_or_media_change_misses(cache):
    cache.namespace("depth", MEDIA, PARAMS).put(0, depth(0))
    other_params = params_fingerprint({"provider": "weights-free", "working_width": 640})
    assert cache.namespace("depth", MEDIA, other_params).get(0) is None
    assert cache.namespace("depth", "cd" + "1" * 62, PARAMS).get(0) is None
    assert cache.namespace("flow-fw", MEDIA, PARAMS).get(0) is None
    assert cache.namespace("depth", MEDIA, PARAMS).get(0) is not None


def test_media_changed_on_disk_after_caching_misses(cache, tmp_path):
    media = tmp_path / "shot.mov"
    media.write_bytes(b"frame data " * 1000)
    fake = Counter()
    cache.namespace("depth", cache.media_fingerprint(media), PARAMS).get_or_compute(0, fake(0))
    media.write_bytes(b"FRAME DATA " * 1000)  # same size, new content, new mtime and ctime
    changed = cache.namespace("depth", cache.media_fingerprint(media), PARAMS)
    assert changed.get(0) is None
    changed.get_or_compute(0, fake(0))
    assert fake.calls == [0, 0]
    index = json.loads((cache.root / "media-index.json").read_text())
    assert len({e["blake2b"] for e in index["entries"].values()}) == 2


def test_shape_hint_mismatch_misses_without_deleting(cache):
    ns = cache.namespace("depth", MEDIA, PARAMS)
    ns.put(1, depth(1))
    assert ns.get(1, shape_hint=(96, 128)) is None
    assert ns.get(1, shape_hint=(48, 64)) is not None


def test_corrupt_entry_is_a_miss_and_is_removed(cache):
    ns = cache.namespace("depth", MEDIA, PARAMS)
    ns.put(2, depth(2))
    data = ns.path(2).read_bytes()
    ns.path(2).write_bytes(data[: len(data) - 20])  # torn write
    assert ns.get(2) is None
    assert not ns.path(2).exists()
    fake = Counter()
    ns.get_or_compute(2, fake(2))
    assert fake.calls == [2] and ns.get(2) is not None


def test_lru_eviction_keeps_the_most_recently_used_under_the_cap(tmp_path):
    entry_size = len(encode(depth(0)))
    cap = int(entry_size * 5.5)
    cache = ArrayCache(tmp_path / "cache", max_bytes=cap)
    ns = cache.namespace("depth", MEDIA, PARAMS)
    for i in range(5):
        ns.put(i, depth(i))
    assert ns.get(0) is not None and ns.get(1) is not None  # 0 and 1 are now the most recently read
    ns.put(5, depth(5))
    ns.put(6, depth(6))  # crosses the cap: one eviction pass
    use_order = [2, 3, 4, 0, 1, 5, 6]  # oldest use first
    kept = ns.cached_indices()
    assert cache.size_bytes() <= cap
    assert {0, 1, 5, 6} <= set(kept)
    assert set(kept) == set(use_order[len(use_order) - len(kept):])  # exactly the most recent ones
    assert 2 not in kept


def test_over_cap_folder_is_trimmed_on_the_first_write(tmp_path):
    big = ArrayCache(tmp_path / "cache", max_bytes=10**8).namespace("depth", MEDIA, PARAMS)
    for i in range(8):
        big.put(i, depth(i))
    small = ArrayCache(tmp_path / "cache", max_bytes=len(encode(depth(0))) * 3)
    small.namespace("depth", MEDIA, PARAMS).put(8, depth(8))
    assert small.size_bytes() <= small.max_bytes
    assert 8 in big.cached_indices()


def test_meta_round_trip_and_corrupt_meta(cache):
    ns = cache.namespace("depth", MEDIA, PARAMS)
    assert ns.get_meta("range") is None
    ns.put_meta("range", {"lo": 0.25, "hi": 3.5, "kind": "inverse"})
    assert ns.get_meta("range") == {"lo": 0.25, "hi": 3.5, "kind": "inverse"}
    path = ns.folder / "range.meta.json"
    path.write_text("{half")
    assert ns.get_meta("range") is None and not path.exists()
    with pytest.raises(ValueError, match="meta key"):
        ns.put_meta("../escape", {})


@pytest.mark.parametrize("tag", ["CacheMeta.2", "CacheMeta.x", "CacheMediaIndex.1", None, 7])
def test_meta_with_another_schema_tag_is_a_miss_and_dropped(cache, tag):
    ns = cache.namespace("depth", MEDIA, PARAMS)
    ns.put_meta("range", {"lo": 0.25, "hi": 3.5})
    path = ns.folder / "range.meta.json"
    assert json.loads(path.read_text())["schema"] == "CacheMeta.1"
    path.write_text(json.dumps({"schema": tag, "key": "range", "value": {"lo": 9.0, "hi": 9.5}}))
    assert ns.get_meta("range") is None and not path.exists()
    ns.put_meta("range", {"lo": 0.5, "hi": 2.0})  # recomputed and stored again
    assert ns.get_meta("range") == {"lo": 0.5, "hi": 2.0}


def test_bad_names_are_refused(cache):
    with pytest.raises(ValueError, match="kind"):
        cache.namespace("../depth", MEDIA, PARAMS)
    with pytest.raises(ValueError, match="media_hash"):
        cache.namespace("depth", "not-hex", PARAMS)
    with pytest.raises(ValueError, match=">= 0"):
        cache.namespace("depth", MEDIA, PARAMS).put(-1, depth(0))


def assert_runs_uncached(cache: ArrayCache, tmp_path: Path) -> None:
    """A disabled cache: clear reason, gets miss, puts drop, compute still works; nothing raises."""
    assert not cache.enabled
    assert cache.disabled_reason and "not writable" in cache.disabled_reason
    assert str(cache.root) in cache.disabled_reason and "--cache-dir" in cache.disabled_reason
    assert cache.notes == [cache.disabled_reason]
    ns = cache.namespace("depth", MEDIA, PARAMS)
    fake = Counter()
    ns.put(0, depth(0))
    assert ns.get(0) is None and not ns.has_all([0]) and ns.cached_indices() == []
    ns.put_meta("range", {"lo": 0})
    assert ns.get_meta("range") is None
    first = ns.get_or_compute(0, fake(0))
    second = ns.get_or_compute(0, fake(0))
    assert fake.calls == [0, 0]
    np.testing.assert_array_equal(first, second)
    media = tmp_path / "m.bin"
    media.write_bytes(b"abc")
    assert len(cache.media_fingerprint(media)) == 64  # hashing still works, memo in process only


def test_folder_under_a_file_runs_uncached(tmp_path):
    (tmp_path / "a-file").write_text("x")
    assert_runs_uncached(ArrayCache(tmp_path / "a-file" / "cache"), tmp_path)


@pytest.fixture
def read_only_dir(tmp_path):
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount_point)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here (needs root): {done.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


@pytest.mark.parametrize("sub", ["", "cache"])
def test_read_only_folder_runs_uncached(read_only_dir, tmp_path, sub):
    assert_runs_uncached(ArrayCache(read_only_dir / sub if sub else read_only_dir), tmp_path)


def test_write_failure_mid_run_turns_the_cache_off_with_a_note(cache):
    ns = cache.namespace("depth", MEDIA, PARAMS)
    ns.put(0, depth(0))
    blocked = cache.namespace("depth", "ef" + "2" * 62, PARAMS)
    blocked.folder.parent.mkdir(parents=True)
    blocked.folder.write_text("not a folder")  # every write below it fails
    blocked.put(0, depth(0))
    assert not cache.enabled and "cannot write" in cache.disabled_reason
    assert len(cache.notes) == 1
    assert ns.get(0) is None  # off for the rest of the run


def test_no_cache_and_zero_cap_are_off_without_a_warning_note(tmp_path):
    off = ArrayCache(tmp_path / "c", enabled=False)
    assert not off.enabled and "--no-cache" in off.disabled_reason and off.notes == []
    assert not (tmp_path / "c").exists()  # never touched
    zero = ArrayCache(tmp_path / "c", max_bytes=0)
    assert not zero.enabled and zero.notes == []


def test_from_config_uses_the_config_folder_and_cap(tmp_path):
    cfg = UserConfig(cache_dir=tmp_path / "from-config", cache_max_gb=0.5)
    cache = ArrayCache.from_config(cfg)
    assert cache.root == tmp_path / "from-config" and cache.max_bytes == 500_000_000
    assert (cache.root / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert ArrayCache.from_config(cfg, cache_dir=tmp_path / "flag").root == tmp_path / "flag"
    assert not ArrayCache.from_config(cfg, no_cache=True).enabled


def test_default_folder_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ArrayCache().root == tmp_path / "xdg" / "spatialdreamer"


def test_clear_removes_every_entry(cache):
    ns = cache.namespace("depth", MEDIA, PARAMS)
    for i in range(3):
        ns.put(i, depth(i))
    assert cache.size_bytes() > 0
    cache.clear()
    assert cache.size_bytes() == 0 and ns.get(0) is None
    ns.put(0, depth(0))
    assert ns.get(0) is not None


def test_memory_does_not_grow_with_shot_length(cache):
    ns = cache.namespace("depth", MEDIA, PARAMS)
    frame = depth(0, (128, 128))
    ref = weakref.ref(frame)
    ns.put(0, frame)
    del frame
    gc.collect()
    assert ref() is None  # the cache kept no reference to the array it was given
    ns.get(0)  # warm up lazily allocated state
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1, 41):  # 40 frames of 64 KiB float32: 2.6 MB passed through
            ns.put(i, depth(i, (128, 128)))
            assert ns.get(i) is not None
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 64 * 1024
    assert len(ns.cached_indices()) == 41


def test_one_writer_and_readers_only_ever_see_whole_entries(cache):
    ns = cache.namespace("flow-fw", MEDIA, PARAMS)
    frames, rounds = 6, 25
    errors: list[str] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for value in range(1, rounds + 1):
                for i in range(frames):
                    ns.put(i, np.full((32, 48, 2), float(value), np.float32))
        finally:
            done.set()

    def reader() -> None:
        seen = 0
        while not done.is_set() or (seen == 0 and not errors):
            for i in range(frames):
                got = ns.get(i)
                if got is None:
                    continue
                seen += 1
                if got.shape != (32, 48, 2) or np.unique(got).size != 1:
                    errors.append(f"frame {i}: torn read")

    threads = [threading.Thread(target=fn, daemon=True) for fn in (writer, reader, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert all(float(ns.get(i)[0, 0, 0]) == rounds for i in range(frames))
    assert cache.enabled


def test_namespace_type_and_float32_storage(cache):
    ns = cache.namespace("flow-bw", MEDIA, PARAMS, float_storage="float32")
    assert isinstance(ns, CacheNamespace)
    flow = np.random.default_rng(0).normal(0, 300, (16, 16, 2)).astype(np.float32)
    ns.put(0, flow)
    np.testing.assert_array_equal(ns.get(0), flow)
    with pytest.raises(ValueError, match="float_storage"):
        cache.namespace("flow-bw", MEDIA, PARAMS, float_storage="int8")
