"""Atomic output files: write a hidden temp file beside the target, then os.replace it into place.

A failed or cancelled write removes its temp file and never touches an existing target.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from engine.errors import OutputError
from engine.fileio import atomic_write_bytes, place, refuse_read_only, temp_path_beside

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def check_target(target: Path, overwrite: bool) -> None:
    """Raise OutputError unless `target` can be created (or replaced, with `overwrite`)."""
    if target.is_dir():
        raise OutputError("is a folder, not a file name", path=target, hint="Give an output file name")
    refuse_read_only(target)
    if target.exists() and not overwrite:
        raise OutputError("already exists", path=target, hint="Pass --overwrite to replace it")
    parent = target.parent
    if not parent.exists():
        raise OutputError("output folder does not exist", path=target, hint=f"Create {parent} first")
    if not parent.is_dir():
        raise OutputError("output folder is not a folder", path=target, hint="Choose another output path")


def create_temp(target: Path) -> Path:
    """Create an empty hidden temp file beside `target`; OutputError if the folder refuses."""
    try:
        return temp_path_beside(target)
    except OSError as exc:
        raise os_output_error(exc, target, "cannot create a file in the output folder") from exc


def os_output_error(exc: BaseException, target: Path, doing: str) -> OutputError:
    """Map an OS/FFmpeg error to a one-line OutputError naming `target`."""
    code = getattr(exc, "errno", None)
    if code in _FULL:
        return OutputError(
            f"disk full while writing {target.name}",
            path=target,
            hint="Free some space or write to another disk",
        )
    if code == errno.EROFS:
        return OutputError(f"{doing}: read-only file system", path=target, hint="Choose a writable folder")
    if code in (errno.EACCES, errno.EPERM):
        return OutputError(f"{doing}: permission denied", path=target, hint="Choose a writable folder")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return OutputError(f"{doing}: {reason}", path=target, hint="Check the output folder and disk")


def is_disk_full(exc: BaseException) -> bool:
    """True for 'no space left' style errors (OS or FFmpeg)."""
    return getattr(exc, "errno", None) in _FULL


def remove_quietly(path: Path | None) -> None:
    """Delete `path` if it exists; never raises."""
    if path is not None:
        with contextlib.suppress(OSError):
            os.unlink(path)


def replace_into_place(temp: Path, target: Path, overwrite: bool) -> None:
    """os.replace `temp` -> `target`; refuses (and removes temp) if target appeared and overwrite is off."""
    if not overwrite and target.exists():
        remove_quietly(temp)
        raise OutputError("already exists", path=target, hint="Pass --overwrite to replace it")
    try:
        place(temp, target)
    except OSError as exc:
        remove_quietly(temp)
        raise os_output_error(exc, target, "cannot move the finished file into place") from exc


def write_bytes_atomic(target: Path, data: bytes, overwrite: bool) -> None:
    """Write `data` to `target` atomically (checks, temp file, fsync, rename)."""
    check_target(target, overwrite)
    try:
        atomic_write_bytes(target, data)
    except OSError as exc:
        raise os_output_error(exc, target, "cannot write") from exc
