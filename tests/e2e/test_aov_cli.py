"""convert --layout pair --aov: each eye's hole mask and disparity for compositing, read back from the files."""

from __future__ import annotations

import av
import numpy as np

from engine.media.exr import read_exr
from engine.media.sequence import read_frame
from tests.support.clips import write_clip

ARGS = ("--layout", "pair", "--aov", "--no-cache", "--progress", "none", "--divergence", "6")


def test_exr_png_and_prores_4444_carry_the_same_passes(cli, tmp_path):
    source = write_clip(tmp_path / "s.mp4", frames=2)
    exr = cli("convert", source, "-o", tmp_path / "e.%04d.exr", *ARGS)
    assert exr.code == 0, exr.err
    passes = {}
    for eye in "LR":
        channels = read_exr(tmp_path / f"e_{eye}.0001.exr")
        assert sorted(channels) == ["B", "G", "R", "disparity", "hole"]
        hole, disparity = channels["hole"].astype(np.float32), channels["disparity"]
        assert channels["hole"].dtype == np.float16 and disparity.dtype == np.float32
        assert set(np.unique(hole)) <= {0.0, 1.0}
        assert np.isfinite(disparity[hole == 0]).all() and np.isnan(disparity[hole == 1]).all()
        passes[eye] = hole, disparity
    assert passes["L"][0].any() or passes["R"][0].any()  # a 6 % divergence opens holes
    assert (passes["L"][1][passes["L"][0] == 0] != 0).any()  # the grade's disparity, not zeros

    png = cli("convert", source, "-o", tmp_path / "p.%04d.png", *ARGS)
    assert png.code == 0, png.err
    for eye in "LR":
        mask, _ = read_frame(tmp_path / f"p_{eye}.hole.0001.png")
        assert np.array_equal(mask[..., 0] == 255, passes[eye][0] == 1)
        disparity = read_exr(tmp_path / f"p_{eye}.disparity.0001.exr")["disparity"]
        assert np.array_equal(np.isnan(disparity), np.isnan(passes[eye][1]))

    mov = cli("convert", source, "-o", tmp_path / "m.mov", "--codec", "prores", "--prores-profile", "4444", *ARGS)
    assert mov.code == 0, mov.err
    for eye in "LR":
        with av.open(str(tmp_path / f"m_{eye}.mov")) as container:
            frame = [f for _, f in zip(range(2), container.decode(video=0), strict=False)][1]
        assert frame.format.name.startswith("yuva444p")
        alpha = frame.to_ndarray(format="rgba64le")[..., 3].astype(np.float32) / 65520.0
        assert np.abs(alpha - (1.0 - passes[eye][0])).max() < 0.01  # alpha = 1 - hole, straight


def test_aov_refusals(cli, tmp_path):
    source = write_clip(tmp_path / "s.mp4", frames=2)
    packed = cli("convert", source, "--aov", "-o", tmp_path / "a.%04d.exr")
    assert packed.code == 2 and "--layout pair" in packed.err
    mp4 = cli("convert", source, "--aov", "--layout", "pair", "-o", tmp_path / "a.mp4")
    assert mp4.code == 2 and "prores-profile 4444" in mp4.err
    assert not list(tmp_path.glob("a*"))
