"""Cut lists <-> shot ranges <-> projects (pure; no media, no detector).

Conventions (CONVENTIONS.md, "Time"): positions are integer *source frames*, ranges are half-open
[start, end). A **cut at frame k** is a shot boundary between frames k-1 and k: frame k is the first
frame of the new shot. The ends of an analysed range are boundaries but never cuts, so every cut
lies strictly inside (start, end).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction

from engine.document import Grade, Project, Shot, StereoParams


def enforce_min_length(cuts: Iterable[int], start: int, end: int, min_frames: int) -> list[int]:
    """Drop cuts that would leave a shot shorter than `min_frames`.

    Cuts are taken in order and kept when at least `min_frames` frames follow the previous kept cut
    (or `start`); then, while the last shot (up to `end`) is too short, the last kept cut is dropped,
    merging that tail into the shot before it. A range shorter than `min_frames` stays one shot.

    Args:
        cuts: source frames of cuts, any order, duplicates allowed.
        start, end: the analysed range [start, end).
        min_frames: shortest allowed shot, >= 1.
    Returns:
        sorted, unique cuts in (start, end).
    """
    if min_frames < 1:
        raise ValueError(f"min_frames must be at least 1, not {min_frames}")
    kept: list[int] = []
    previous = start
    for cut in sorted(set(cuts)):
        if start < cut < end and cut - previous >= min_frames:
            kept.append(cut)
            previous = cut
    while kept and end - kept[-1] < min_frames:
        kept.pop()
    return kept


def cuts_to_ranges(cuts: Sequence[int], start: int, end: int) -> list[tuple[int, int]]:
    """Half-open shot ranges covering [start, end), split at each cut.

    Args:
        cuts: sorted cuts strictly inside (start, end).
    Returns:
        [(start, c0), (c0, c1), ..., (c_last, end)].
    """
    if not start < end:
        raise ValueError(f"range [{start}, {end}) is empty")
    bounds = [start, *cuts, end]
    if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(f"cuts {list(cuts)} are not sorted and strictly inside ({start}, {end})")
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def ranges_to_cuts(ranges: Sequence[tuple[int, int]]) -> list[int]:
    """Inverse of :func:`cuts_to_ranges` for contiguous ranges: the start of every shot but the first."""
    return [start for start, _ in ranges[1:]]


def shots_to_project(media_path: str, fps: Fraction, frame_count: int,
                     ranges: Sequence[tuple[int, int]], name: str = "") -> Project:
    """A project with one shot per range, each with the default grade keyed at its first frame.

    Args:
        media_path: the source media, as the user gave it.
        fps: nominal source frame rate.
        frame_count: frames in the source.
        ranges: sorted, non-overlapping [start, end) source-frame ranges inside [0, frame_count).
    """
    shots = tuple(Shot(start, end, Grade.constant(StereoParams(), start), name=f"Shot {i:03d}")
                  for i, (start, end) in enumerate(ranges, start=1))
    return Project.single(str(media_path), Fraction(fps), int(frame_count), shots, name=name)
