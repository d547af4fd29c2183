import numpy as np

from engine.cache import ArrayCache, prepare, roundtrip
from engine.jobs.depth_spool import DepthSpool


def test_spool_returns_what_the_cache_would_and_cleans_up():
    depth = np.random.default_rng(0).random((9, 13)).astype(np.float32) * 50
    depth[0, 0] = np.nan
    with DepthSpool() as spool:
        spool.put(7, depth)
        back = spool.get(7)
        folder = spool._dir
        assert back.dtype == np.float32 and back.shape == depth.shape
        np.testing.assert_array_equal(back, roundtrip(depth))
    assert not folder.exists()


def test_a_prepared_map_reads_back_as_put_would_store_it(tmp_path):
    rng = np.random.default_rng(9)
    depth = (rng.random((12, 17), dtype=np.float32) * 40.0).astype(np.float32)
    ns = ArrayCache(tmp_path / "cache").namespace("depth", "a" * 16, "b" * 16)
    with DepthSpool(tmp_path) as spool:
        for store in (spool, ns):
            store.put_prepared(3, *prepare(depth, store.float_storage))
            store.put(4, depth)
            assert np.array_equal(store.get(3), roundtrip(depth))
            assert np.array_equal(store.get(3), store.get(4))
