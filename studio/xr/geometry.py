"""Where the virtual screen sits: the `headset` preset of CONVENTIONS.md, adjustable, recentrable.

Pure functions on plain tuples (metres, OpenXR axes: +x right, +y up, -z forward); `session` turns
them into `xr.Posef`. Both eyes' quad layers share one pose and size, so an image parallax of p (as a
fraction of the image width) is a physical parallax of p · width on the screen: exactly the geometry
the studio's parallax readout uses for the `headset` preset (3 m wide at 2.5 m, IPD 65 mm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import Enum

# The `headset` screen preset (CONVENTIONS.md, "Screens and comfort budgets").
HEADSET_SCREEN_WIDTH_M = 3.0
HEADSET_SCREEN_DISTANCE_M = 2.5
HEADSET_IPD_M = 0.065


class Placement(Enum):
    WORLD = "world"  # a screen fixed in the room (LOCAL space), recentrable
    HEAD_LOCKED = "head-locked"  # a comfort view that follows the head (VIEW space)


@dataclass(frozen=True)
class Pose:
    """A rigid pose: `position` (x, y, z) in metres, `orientation` quaternion (x, y, z, w)."""

    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    orientation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class ScreenGeometry:
    """The virtual screen: width, distance in front of the anchor, height above it (metres)."""

    width_m: float = HEADSET_SCREEN_WIDTH_M
    distance_m: float = HEADSET_SCREEN_DISTANCE_M
    height_m: float = 0.0
    placement: Placement = Placement.WORLD
    anchor: Pose = Pose()  # where "straight ahead" was at the last recentre (WORLD only)

    def __post_init__(self) -> None:
        if not (0.1 <= self.width_m <= 100.0):
            raise ValueError(f"screen width {self.width_m} m is outside 0.1 … 100 m")
        if not (0.1 <= self.distance_m <= 100.0):
            raise ValueError(f"screen distance {self.distance_m} m is outside 0.1 … 100 m")
        if not (-10.0 <= self.height_m <= 10.0):
            raise ValueError(f"screen height {self.height_m} m is outside -10 … 10 m")

    def resized(self, *, width_m: float | None = None, distance_m: float | None = None,
                height_m: float | None = None) -> ScreenGeometry:
        return replace(self, width_m=self.width_m if width_m is None else width_m,
                       distance_m=self.distance_m if distance_m is None else distance_m,
                       height_m=self.height_m if height_m is None else height_m)

    def recentred(self, head: Pose) -> ScreenGeometry:
        """Put the screen straight ahead of `head` (its position and heading; pitch and roll ignored)."""
        yaw = yaw_of(head.orientation)
        return replace(self, anchor=Pose(head.position, yaw_quaternion(yaw)))


def yaw_of(q: tuple[float, float, float, float]) -> float:
    """Heading (rotation about +y, radians) of quaternion `q` = (x, y, z, w)."""
    x, y, z, w = q
    return math.atan2(2.0 * (w * y + x * z), 1.0 - 2.0 * (y * y + x * x))


def yaw_quaternion(yaw: float) -> tuple[float, float, float, float]:
    return (0.0, math.sin(yaw / 2.0), 0.0, math.cos(yaw / 2.0))


def screen_pose(geometry: ScreenGeometry) -> Pose:
    """The quad's centre pose in its space (LOCAL for WORLD, VIEW for HEAD_LOCKED)."""
    if geometry.placement is Placement.HEAD_LOCKED:
        return Pose((0.0, geometry.height_m, -geometry.distance_m))
    yaw = yaw_of(geometry.anchor.orientation)
    ax, ay, az = geometry.anchor.position
    # rotate (0, height, -distance) by the anchor's yaw about +y
    dx, dz = -math.sin(yaw) * geometry.distance_m, -math.cos(yaw) * geometry.distance_m
    return Pose((ax + dx, ay + geometry.height_m, az + dz), yaw_quaternion(yaw))


def screen_size(geometry: ScreenGeometry, eye_width: int, eye_height: int) -> tuple[float, float]:
    """(width, height) of the quad in metres for an eye image of `eye_width` × `eye_height` pixels."""
    if eye_width <= 0 or eye_height <= 0:
        raise ValueError(f"eye image {eye_width}×{eye_height} has no pixels")
    return geometry.width_m, geometry.width_m * eye_height / eye_width


def parallax_m(parallax_fraction: float, geometry: ScreenGeometry) -> float:
    """Physical screen parallax (metres) of an image parallax given as a fraction of the eye width."""
    return parallax_fraction * geometry.width_m


def vergence_change_deg(parallax_fraction: float, geometry: ScreenGeometry,
                        ipd_m: float = HEADSET_IPD_M) -> float:
    """Vergence change (degrees) from the screen plane for an image parallax p (fraction of width).

    Positive parallax (behind the screen) lowers the vergence angle; CONVENTIONS.md's ±1° budget.
    """
    p = parallax_m(parallax_fraction, geometry)
    if p >= ipd_m:
        return -math.inf
    on_screen = 2.0 * math.atan(ipd_m / (2.0 * geometry.distance_m))
    # lines of sight through the two image points meet at distance D·ipd/(ipd - p)
    depth = geometry.distance_m * ipd_m / (ipd_m - p)
    return math.degrees(2.0 * math.atan(ipd_m / (2.0 * depth)) - on_screen)
