"""Cut lists <-> half-open shot ranges <-> projects."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.document import StereoParams
from engine.shots import cuts_to_ranges, enforce_min_length, ranges_to_cuts, shots_to_project


def test_cuts_split_the_range_into_half_open_shots():
    assert cuts_to_ranges([17, 41, 60], 0, 80) == [(0, 17), (17, 41), (41, 60), (60, 80)]
    assert cuts_to_ranges([], 5, 9) == [(5, 9)]
    assert ranges_to_cuts(cuts_to_ranges([17, 41, 60], 0, 80)) == [17, 41, 60]
    with pytest.raises(ValueError):
        cuts_to_ranges([41, 17], 0, 80)
    with pytest.raises(ValueError):
        cuts_to_ranges([0], 0, 80)  # a cut at the range start is not a cut
    with pytest.raises(ValueError):
        cuts_to_ranges([], 4, 4)


def test_min_length_drops_cuts_too_close_to_the_previous_one_and_to_the_end():
    assert enforce_min_length([17, 41, 60], 0, 80, 8) == [17, 41, 60]
    assert enforce_min_length([60, 17, 17, 41], 0, 80, 8) == [17, 41, 60]  # any order, duplicates
    assert enforce_min_length([3, 17, 21, 40], 0, 80, 8) == [17, 40]  # 3: too close to the start
    assert enforce_min_length([17, 75], 0, 80, 8) == [17]  # a 5-frame tail joins the shot before
    assert enforce_min_length([17, 75], 0, 80, 5) == [17, 75]
    assert enforce_min_length([0, 80, 90, -3], 0, 80, 1) == []  # outside (start, end)
    assert enforce_min_length([2, 4], 0, 6, 8) == []  # a range shorter than the minimum stays whole
    for cuts in ([5, 9, 14, 30, 33, 70, 77], list(range(1, 80))):
        kept = enforce_min_length(cuts, 0, 80, 8)
        assert all(b - a >= 8 for a, b in cuts_to_ranges(kept, 0, 80)), kept
    with pytest.raises(ValueError):
        enforce_min_length([10], 0, 80, 0)


def test_project_has_one_default_graded_shot_per_range():
    project = shots_to_project("clip.mov", Fraction(24000, 1001), 100, [(0, 17), (17, 41), (50, 100)],
                               name="clip")
    assert project.fps == Fraction(24000, 1001) and project.frame_count == 100 and project.media == "clip.mov"
    assert [(s.start, s.end) for s in project.shots] == [(0, 17), (17, 41), (50, 100)]
    assert [s.name for s in project.shots] == ["Shot 001", "Shot 002", "Shot 003"]
    for shot in project.shots:
        assert shot.grade.keyed_frames() == (shot.start,)
        assert shot.grade.at(shot.start) == StereoParams()
    assert project.shot_at(45) is None  # gaps are allowed
    with pytest.raises(ValueError):
        shots_to_project("clip.mov", Fraction(24), 50, [(0, 60)])
