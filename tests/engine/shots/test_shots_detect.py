"""Cut detection on synthetic clips with known cuts (PySceneDetect detectors fed by our reader)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import Cancelled, UsageError
from engine.media import open_media
from engine.progress import CancelToken, Progress
from engine.shots import ShotDetectConfig, analysis_frame, detect_cuts, detect_shots


def run(job):
    """Drain a detect_cuts generator: (progress reports, returned cuts)."""
    reports = []
    while True:
        try:
            reports.append(next(job))
        except StopIteration as stop:
            return reports, stop.value


def cuts_of(ranges: list[tuple[int, int]]) -> list[int]:
    return [start for start, _ in ranges[1:]]


@pytest.mark.parametrize("detector", ["content", "adaptive"])
def test_every_cut_found_within_one_frame_and_no_false_cuts(four_shot_clip, detector):
    # shots: slow drift, slow drift, a 6 px/frame pan, a 0.45 -> 1.0 brightness ramp
    path, truth = four_shot_clip
    with open_media(path) as reader:
        ranges = detect_shots(reader, ShotDetectConfig(detector=detector))
    found = cuts_of(ranges)
    assert len(found) == len(truth), (found, truth)
    assert all(abs(f - t) <= 1 for f, t in zip(found, truth, strict=True)), (found, truth)
    assert ranges[0][0] == 0 and ranges[-1][1] == 80
    assert all(a < b for a, b in ranges) and all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))


def test_fast_pan_fools_a_fixed_threshold_frame_by_frame_but_not_adaptive(fast_pan_clip):
    path, truth = fast_pan_clip  # cuts at 20 and 50; a 12 px/frame pan in between
    with open_media(path) as reader:
        naive = cuts_of(detect_shots(reader, ShotDetectConfig(detector="content", min_shot_frames=1)))
        adaptive = cuts_of(detect_shots(reader, ShotDetectConfig(detector="adaptive", min_shot_frames=1)))
        adaptive_default = cuts_of(detect_shots(reader, ShotDetectConfig(detector="adaptive")))
        content_default = cuts_of(detect_shots(reader, ShotDetectConfig(detector="content")))
    # the pan scores above the content threshold on most frames: it is "fast" by that measure
    assert sum(20 < c < 50 for c in naive) > 20, naive
    assert adaptive == truth and adaptive_default == truth
    # the content detector's merge filter (min shot length) folds a pan that stays above its
    # threshold into the cut that ends it, so with our default min_shot_frames it is right too
    assert content_default == truth


def test_pan_that_starts_and_stops_inside_a_shot(pan_inside_shot_clip):
    # Why adaptive is the default: the content detector's merge filter turns the start and the end
    # of a fast pan inside one shot into cuts; the adaptive ratio sees steady motion and reports none.
    path, truth = pan_inside_shot_clip
    assert truth == []
    with open_media(path) as reader:
        adaptive = detect_shots(reader, ShotDetectConfig(detector="adaptive", min_shot_frames=1))
        content = detect_shots(reader, ShotDetectConfig(detector="content"))
    assert adaptive == [(0, 50)]
    assert len(content) > 1 and all(15 <= c <= 35 for c in cuts_of(content)), content


@pytest.mark.parametrize("detector", ["content", "adaptive"])
def test_min_shot_frames_is_respected(make_clip, detector):
    path, truth = make_clip((17, 4, 19, 20))  # a 4-frame shot between cuts 17 and 21
    assert truth == [17, 21, 40]
    with open_media(path) as reader:
        strict = detect_shots(reader, ShotDetectConfig(detector=detector, min_shot_frames=8))
        loose = detect_shots(reader, ShotDetectConfig(detector=detector, min_shot_frames=3))
    assert all(b - a >= 8 for a, b in strict), strict
    assert 40 in cuts_of(strict) and len(set(cuts_of(strict)) & {17, 21}) == 1, strict
    assert cuts_of(loose) == truth


@pytest.mark.parametrize("tail", [1, 2])
@pytest.mark.parametrize("detector", ["content", "adaptive"])
def test_cut_in_the_last_frames_is_found(make_clip, detector, tail):
    # adaptive needs two frames of look-ahead: past the end the last frame is held
    path, truth = make_clip((30, tail))
    with open_media(path) as reader:
        ranges = detect_shots(reader, ShotDetectConfig(detector=detector, min_shot_frames=1))
        merged = detect_shots(reader, ShotDetectConfig(detector=detector, min_shot_frames=tail + 1))
    assert cuts_of(ranges) == truth == [30]
    assert merged == [(0, 30 + tail)]  # a last shot shorter than min_shot_frames joins the one before


def test_generator_reports_progress_and_returns_cuts_in_a_sub_range(four_shot_clip):
    path, _ = four_shot_clip
    with open_media(path) as reader:
        reports, cuts = run(detect_cuts(reader, ShotDetectConfig(min_shot_frames=4), start=10, end=50))
        _, whole = run(detect_cuts(reader, ShotDetectConfig(detector="content")))
    assert cuts == [17, 41]
    assert reports == [Progress("shots", i, 40) for i in range(1, 41)]
    assert whole == [17, 41, 60]


def test_cancel_stops_between_frames(four_shot_clip):
    path, _ = four_shot_clip
    token = CancelToken()
    seen = 0
    with open_media(path) as reader, pytest.raises(Cancelled):
        for report in detect_cuts(reader, cancel=token):
            seen = report.done
            if report.done == 5:
                token.cancel()
    assert seen == 5


def test_threshold_is_passed_to_the_detector(four_shot_clip):
    path, _ = four_shot_clip
    with open_media(path) as reader:
        # HSV differences are averaged over three 0..255 channels; no frame here differs by 150
        ranges = detect_shots(reader, ShotDetectConfig(detector="content", threshold=150.0))
    assert ranges == [(0, 80)]


def test_empty_range_is_a_usage_error(four_shot_clip):
    path, _ = four_shot_clip
    with open_media(path) as reader, pytest.raises(UsageError, match="empty"):
        detect_shots(reader, start=50, end=50)


def test_analysis_frame_downscales_to_bgr_and_reads_16_bit():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    small = analysis_frame(rgb, 320)
    assert small.shape == (180, 320, 3) and small.dtype == np.uint8 and small.flags.c_contiguous
    # BGR order: the red channel of a pure-red frame lands in channel 2
    red = np.zeros((90, 160, 3), np.uint8)
    red[..., 0] = 200
    assert analysis_frame(red, 320)[..., 2].min() == 200 and analysis_frame(red, 320)[..., :2].max() == 0
    # uint16 on the full scale reads the same as its 8-bit original; narrow frames keep their size
    assert np.array_equal(analysis_frame(rgb.astype(np.uint16) * 257, 1000), analysis_frame(rgb, 1000))
    with pytest.raises(ValueError):
        analysis_frame(rgb.astype(np.float32), 320)


@pytest.mark.parametrize("kwargs", [{"detector": "histogram"}, {"threshold": 0.0}, {"min_shot_frames": 0},
                                    {"analysis_width": 8}])
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        ShotDetectConfig(**kwargs)
