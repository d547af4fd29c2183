"""Chroma and colour decisions are said: 4:4:4 -> 4:2:0 noted, --pix-fmt keeps 4:4:4, untagged sources' guess noted."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import UsageError
from engine.media import EncodeSettings, probe
from engine.media.encode import chroma_of, encoder_plan
from tests.support.clips import write_clip


def noise(i: int) -> np.ndarray:
    return np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8)


def test_pix_fmt_choices_reach_the_encoder():
    assert encoder_plan(EncodeSettings()).pix_fmt == "yuv420p"
    assert encoder_plan(EncodeSettings(pix_fmt="yuv444p")).pix_fmt == "yuv444p"
    assert encoder_plan(EncodeSettings(codec="hevc", bit_depth=10, pix_fmt="yuv422p")).pix_fmt == "yuv422p10le"
    assert [chroma_of(f) for f in ("yuvj420p", "yuv422p10le", "yuva444p10le", "gbrp", "nv12")] == [
        "420", "422", "444", "rgb", "other"]
    with pytest.raises(UsageError, match="h264/hevc"):
        EncodeSettings(codec="ffv1", pix_fmt="yuv444p")
    with pytest.raises(UsageError, match="pix-fmt"):
        EncodeSettings(pix_fmt="nv12")


def test_a_444_source_is_told_it_becomes_420_and_can_stay_444(cli, tmp_path):
    source = write_clip(tmp_path / "s444.mkv", frames=3, codec="ffv1", pix_fmt="yuv444p", image_fn=noise)
    plain = cli("convert", source, "-o", tmp_path / "a.mp4", "--progress", "none")
    assert plain.code == 0 and "4:4:4" in plain.err and "--pix-fmt yuv444p" in plain.err, plain.err
    assert probe(tmp_path / "a.mp4").video.pix_fmt == "yuv420p"
    kept = cli("convert", source, "-o", tmp_path / "b.mp4", "--pix-fmt", "yuv444p", "--progress", "none")
    assert kept.code == 0 and "4:4:4" not in kept.err, kept.err
    assert probe(tmp_path / "b.mp4").video.pix_fmt == "yuv444p"


def test_an_untagged_source_gets_its_guess_said(cli, tmp_path):
    source = write_clip(tmp_path / "untagged.mp4", frames=3, image_fn=noise)
    assert probe(source).video.colorspace is None
    result = cli("convert", source, "-o", tmp_path / "o.mp4", "--progress", "none")
    assert result.code == 0 and "no colour tags" in result.err and "BT.601 (SD)" in result.err, result.err
