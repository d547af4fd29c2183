"""Atomic file writes: a temporary file beside the target, fsync, then rename.

A reader (or a crash) never sees a half-written file, and an existing good
file is replaced only by a complete new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def temp_path_beside(target: Path, suffix: str | None = None) -> Path:
    """A fresh, hidden, unique path in `target`'s folder (same filesystem, so rename is atomic)."""
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.partial-", suffix=suffix or target.suffix,
                                dir=target.parent)
    os.close(fd)
    return Path(name)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file + fsync + os.replace)."""
    path = Path(path)
    tmp = temp_path_beside(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, payload: Any) -> None:
    """Write `payload` as pretty, UTF-8 JSON to `path` atomically."""
    text = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
