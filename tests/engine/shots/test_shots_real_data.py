"""Cut detection on real footage (../shared/data): fast camera motion is not a cut; a real splice is."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.media import open_media
from engine.shots import ShotDetectConfig, detect_shots
from tests.support.data import shared_data
from tests.support.shot_clips import encode

DAVIS = ("mono_videos", "davis_rollercoaster.mp4")  # 70 frames, 24 fps, fast camera motion, one shot
EUROC = ("stereo_video", "euroc_v1_01", "euroc_V1_01_cam0_left_95f_20fps.mp4")  # grey indoor drone footage


def frames(path, count: int, size: tuple[int, int] = (160, 90)) -> list[np.ndarray]:
    with open_media(path) as reader:
        return [cv2.resize(f.image, size, interpolation=cv2.INTER_AREA) for f in reader.frames(0, count)]


@pytest.mark.parametrize("detector", ["content", "adaptive"])
def test_fast_real_camera_motion_is_not_a_cut(detector):
    with open_media(shared_data(*DAVIS)) as reader:
        ranges = detect_shots(reader, ShotDetectConfig(detector=detector, min_shot_frames=1))
    assert ranges == [(0, 70)]


@pytest.mark.parametrize("detector", ["content", "adaptive"])
def test_splice_of_real_footage_is_found_exactly(tmp_path, detector):
    davis, euroc = frames(shared_data(*DAVIS), 70), frames(shared_data(*EUROC), 30)
    # DAVIS 0..39 | EuRoC 0..29 | DAVIS 40..69: cuts at 40 and 70, the second back into the motion
    path = encode(tmp_path / "splice.mp4", davis[:40] + euroc + davis[40:])
    with open_media(path) as reader:
        ranges = detect_shots(reader, ShotDetectConfig(detector=detector))
    assert ranges == [(0, 40), (40, 70), (70, 100)]
