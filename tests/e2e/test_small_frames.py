"""Frames DIS flow cannot take as they are (tiny, flat strips, tiny after --max-width) still convert."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from engine.media import probe
from tests.support.clips import write_clip
from tests.support.data import ROOT


def noise(height: int, width: int):
    return lambda i: np.random.default_rng(i).integers(0, 255, (height, width, 3), dtype=np.uint8)


def test_max_width_100_on_a_wide_source_converts(tmp_path):
    """1920x540 at --max-width 100 gave a 100x28 eye: DIS segfaulted (exit 139). In a child process."""
    wide = write_clip(tmp_path / "wide.mp4", frames=3, image_fn=noise(540, 1920), options={"preset": "ultrafast"})
    out = tmp_path / "o.mp4"
    done = subprocess.run([sys.executable, "-m", "engine", "convert", str(wide), "-o", str(out), "--max-width", "100",
                           "--progress", "none"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.returncode, done.stderr[-800:])
    assert (probe(out).video.width, probe(out).video.height) == (200, 28)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 5), (64, 2048)], ids=["1x1", "2x2", "5x3", "2048x64-strip"])
def test_tiny_and_strip_sources_convert(cli, tmp_path, size):
    height, width = size
    source = write_clip(tmp_path / "s.mkv", frames=3, codec="ffv1", pix_fmt="yuv444p", image_fn=noise(height, width))
    out = tmp_path / "o.mkv"
    result = cli("convert", source, "-o", out, "--codec", "ffv1", "--progress", "none")
    assert result.code == 0, result.err
    assert probe(out).video.frame_count == 3 and "Traceback" not in result.err
