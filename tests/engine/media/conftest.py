"""Fixtures for the media tests; the clip makers live in tests/support/clips.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.clips import write_clip


@pytest.fixture
def make_clip(tmp_path: Path) -> Callable[..., Path]:
    """Factory: make_clip('name.mp4', **write_clip kwargs) -> path in tmp_path."""

    def _make(name: str, **kwargs: object) -> Path:
        return write_clip(tmp_path / name, **kwargs)

    return _make


@pytest.fixture(scope="session")
def clip_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 frames H.264 (B-frames, keyframe every 6), 24 fps, stereo AAC audio, bt709 tagged."""
    folder = tmp_path_factory.mktemp("clips")
    return write_clip(folder / "clip.mp4", gop=6, audio=[("aac", 48000, 2)], colour=(1, 1, 1, 1))


@pytest.fixture(scope="session")
def clip_mkv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 frames H.264 in Matroska, keyframe every 6, no audio."""
    folder = tmp_path_factory.mktemp("clips")
    return write_clip(folder / "clip.mkv", gop=6)


@pytest.fixture(scope="session")
def clip_ts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 frames H.264 in MPEG-TS (starts at 1.4 s on the container clock), keyframe every 6."""
    folder = tmp_path_factory.mktemp("clips")
    return write_clip(folder / "clip.ts", gop=6)
