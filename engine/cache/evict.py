"""Size accounting and least-recently-used eviction for a cache folder.

Every entry file's mtime is its last use: :mod:`engine.cache.store` stamps it
on each write and each read (``os.utime`` with the wall clock in ns, so the
order holds even where the file system's own timestamps are coarse). Eviction
removes the least recently used files until the folder is under a low-water
mark below the cap, so it runs once per several hundred MB written rather than
on every write. Files of older format versions are never read again and so are
the first to go. Temp files older than an hour (left by a crash) are removed.

Only the version folders (``v1/``, ``v2/`` ...) directly under the root are
scanned, and only our own file names in them are counted or deleted, so a cache
folder pointed at a place holding other files never loses them.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

ENTRY_SUFFIXES = (".sdc", ".meta.json")
VERSION_DIR = re.compile(r"^v\d+$")
PARTIAL_MARK = ".partial-"
STALE_PARTIAL_S = 3600.0
LOW_WATER = 0.9


@dataclass(frozen=True)
class CacheFile:
    """One entry file: path, size in bytes, last use (ns since the epoch)."""

    path: Path
    size: int
    used_ns: int


@dataclass(frozen=True)
class EvictionResult:
    """What an eviction pass did.

    Attributes:
        files_removed: entry files deleted.
        bytes_removed: their total size.
        bytes_kept: total size of the entries left.
    """

    files_removed: int
    bytes_removed: int
    bytes_kept: int


def _is_partial(name: str) -> bool:
    return name.startswith(".") and PARTIAL_MARK in name


def _version_dirs(root: Path) -> list[Path]:
    try:
        with os.scandir(root) as it:
            return [Path(d.path) for d in it if VERSION_DIR.match(d.name) and d.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def scan(root: Path) -> list[CacheFile]:
    """Every entry file in `root`'s version folders; stale temp files there are deleted."""
    found: list[CacheFile] = []
    stale_before = time.time_ns() - int(STALE_PARTIAL_S * 1e9)
    stack = _version_dirs(Path(root))
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                items = list(it)
        except OSError:
            continue  # removed meanwhile by another process, or unreadable
        for item in items:
            try:
                if item.is_dir(follow_symlinks=False):
                    stack.append(Path(item.path))
                    continue
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if _is_partial(item.name):
                if st.st_mtime_ns < stale_before:
                    Path(item.path).unlink(missing_ok=True)
            elif item.name.endswith(ENTRY_SUFFIXES):
                found.append(CacheFile(Path(item.path), st.st_size, st.st_mtime_ns))
    return found


def total_bytes(root: Path) -> int:
    """Sum of the entry files' sizes under `root`."""
    return sum(entry.size for entry in scan(root))


def _remove_empty_parents(path: Path, root: Path) -> None:
    """rmdir `path`'s folders upwards while they are empty, stopping at `root`."""
    folder = path.parent
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or already gone / in use): stop
        folder = folder.parent


def evict(root: Path, max_bytes: int, low_water: float = LOW_WATER) -> EvictionResult:
    """Delete least-recently-used entries under `root` if their total exceeds `max_bytes`.

    Args:
        root: the cache folder.
        max_bytes: the cap; nothing is removed while the total is at or below it.
        low_water: once over the cap, trim to ``low_water * max_bytes`` (0 < low_water <= 1).
    Returns:
        counts of what was removed and what is left.
    """
    if not 0.0 < low_water <= 1.0:
        raise ValueError(f"low_water must be in (0, 1], not {low_water}")
    root = Path(root)
    entries = scan(root)
    total = sum(entry.size for entry in entries)
    if total <= max_bytes:
        return EvictionResult(0, 0, total)
    target = int(max_bytes * low_water)
    removed = freed = 0
    for entry in sorted(entries, key=lambda e: (e.used_ns, str(e.path))):
        if total - freed <= target:
            break
        try:
            entry.path.unlink()
        except FileNotFoundError:
            pass  # another process evicted it first; it is gone either way
        except OSError:
            continue
        removed += 1
        freed += entry.size
        _remove_empty_parents(entry.path, root)
    return EvictionResult(removed, freed, total - freed)
