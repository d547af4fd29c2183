"""Conforming an EDL / OTIO to a real media file: fps, length and start timecode come from the probe."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.document.otio_io import write_otio
from engine.errors import MediaError
from engine.media import open_media
from engine.shots import ShotDetectConfig, detect_shots, edl_to_project, otio_to_project, shots_to_project

EDL = """TITLE: conform
FCM: NON-DROP FRAME
001  AX  V  C  01:00:00:00 01:00:00:17 10:00:00:00 10:00:00:17
* FROM CLIP NAME: four_shots.mp4
002  AX  V  C  01:00:01:17 01:00:03:08 10:00:00:17 10:00:02:08
* FROM CLIP NAME: four_shots.mp4
"""


def test_edl_source_timecodes_are_read_against_the_clips_own_timecode(four_shot_clip, tmp_path):
    path, truth = four_shot_clip  # tagged 01:00:00:00, 80 frames at 24 fps
    edl = tmp_path / "conform.edl"
    edl.write_text(EDL)
    project = edl_to_project(edl, path)
    assert [(s.start, s.end) for s in project.shots] == [(0, truth[0]), (truth[1], 80)]
    assert project.fps == Fraction(24) and project.frame_count == 80 and project.media == str(path)


def test_detected_shots_survive_an_otio_round_trip_through_the_media(four_shot_clip, tmp_path):
    path, _ = four_shot_clip
    with open_media(path) as reader:
        ranges = detect_shots(reader, ShotDetectConfig())
        fps, count = reader.info.video.fps, reader.info.video.frame_count
    timeline = tmp_path / "cut.otio"
    write_otio(shots_to_project(str(path), fps, count, ranges), timeline)
    project = otio_to_project(timeline, path)
    assert [(s.start, s.end) for s in project.shots] == ranges
    assert project.frame_count == count


def test_missing_media_is_a_media_error(tmp_path):
    edl = tmp_path / "conform.edl"
    edl.write_text(EDL)
    with pytest.raises(MediaError):
        edl_to_project(edl, tmp_path / "gone.mp4")
