"""Fixtures: synthetic clips with hard cuts at known frames (builders in synthetic.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.support.shot_clips import clip_from_shots, drift, four_shots, pan, pan_inside_a_shot


@pytest.fixture(scope="session")
def four_shot_clip(tmp_path_factory) -> tuple[Path, list[int]]:
    """80 frames, cuts at 17, 41, 60 (start timecode 01:00:00:00)."""
    folder = tmp_path_factory.mktemp("shots")
    return clip_from_shots(folder / "four_shots.mp4", four_shots(), timecode="01:00:00:00")


@pytest.fixture(scope="session")
def fast_pan_clip(tmp_path_factory) -> tuple[Path, list[int]]:
    """70 frames: drift, a fast pan (12 px/frame over ~24 px features), drift; cuts at 20 and 50."""
    folder = tmp_path_factory.mktemp("shots")
    shots = [(20, drift(11, (1.0, 0.5, 0.3), 20)), (30, pan(12, (0.4, 1.0, 0.6), 30, speed=12, scale=24)),
             (20, drift(13, (0.5, 0.6, 1.0), 20))]
    return clip_from_shots(folder / "fast_pan.mp4", shots)


@pytest.fixture(scope="session")
def pan_inside_shot_clip(tmp_path_factory) -> tuple[Path, list[int]]:
    """50 frames, one shot: still 15 frames, a 12 px/frame pan for 20, still again; no cut."""
    folder = tmp_path_factory.mktemp("shots")
    return clip_from_shots(folder / "pan_inside.mp4", [(50, pan_inside_a_shot(5, (0.4, 1.0, 0.6), 15, 20, 12, 24))])


@pytest.fixture
def make_clip(tmp_path) -> Callable[..., tuple[Path, list[int]]]:
    """make_clip(lengths) -> (path, cuts): the four-shot recipe (or its first len(lengths) shots)."""

    def make(lengths: Sequence[int], name: str = "clip.mp4") -> tuple[Path, list[int]]:
        recipe = four_shots((*lengths, *[20] * (4 - len(lengths))))[: len(lengths)]
        return clip_from_shots(tmp_path / name, recipe)

    return make
