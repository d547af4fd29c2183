"""Our built-in cut detectors: the score and ratio, and the same cuts as PySceneDetect on our test clips."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from engine.media import open_media
from engine.shots import ShotDetectConfig, detect_shots
from engine.shots.builtin import AdaptiveCuts, ContentCuts, adaptive_ratio, content_score, hsv_planes

HAS_SCENEDETECT = importlib.util.find_spec("scenedetect") is not None


def test_content_score_is_the_mean_hsv_plane_difference():
    a = np.zeros((4, 6, 3), np.uint8)
    b = np.full((4, 6, 3), 255, np.uint8)  # black -> white: H 0, S 0, V 255
    assert content_score(hsv_planes(a), hsv_planes(a)) == 0.0
    assert content_score(hsv_planes(a), hsv_planes(b)) == pytest.approx(255 / 3)


def test_adaptive_ratio_against_its_neighbours():
    assert adaptive_ratio([1.0, 1.0, 9.0, 2.0, 2.0], 2, 15.0) == pytest.approx(6.0)
    assert adaptive_ratio([0.0, 0.0, 20.0, 0.0, 0.0], 2, 15.0) == 255.0  # a cut out of a still shot
    assert adaptive_ratio([0.0, 0.0, 10.0, 0.0, 0.0], 2, 15.0) == 0.0  # too small to be a cut at all


def frames_with_cuts(cuts: list[int], count: int) -> list[np.ndarray]:
    """Flat frames whose colour changes at each cut, plus a little noise."""
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 255, (len(cuts) + 1, 3))
    shot = np.searchsorted(np.asarray(cuts), np.arange(count), side="right")
    return [np.clip(colours[s] + rng.integers(-2, 3, (24, 32, 3)), 0, 255).astype(np.uint8) for s in shot]


@pytest.mark.parametrize("detector", [ContentCuts, AdaptiveCuts])
def test_hard_cuts_are_found_exactly(detector):
    frames, found = frames_with_cuts([10, 25, 31], 40), []
    det = detector(min_shot_frames=4)
    for i, bgr in enumerate(frames):
        found += det.push(i, bgr)
    found += det.finish(40, frames[-1])
    assert found == [10, 25, 31]


def test_a_cut_in_the_last_frames_is_judged_by_holding_the_last_frame():
    frames, found = frames_with_cuts([38], 40), []
    det = AdaptiveCuts(min_shot_frames=1)
    for i, bgr in enumerate(frames):
        found += det.push(i, bgr)
    assert found + det.finish(40, frames[-1]) == [38]


def test_builtin_is_the_default_backend():
    assert ShotDetectConfig().backend == "builtin"
    with pytest.raises(ValueError, match="backend"):
        ShotDetectConfig(backend="ffmpeg")


@pytest.mark.skipif(not HAS_SCENEDETECT, reason="PySceneDetect not installed (it is optional)")
@pytest.mark.parametrize("clip", ["four_shot_clip", "fast_pan_clip", "pan_inside_shot_clip"])
@pytest.mark.parametrize("detector", ["content", "adaptive"])
@pytest.mark.parametrize("min_frames", [1, 8])
def test_same_cuts_as_pyscenedetect_within_one_frame(request, clip, detector, min_frames):
    path, _ = request.getfixturevalue(clip)
    found = {}
    for backend in ("builtin", "pyscenedetect"):
        with open_media(path) as reader:
            ranges = detect_shots(reader, ShotDetectConfig(detector=detector, min_shot_frames=min_frames,
                                                           backend=backend))
        found[backend] = [a for a, _ in ranges[1:]]
    ours, theirs = found["builtin"], found["pyscenedetect"]
    assert len(ours) == len(theirs) and all(abs(a - b) <= 1 for a, b in zip(ours, theirs, strict=True)), found
