"""The virtual screen: the `headset` preset of CONVENTIONS.md, adjustment, recentre, head-locked."""

from __future__ import annotations

import math

import pytest

from studio.xr.geometry import (
    HEADSET_IPD_M,
    Placement,
    Pose,
    ScreenGeometry,
    screen_pose,
    screen_size,
    vergence_change_deg,
    yaw_quaternion,
)


def test_xr_geometry_default_is_the_headset_preset():
    g = ScreenGeometry()
    assert screen_pose(g).position == pytest.approx((0.0, 0.0, -2.5))
    assert screen_size(g, 1920, 1080) == pytest.approx((3.0, 3.0 * 1080 / 1920))


def test_xr_geometry_one_degree_of_vergence_is_the_conventions_budget():
    # CONVENTIONS.md: IPD 65 mm, 3 m at 2.5 m, so ±1° of vergence is p ∈ [−1.455 %, +1.455 %] of the width
    g = ScreenGeometry()
    assert vergence_change_deg(0.01455, g) == pytest.approx(-1.0, abs=0.01)
    assert vergence_change_deg(-0.01455, g) == pytest.approx(1.0, abs=0.02)
    assert vergence_change_deg(0.0, g) == 0.0
    assert vergence_change_deg(0.065 / 3.0, g) == -math.inf  # the eyes would diverge


def test_xr_geometry_adjust_size_distance_height():
    g = ScreenGeometry().resized(width_m=5.0, distance_m=4.0, height_m=0.3)
    assert screen_pose(g).position == pytest.approx((0.0, 0.3, -4.0))
    assert screen_size(g, 100, 50) == pytest.approx((5.0, 2.5))
    with pytest.raises(ValueError, match="distance"):
        ScreenGeometry(distance_m=0.0)
    with pytest.raises(ValueError, match="no pixels"):
        screen_size(g, 0, 10)


def test_xr_geometry_recentre_follows_heading_not_pitch():
    head = Pose((1.0, 1.7, 2.0), yaw_quaternion(math.pi))  # turned round
    g = ScreenGeometry().recentred(head)
    pose = screen_pose(g)
    assert pose.position == pytest.approx((1.0, 1.7, 4.5))
    # a pitched head (looking down 30°) recentres by heading only: the screen stays upright
    s = math.sin(math.radians(-15))
    pitched = Pose((0.0, 0.0, 0.0), (s, 0.0, 0.0, math.cos(math.radians(-15))))
    assert screen_pose(ScreenGeometry().recentred(pitched)).orientation == pytest.approx((0.0, 0.0, 0.0, 1.0))


def test_xr_geometry_head_locked_ignores_the_anchor():
    g = ScreenGeometry(placement=Placement.HEAD_LOCKED, distance_m=1.2,
                       anchor=Pose((5.0, 5.0, 5.0), yaw_quaternion(1.0)))
    assert screen_pose(g) == Pose((0.0, 0.0, -1.2))


def test_xr_geometry_matches_the_engines_headset_preset():
    # the studio's parallax readout (engine screen preset) and the headset's virtual screen agree
    from engine.grading.qc_screens import IPD_M, SCREENS

    preset, g = SCREENS["headset"], ScreenGeometry()
    assert (g.width_m, g.distance_m) == (preset.width_m, preset.distance_m)
    assert HEADSET_IPD_M == IPD_M
    for p_pct in (-1.455, -0.5, 0.0, 0.7, 1.455):
        assert vergence_change_deg(p_pct / 100.0, g) == pytest.approx(preset.vergence_deg(p_pct), abs=1e-9)
