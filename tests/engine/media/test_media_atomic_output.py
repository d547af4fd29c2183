"""Atomic outputs: temp file beside the target, commit/abort, refusals before work, full/read-only disks."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from engine.errors import Cancelled, OutputError
from engine.media import EncodeSettings, VideoWriter, commit_together, probe, write_still
from tests.support.clips import coded_image

FPS = Fraction(24)


def _writer(path: Path, **kwargs: object) -> VideoWriter:
    return VideoWriter(
        path, width=64, height=48, fps=FPS, settings=EncodeSettings(preset="ultrafast"), **kwargs
    )


def test_frames_go_to_a_hidden_temp_file_until_commit(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    writer = _writer(target)
    for i in range(3):
        writer.write(coded_image(i))
    (temp,) = list(tmp_path.iterdir())
    assert re.fullmatch(r"\.out\.partial-[A-Za-z0-9_]+-\d+-[0-9a-f]{8}\.mp4", temp.name) and temp == writer.temp_path
    assert not target.exists()
    writer.finish()
    assert not target.exists() and temp.exists()  # complete, not yet in place
    writer.commit()
    assert list(tmp_path.iterdir()) == [target] and probe(target).video.frame_count == 3
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_exception_inside_with_removes_the_temp_and_keeps_the_old_target(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous master")
    with pytest.raises(RuntimeError), _writer(target, overwrite=True) as writer:
        writer.write(coded_image(0))
        raise RuntimeError("render crashed")
    assert list(tmp_path.iterdir()) == [target] and target.read_bytes() == b"previous master"


def test_cancel_removes_the_partial_file(tmp_path: Path) -> None:
    with pytest.raises(Cancelled), _writer(tmp_path / "out.mkv") as writer:
        writer.write(coded_image(0))
        raise Cancelled()
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"old")
    with _writer(target, overwrite=True) as writer:
        writer.write(coded_image(0))
    assert probe(target).video.frame_count == 1


def test_existing_target_is_refused_at_construction(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputError) as caught:
        _writer(target)
    assert "--overwrite" in str(caught.value) and str(target) in str(caught.value)
    assert caught.value.exit_code == 4
    assert list(tmp_path.iterdir()) == [target] and target.read_bytes() == b"keep me"


def test_missing_folder_is_refused_at_construction(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        _writer(tmp_path / "no" / "such" / "out.mp4")


def test_zero_frames_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    writer = _writer(tmp_path / "out.mp4")
    with pytest.raises(OutputError, match="no frames"):
        writer.commit()
    assert list(tmp_path.iterdir()) == []


class _FullDisk:
    """Fault injection: a container whose writes fail with ENOSPC."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def mux(self, packets: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_disk_full_fault_injected(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous master")
    writer = _writer(target, overwrite=True)
    writer._container = _FullDisk(writer._container)  # type: ignore[assignment]
    with pytest.raises(OutputError, match="disk full while writing out.mp4"):
        for i in range(3):
            writer.write(coded_image(i))
    assert list(tmp_path.iterdir()) == [target] and target.read_bytes() == b"previous master"


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator:
    """mount_tmpfs(options) -> a fresh tmpfs folder; skipped where mounting is not permitted."""
    mounted: list[Path] = []

    def _mount(options: str) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs needs root and mount(8)")
        folder = tmp_path / f"mnt{len(mounted)}"
        folder.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield _mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], capture_output=True, check=False)


def test_disk_full_on_a_tiny_tmpfs(mount_tmpfs) -> None:
    folder = mount_tmpfs("size=64k")
    target = folder / "out.mkv"
    target.write_bytes(b"previous master")
    noise = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    writer = VideoWriter(
        target, width=64, height=48, fps=FPS, settings=EncodeSettings("ffv1"), overwrite=True
    )
    with pytest.raises(OutputError, match="disk full while writing out.mkv"):
        for _ in range(200):  # ~9 KB a frame, lossless: fills 64 KB quickly
            writer.write(noise)
        writer.commit()
    assert list(folder.iterdir()) == [target] and target.read_bytes() == b"previous master"


def test_read_only_folder_is_refused_at_construction(mount_tmpfs) -> None:
    folder = mount_tmpfs("ro,size=64k")
    with pytest.raises(OutputError, match="read-only"):
        _writer(folder / "out.mp4")
    with pytest.raises(OutputError, match="read-only"):
        write_still(folder / "out.png", np.zeros((4, 4, 3), np.uint8))


def test_commit_together_lands_both(tmp_path: Path) -> None:
    left, right = _writer(tmp_path / "out_L.mp4"), _writer(tmp_path / "out_R.mp4")
    for writer in (left, right):
        writer.write(coded_image(0))
    commit_together([left, right])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_L.mp4", "out_R.mp4"]


def test_commit_together_lands_neither_when_one_fails(tmp_path: Path) -> None:
    left, right = _writer(tmp_path / "out_L.mp4"), _writer(tmp_path / "out_R.mp4")
    left.write(coded_image(0))  # right gets no frames: its finish fails
    with pytest.raises(OutputError, match="no frames"):
        commit_together([left, right])
    assert list(tmp_path.iterdir()) == []


def test_commit_together_checks_targets_before_any_rename(tmp_path: Path) -> None:
    left, right = _writer(tmp_path / "out_L.mp4"), _writer(tmp_path / "out_R.mp4")
    for writer in (left, right):
        writer.write(coded_image(0))
    (tmp_path / "out_R.mp4").write_bytes(b"appeared meanwhile")
    with pytest.raises(OutputError, match="already exists"):
        commit_together([left, right])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_R.mp4"]
    assert (tmp_path / "out_R.mp4").read_bytes() == b"appeared meanwhile"
