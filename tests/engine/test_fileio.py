"""engine.fileio: partial names traceable to their run, stale-partial clean-up, atomic writes, input checks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from engine import fileio
from engine.errors import OutputError, UsageError


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_partial_names_carry_host_and_pid(tmp_path):
    temp = fileio.temp_path_beside(tmp_path / "master.mp4")
    assert temp.name.startswith(f".master.partial-{fileio.host_tag()}-{os.getpid()}-") and temp.suffix == ".mp4"
    assert not fileio.is_stale_partial(temp.name)  # ours, and we are alive


def test_only_our_dead_runs_partials_are_removed(tmp_path):
    host, dead = fileio.host_tag(), dead_pid()
    stale = tmp_path / f".master.partial-{host}-{dead}-0123abcd.mp4"
    stale_dir = tmp_path / f".depth.partial-{host}-{dead}-89abcdef"
    keep = [tmp_path / f".master.partial-otherhost-{dead}-0123abcd.mp4",   # another machine's
            tmp_path / f".master.partial-{host}-{os.getppid()}-0123abcd.mp4",  # a live process's
            tmp_path / ".master.partial-0123abcd.mp4",                      # the old naming: not provably ours
            tmp_path / "master.mp4"]
    for path in [stale, *keep]:
        path.write_bytes(b"x")
    stale_dir.mkdir()
    (stale_dir / "f.png").write_bytes(b"x")
    assert sorted(fileio.remove_stale_partials(tmp_path)) == sorted([stale, stale_dir])
    assert all(p.exists() for p in keep)


def test_the_first_temp_in_a_folder_sweeps_it(tmp_path):
    stale = tmp_path / f".a.partial-{fileio.host_tag()}-{dead_pid()}-0123abcd.mp4"
    stale.write_bytes(b"x")
    fileio.temp_path_beside(tmp_path / "b.mp4").unlink()
    assert not stale.exists()


def test_atomic_write_keeps_the_replaced_files_mode(tmp_path):
    path = tmp_path / "config.toml"
    fileio.atomic_write_text(path, "a = 1\n")
    path.chmod(0o600)
    fileio.atomic_write_text(path, "a = 2\n")
    assert path.read_text() == "a = 2\n" and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_same_file_sees_through_links_and_spellings(tmp_path):
    a = tmp_path / "a.mp4"
    a.write_bytes(b"x")
    (tmp_path / "s.mp4").symlink_to(a)
    os.link(a, tmp_path / "h.mp4")
    for alias in (a, tmp_path / "s.mp4", tmp_path / "h.mp4", tmp_path / "." / "a.mp4"):
        assert fileio.same_file(alias, a)
    assert not fileio.same_file(tmp_path / "new.mp4", a)


def test_refusals_name_both_files(tmp_path):
    a = tmp_path / "a.mp4"
    a.write_bytes(b"x")
    os.link(a, tmp_path / "h.mp4")
    with pytest.raises(UsageError, match="hard link") as refused:
        fileio.refuse_inputs_as_outputs([tmp_path / "h.mp4"], [a])
    assert str(a) in str(refused.value) and str(tmp_path / "h.mp4") in str(refused.value)
    with pytest.raises(UsageError, match="would delete the input"):
        fileio.refuse_inputs_as_outputs([], [a], replaced_folders=[tmp_path])
    fileio.refuse_inputs_as_outputs([tmp_path / "b.mp4"], [a], replaced_folders=[tmp_path / "sub"])
    a.chmod(0o444)
    with pytest.raises(OutputError, match="read-only"):
        fileio.refuse_read_only(a)


def test_replace_folder_swaps_in_the_whole_new_folder(tmp_path):
    old, new = tmp_path / "depth", tmp_path / ".depth.staging"
    old.mkdir()
    (old / "f1.png").write_bytes(b"old")
    new.mkdir()
    (new / "f2.png").write_bytes(b"new")
    fileio.replace_folder(new, old)
    assert [p.name for p in tmp_path.iterdir()] == ["depth"] and [p.name for p in old.iterdir()] == ["f2.png"]


def test_replace_folder_without_exchange_restores_on_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "_exchange", lambda a, b: False)
    old = tmp_path / "depth"
    old.mkdir()
    (old / "f1.png").write_bytes(b"old")
    with pytest.raises(OSError):
        fileio.replace_folder(tmp_path / "missing", old)
    assert [p.name for p in old.iterdir()] == ["f1.png"] and [p.name for p in tmp_path.iterdir()] == ["depth"]
    new = tmp_path / "new"
    new.mkdir()
    fileio.replace_folder(new, old)
    assert list(old.iterdir()) == [] and Path(tmp_path / "new").exists() is False


def staged_file(folder: Path, target: str, text: str) -> fileio.Landing:
    temp = fileio.write_temp_beside(folder / target, text.encode())
    return fileio.Landing(temp, folder / target)


def test_land_together_moves_files_and_replaces_a_folder_as_a_whole(tmp_path):
    (tmp_path / "clip").mkdir()
    (tmp_path / "clip" / "old.png").write_text("old")
    (tmp_path / "left.mp4").write_text("old left")
    staging = tmp_path / ".clip.partial"
    staging.mkdir()
    (staging / "new.png").write_text("new")
    fileio.land_together([staged_file(tmp_path, "left.mp4", "L"), staged_file(tmp_path, "right.mp4", "R"),
                          fileio.Landing(staging, tmp_path / "clip")])
    assert (tmp_path / "left.mp4").read_text() == "L" and (tmp_path / "right.mp4").read_text() == "R"
    assert sorted(p.name for p in (tmp_path / "clip").iterdir()) == ["new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip", "left.mp4", "right.mp4"]


def test_a_refused_target_lands_nothing_and_leaves_no_temp(tmp_path):
    (tmp_path / "right.mp4").write_text("someone else's")
    left, right = staged_file(tmp_path, "left.mp4", "L"), staged_file(tmp_path, "right.mp4", "R")
    with pytest.raises(OutputError, match="already exists"):
        fileio.land_together([left, fileio.Landing(right.staged, right.target, overwrite=False)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["right.mp4"]
    assert (tmp_path / "right.mp4").read_text() == "someone else's"


def test_a_failed_move_deletes_what_has_not_landed(tmp_path, monkeypatch):
    first, second = staged_file(tmp_path, "a.png", "A"), staged_file(tmp_path, "b.png", "B")
    real = os.replace

    def fail_second(src, dst):
        if Path(dst).name == "b.png":
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(fileio.os, "replace", fail_second)
    with pytest.raises(OSError, match="No space"):
        fileio.land_together([first, second])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def _read_fifo_in_background(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader, got


def test_writing_to_dev_null_leaves_the_device_a_device():
    # `-o /dev/null` (or `--json /dev/null`): renaming a temp file onto it would, as root, replace the
    # machine's /dev/null with a regular file; the bytes are written through instead.
    fileio.atomic_write_bytes(os.devnull, b"report")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert fileio.temp_path_beside(Path(os.devnull)).parent == Path(tempfile.gettempdir())


def test_a_named_pipe_target_gets_the_bytes_and_stays_a_pipe(tmp_path):
    fifo = tmp_path / "stream.json"
    os.mkfifo(fifo)
    reader, got = _read_fifo_in_background(fifo)
    fileio.atomic_write_bytes(fifo, b'{"passed": true}\n')
    reader.join(timeout=10)
    assert got == [b'{"passed": true}\n'] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stream.json"]  # no temp beside it


def test_a_staged_file_lands_into_a_pipe_and_a_folder_is_refused(tmp_path):
    fifo = tmp_path / "master.mkv"
    os.mkfifo(fifo)
    staged = fileio.write_temp_beside(fifo, b"x" * 3_000_000)  # bigger than a pipe's buffer
    assert staged.parent == Path(tempfile.gettempdir())
    reader, got = _read_fifo_in_background(fifo)
    fileio.land_together([fileio.Landing(staged, fifo)])
    reader.join(timeout=10)
    assert got == [b"x" * 3_000_000] and not staged.exists() and stat.S_ISFIFO(os.stat(fifo).st_mode)
    folder = tmp_path / "eyes.staged"
    folder.mkdir()
    with pytest.raises(OutputError, match="device or a pipe"):
        fileio.land_together([fileio.Landing(folder, fifo)])
    assert not folder.exists() and stat.S_ISFIFO(os.stat(fifo).st_mode)
