"""`convert --refiner DIR` with the tiny checkpoint that `train-refiner` wrote (the session's 60-step run):
a valid stereo master whose hole pixels differ from the geometric master's, real pixels kept."""

from __future__ import annotations

import cv2
import numpy as np

from engine import api
from tests.support.refiner import DEMO

FRAMES = 6


def frames_of(path) -> np.ndarray:
    with api.open_media(path) as media:
        return np.stack([media.frame(i).image for i in range(len(media))]).astype(np.int16)


def test_convert_with_the_trained_tiny_checkpoint(trained_tiny, tmp_path, cli):
    run, _, _ = trained_tiny
    holes = tmp_path / "holes"
    holes.mkdir()
    args = ("convert", DEMO, "--end", f"{FRAMES}f", "--max-width", "64", "--codec", "ffv1", "--synthesize", "right",
            "--no-cache", "--device", "cpu", "-q")
    assert cli(*args, "-o", tmp_path / "geo.mkv").code == 0
    result = cli(*args, "-o", tmp_path / "ref.mkv", "--refiner", str(run), "--export-holes", holes)
    assert result.code == 0, result.err
    geo, ref = frames_of(tmp_path / "geo.mkv"), frames_of(tmp_path / "ref.mkv")
    assert ref.shape == geo.shape == (FRAMES, 36, 128, 3)
    mask = frames_of(holes / "ref.holes_R.mkv")[..., 0] > 127
    diff = np.abs(ref[:, :, 64:] - geo[:, :, 64:]).max(axis=-1)
    assert mask.any() and (diff[mask] > 0).mean() > 0.5  # the trained refiner regenerated the holes
    far = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((21, 21), np.uint8)) == 0 for m in mask])
    assert diff[far].max() == 0  # and kept every real pixel away from them
