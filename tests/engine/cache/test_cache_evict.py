"""engine.cache.evict: LRU trimming to a low-water mark, only our own files, crash leftovers."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.cache.evict import evict, scan, total_bytes


def make_entry(path: Path, size: int, used_s: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, ns=(int(used_s * 1e9), int(used_s * 1e9)))
    return path


def test_under_the_cap_nothing_is_removed(tmp_path):
    for i in range(3):
        make_entry(tmp_path / "v1" / "depth" / f"{i:08d}.sdc", 100, 1000 + i)
    result = evict(tmp_path, 300)
    assert (result.files_removed, result.bytes_removed, result.bytes_kept) == (0, 0, 300)


def test_over_the_cap_the_least_recently_used_go_first_down_to_low_water(tmp_path):
    used = [5, 1, 9, 3, 7, 2, 8, 6, 4, 0]  # last use per entry index
    for i, t in enumerate(used):
        make_entry(tmp_path / "v1" / "depth" / "ab" / f"{i:08d}.sdc", 100, 1000 + t)
    result = evict(tmp_path, 950, low_water=0.6)  # 1000 > 950 -> trim to <= 570
    assert result.files_removed == 5 and result.bytes_kept == 500
    kept = sorted(int(e.path.stem) for e in scan(tmp_path))
    assert kept == sorted(i for i, t in enumerate(used) if t >= 5)  # the five most recently used


def test_only_version_folders_and_our_file_names_are_touched(tmp_path):
    foreign = [make_entry(tmp_path / "notes.json", 5000, 1), make_entry(tmp_path / "v1x" / "a.sdc", 5000, 1),
               make_entry(tmp_path / "v1" / "depth" / "readme.txt", 5000, 1),
               make_entry(tmp_path / "media-index.json", 5000, 1)]
    meta = make_entry(tmp_path / "v1" / "depth" / "range.meta.json", 10, 2)
    old_version = make_entry(tmp_path / "v0" / "depth" / "00000000.sdc", 100, 3)
    current = make_entry(tmp_path / "v1" / "depth" / "00000000.sdc", 100, 4)
    assert total_bytes(tmp_path) == 210
    evict(tmp_path, 150)
    assert all(p.exists() for p in foreign)
    assert not old_version.exists() and not meta.exists() and current.exists()
    assert not (tmp_path / "v0").exists()  # emptied folders are pruned


def test_stale_temp_files_are_removed_fresh_ones_kept(tmp_path):
    now = time.time()
    stale = make_entry(tmp_path / "v1" / "depth" / ".00000001.partial-abc.sdc", 10, now - 7200)
    fresh = make_entry(tmp_path / "v1" / "depth" / ".00000002.partial-def.sdc", 10, now)
    assert scan(tmp_path) == []  # temp files are never entries
    assert not stale.exists() and fresh.exists()


def test_bad_low_water_is_refused(tmp_path):
    with pytest.raises(ValueError, match="low_water"):
        evict(tmp_path, 10, low_water=0.0)
