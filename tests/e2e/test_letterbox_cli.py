"""A letterboxed clip's bars stay on the screen plane (d = 0) and out of the depth range."""

from __future__ import annotations

import numpy as np

from engine.media.exr import read_exr
from engine.ops.bars import Bars, detect_bars
from tests.support.clips import write_clip

W, H, BAR = 64, 48, 8


def letterboxed(index: int) -> np.ndarray:
    """(H, W, 3) uint8: black bars top and bottom, a bright textured picture between."""
    rng = np.random.default_rng(index)
    image = np.zeros((H, W, 3), np.uint8)
    y, x = np.mgrid[0:H - 2 * BAR, 0:W]
    picture = 60 + 3 * x + 2 * y + index
    image[BAR:H - BAR] = np.clip(picture[..., None] + rng.integers(0, 40, (H - 2 * BAR, W, 3)), 0, 255)
    return image


def test_detect_bars_letterbox_pillarbox_and_not_a_fade():
    bars = detect_bars([letterboxed(k) for k in range(3)])
    assert bars == Bars(BAR, BAR, 0, 0, (W, H))
    pillar = [np.ascontiguousarray(letterboxed(k).transpose(1, 0, 2)) for k in range(3)]
    assert detect_bars(pillar) == Bars(0, 0, BAR, BAR, (H, W))
    assert detect_bars([np.zeros((H, W, 3), np.uint8)]) is None  # a black frame has no bars to speak of
    assert detect_bars([np.full((H, W, 3), 128, np.uint8)]) is None
    assert bars.scaled((32, 24)) == Bars(BAR // 2, BAR // 2, 0, 0, (32, 24))
    assert bars.mask()[:BAR].all() and not bars.mask()[BAR:H - BAR].any() and bars.mask()[H - BAR:].all()


def export(cli, tmp_path, source, name, *extra):
    out = tmp_path / name
    result = cli("convert", source, "-o", tmp_path / f"{name}.mkv", "--codec", "ffv1", "--export-depth", out,
                 "--export-disparity", out / "disp", "--no-cache", "--progress", "none", "--divergence", "4", *extra)
    assert result.code == 0, result.err
    return result, [read_exr(out / "disp" / f"source.disparity.{k:06d}.exr")["disparity"] for k in range(3)]


def test_letterbox_bars_have_zero_disparity(cli, tmp_path):
    source = write_clip(tmp_path / "source.mkv", frames=3, image_fn=letterboxed, codec="ffv1", pix_fmt="bgr0")
    result, maps = export(cli, tmp_path, source, "lb")
    assert "letterbox/pillarbox bars (8 px top, 8 px bottom at eye size)" in result.err
    for d in maps:  # (the export writes d = 0 as the smallest float, since 0 means unknown on re-import)
        assert np.abs(d[:BAR]).max() < 1e-30 and np.abs(d[H - BAR:]).max() < 1e-30
        picture = d[BAR:H - BAR]
        assert np.nanmax(picture) - np.nanmin(picture) > 1.0  # the picture still has its depth
    _, off = export(cli, tmp_path, source, "off", "--bars", "off")
    assert any(np.abs(d[:BAR]).max() > 0.1 for d in off)  # without it the bars float off the screen plane
