"""engine.refiner.tiling: window plans, seam weights, tiles."""

from __future__ import annotations

import pytest
import torch

from engine.refiner.tiling import WindowBlender, plan_tiles, plan_windows, tile_weight, window_weights


def test_windows_are_anchored_at_the_shot_start():
    assert plan_windows(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert plan_windows(11, 4, 1) == [(0, 4), (3, 7), (6, 10), (9, 13)]  # the last one padded
    assert plan_windows(3, 4, 1) == [(0, 4)]  # a shot shorter than the window: one padded window
    assert plan_windows(0, 4, 1) == []
    assert plan_windows(7, 7, 0) == [(0, 7)]
    with pytest.raises(ValueError):
        plan_windows(5, 4, 4)


def test_window_weights_sum_to_one_on_every_frame():
    for length, window, overlap in ((10, 4, 1), (25, 8, 3), (9, 5, 2), (6, 6, 0)):
        windows = plan_windows(length, window, overlap)
        total = torch.zeros(windows[-1][1])
        for k, (a, b) in enumerate(windows):
            total[a:b] += window_weights(k, windows, overlap)
        torch.testing.assert_close(total[:length], torch.ones(length))


def test_blender_blends_and_releases_in_order():
    windows = plan_windows(7, 4, 1)
    blender, out = WindowBlender(), []
    for k, (a, b) in enumerate(windows):
        frames = torch.full((b - a, 1, 2, 2), float(k))
        blender.add(a, frames, window_weights(k, windows, 1), 7)
        nxt = windows[k + 1][0] if k + 1 < len(windows) else 7
        out += blender.pop_before(nxt)
    assert [t for t, _ in out] == list(range(7))
    assert float(out[3][1].mean()) == pytest.approx(0.5)  # the seam frame is half of each window
    assert float(out[0][1].mean()) == 0 and float(out[6][1].mean()) == 1


def test_tiles_cover_with_overlap():
    assert plan_tiles(10, 0, 2) == [(0, 10)] and plan_tiles(10, 12, 2) == [(0, 10)]
    spans = plan_tiles(30, 12, 4)
    assert spans[0] == (0, 12) and spans[-1] == (18, 30)
    covered = torch.zeros(30)
    for a, b in spans:
        covered[a:b] += 1
    assert bool((covered >= 1).all())
    w = tile_weight((0, 12), (8, 20), (30, 20), 3)
    assert w.shape == (12, 12) and float(w.min()) > 0 and float(w[0, -1]) == 1.0  # no ramp at image borders
    assert float(w[-1, 0]) < 0.5  # ramps where other tiles continue
