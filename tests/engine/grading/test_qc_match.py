"""Master QC from pixels: a synthetic stereo pair made by shifting images with numpy (known truth)."""

import numpy as np
import pytest

from engine.grading.qc import parallax_stats
from engine.grading.qc_match import (
    black_border_columns,
    colour_difference,
    eye_order_votes,
    match_pair,
    vertical_disparity,
)
from tests.engine.grading.stereo_scene import shifted_pair


def test_measured_parallax_matches_the_known_shifts():
    left, right = shifted_pair(d_bg=-6, d_fg=4)  # background 6 px behind, a box 4 px in front
    pair = match_pair(left, right)
    s = parallax_stats(pair.qc_map(strip=3))
    w = left.shape[1]
    assert s.p01 == pytest.approx(-4 / w * 100, abs=0.2)
    assert s.p99 == pytest.approx(6 / w * 100, abs=0.2)
    assert pair.matched > 0.7


@pytest.mark.parametrize(("d_bg", "d_fg"), [(-6, 4), (-9, -3), (2, 8)])
def test_eye_order_from_occlusions_not_from_the_parallax_sign(d_bg, d_fg):
    left, right = shifted_pair(d_bg=d_bg, d_fg=d_fg)  # (-9, -3): everything behind the screen
    ok = eye_order_votes(left, match_pair(left, right))
    swapped = eye_order_votes(right, match_pair(right, left))
    assert ok.verdict() == "ok", ok
    assert swapped.verdict() == "swapped", swapped


def test_vertical_disparity_is_measured():
    left, right = shifted_pair(d_bg=-4, d_fg=3)
    assert abs(vertical_disparity(left, right)[0]) < 0.5
    lowered = np.roll(right, 4, axis=0)
    dy, matches = vertical_disparity(left, lowered)
    assert matches >= 8 and dy == pytest.approx(4.0, abs=0.5)


def test_colour_mismatch_is_measured():
    left, right = shifted_pair(d_bg=-4, d_fg=3)
    assert colour_difference(left, right) < 1.0
    warm = np.clip(right.astype(np.float32) * [1.0, 0.85, 0.8], 0, 255).astype(np.uint8)
    assert colour_difference(left, warm) > 5.0


def test_two_unrelated_images_do_not_match():
    left, _ = shifted_pair(d_bg=-4, d_fg=3, seed=1)
    other, _ = shifted_pair(d_bg=-4, d_fg=3, seed=2)
    assert match_pair(left, other).matched < 0.25


def test_black_window_columns_are_not_measured():
    left, right = shifted_pair(d_bg=-4, d_fg=3)
    left[:, :7] = 0
    assert black_border_columns(left) == (7, 0)
    pair = match_pair(left, right)
    assert np.isnan(pair.left[:, :7]).all()


def test_window_violation_at_the_left_border_is_seen_in_the_right_eye():
    left, right = shifted_pair(d_bg=-4, d_fg=6, box=(30, 130, 0, 60))  # a near box cut by the left border
    s = parallax_stats(match_pair(left, right).qc_map(strip=3))
    w = left.shape[1]
    assert s.window_left == pytest.approx(6 / w * 100, abs=0.25)
    assert s.window_right < 0
