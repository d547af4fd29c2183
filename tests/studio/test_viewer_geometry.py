"""Viewer zoom / pan geometry and the CPU compositor against the engine's packing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.ops import pack
from studio.viewer.cpu_compose import compose, parallax_pct
from studio.viewer.geometry import Zoom
from studio.viewer.modes import Budget, LiveGrade, content_size


def test_fit_centres_and_keeps_the_aspect():
    x, y, w, h = Zoom().rect((1000, 1000), (1920, 1080))
    assert (x, y, w, h) == pytest.approx((0, (1000 - 562.5) / 2, 1000, 562.5))


def test_one_to_one_and_zoom_about_a_point():
    z = Zoom().one_to_one()
    assert z.rect((800, 600), (640, 360))[2:] == (640, 360)
    anchor = (100.0, 120.0)
    before = z.content_point(anchor, (800, 600), (640, 360))
    z2 = z.zoomed(2.0, anchor, (800, 600), (640, 360))
    assert z2.scale == 2.0
    assert z2.content_point(anchor, (800, 600), (640, 360)) == pytest.approx(before)
    moved = z2.panned(10, -5, (800, 600), (640, 360))
    assert moved.rect((800, 600), (640, 360))[0] == pytest.approx(z2.rect((800, 600), (640, 360))[0] + 10)


def test_content_size_per_mode():
    assert content_size("sbs", 640, 360) == (1280, 360)
    assert content_size("tb", 640, 360) == (640, 720)
    assert content_size("anaglyph", 640, 360) == (640, 360)
    with pytest.raises(ValueError):
        content_size("nope", 1, 1)


def test_cpu_anaglyph_matches_the_engine_pack():
    rng = np.random.default_rng(3)
    left, right = (rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(2))
    ours = compose("anaglyph", left, np.zeros((24, 32), np.float32), (left, right), LiveGrade(), Budget())

    def t(a):
        return torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255.0

    ref = (pack(t(left), t(right), "anaglyph")[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1


def test_cpu_sbs_heatmap_and_parallax():
    rgb = np.full((10, 20, 3), 128, np.uint8)
    delta = np.tile(np.linspace(0, 1, 20, dtype=np.float32), (10, 1))
    assert compose("sbs", rgb, delta, (rgb, rgb), LiveGrade(), Budget()).shape == (10, 40, 3)
    p = parallax_pct(delta, LiveGrade(3.0, 1 / 3))
    assert p.min() == pytest.approx(-1.0) and p.max() == pytest.approx(2.0)
    hot = compose("heatmap", rgb, delta, None, LiveGrade(12.0, 0.5), Budget())
    inside = compose("heatmap", rgb, delta, None, LiveGrade(1.0, 0.5), Budget())
    # D = 12 % breaks the tv65 budget at both ends: those pixels are hatched magenta / red
    assert (hot[..., 1] < 40).sum() > (inside[..., 1] < 40).sum()
