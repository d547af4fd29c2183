"""Per-frame QC measures on synthetic disparity with known percentiles and edge violations."""

import numpy as np
import pytest

from engine.grading.qc import delta_stats, parallax_histogram, parallax_stats, salient_mask, strip_width


def ramp(h=50, w=400):
    """δ rising left to right over exactly the values 0, 1/(w-1), ..., 1 in every row."""
    return np.tile(np.linspace(0.0, 1.0, w, dtype=np.float64), (h, 1))


def test_percentiles_of_a_known_distribution():
    d = np.tile(np.arange(-50.0, 50.0), (10, 1))  # 100 px wide: parallax −49 % .. +50 %, one value a column
    s = parallax_stats(d)
    assert s.p_min == pytest.approx(-49.0) and s.p_max == pytest.approx(50.0)
    assert s.p01 == pytest.approx(np.percentile(np.arange(-49.0, 51.0), 1))
    assert s.p99 == pytest.approx(np.percentile(np.arange(-49.0, 51.0), 99))
    assert s.valid == 1.0


def test_width_sets_the_percent_scale():
    d = np.full((4, 100), -5.0)  # 5 px behind the screen at 100 px = 5 %; counted in a 1000 px eye = 0.5 %
    assert parallax_stats(d).p99 == pytest.approx(5.0)
    assert parallax_stats(d, width=1000).p99 == pytest.approx(0.5)


def test_unknown_pixels_are_left_out():
    d = np.full((10, 100), -2.0)
    d[:, 50:] = np.nan
    d[0, 0] = np.inf
    s = parallax_stats(d)
    assert s.p01 == s.p99 == pytest.approx(2.0)
    assert s.valid == pytest.approx(0.499)


def test_window_violation_in_the_left_strip_only():
    w = 500
    d = np.full((20, w), -3.0)  # everything behind the screen ...
    d[:, : strip_width(w)] = 4.0  # ... except an object in front touching the left border (4 px = 0.8 %)
    s = parallax_stats(d)
    assert strip_width(w) == 5
    assert s.window_left == pytest.approx(0.8)
    assert s.window_right == pytest.approx(-0.6)  # behind: no violation


def test_window_strip_99th_percentile():
    w = 1000  # strip 10 px; d in the strip: 99 % of pixels at 1 px, 1 % at 20 px
    d = np.zeros((100, w))
    d[:, -10:] = 1.0
    d[:10, -1] = 20.0  # 10 of 1000 strip pixels
    s = parallax_stats(d)
    expected = np.percentile(d[:, -10:], 99) / w * 100
    assert s.window_right == pytest.approx(expected)


def test_delta_stats_map_exactly_to_parallax_stats():
    rng = np.random.default_rng(1)
    delta = rng.random((60, 300))
    delta[5:20, 100:200] = np.nan
    divergence, convergence, width = 2.7, 0.4, 300
    d_px = divergence / 100 * width * (convergence - delta)
    via_delta = delta_stats(delta).parallax(divergence, convergence)
    direct = parallax_stats(d_px)
    for field in ("p01", "p99", "p_min", "p_max", "salient", "window_left", "window_right", "valid"):
        assert getattr(via_delta, field) == pytest.approx(getattr(direct, field), abs=1e-9), field


def test_ramp_percentiles_in_delta():
    s = delta_stats(ramp())
    assert s.q01 == pytest.approx(0.01) and s.q99 == pytest.approx(0.99)
    assert s.strip_left == pytest.approx(0.0, abs=1e-9)  # the nearest δ is at the left border
    assert s.strip_right == pytest.approx(np.percentile(ramp()[:, -4:], 1)) and s.strip_right > 0.99


def test_salient_region_is_the_nearest_half_of_the_centre():
    delta = np.full((100, 100), 0.9)  # far background ...
    delta[40:60, 40:60] = 0.2  # ... a near subject in the middle, a quarter of ...
    delta[20:80, 20:40] = 0.2  # ... plus more of it: half of the 60 × 60 centre box is the subject
    delta[0:5, 0:5] = 0.0  # nearer, but outside the centre box: not salient
    assert salient_mask(delta.shape).sum() == 3600
    assert delta_stats(delta).salient == pytest.approx(0.2)


def test_empty_frame_gives_nan_not_an_error():
    s = parallax_stats(np.full((5, 20), np.nan))
    assert np.isnan(s.p01) and np.isnan(s.salient) and s.valid == 0.0


def test_shape_guard():
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        parallax_stats(np.zeros((2, 3, 4)))


def test_histogram_counts_and_clips():
    counts = parallax_histogram(np.array([0.01, 0.02, -20.0, 30.0, np.nan]))
    assert counts.sum() == 4
    assert counts[0] == 1 and counts[-1] == 1 and counts[200] == 2


def test_window_masked_columns_are_left_out_and_the_need_is_what_remains():
    w = 400
    delta = np.full((20, w), 0.8)
    delta[:, :12] = 0.0  # the nearest thing touches the left border, 12 px (3 %) wide; the strip is 4 px
    bare = delta_stats(delta).parallax(3.0, 0.5)
    assert bare.window_left == pytest.approx(1.5) and bare.p01 == pytest.approx(-1.5)
    narrow = delta_stats(delta, windows=(1.0, 0.0)).parallax(3.0, 0.5)  # a 1 % window: 1.5 − 1 % still needed
    assert narrow.window_left == pytest.approx(0.5) and narrow.p01 == pytest.approx(-1.5)
    wide = delta_stats(delta, windows=(3.0, 0.0)).parallax(3.0, 0.5)  # 3 %: the near columns are masked ...
    assert wide.p01 == pytest.approx(0.9) and wide.valid == pytest.approx(0.97)  # ... and out of the statistics
    assert wide.window_left < 0
