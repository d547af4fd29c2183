import numpy as np

from engine.cache import roundtrip
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
