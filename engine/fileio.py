"""Atomic file writes: a temporary file beside the target, fsync, then rename.

A reader (or a crash) never sees a half-written file, and an existing good
file is replaced only by a complete new one.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any


def temp_path_beside(target: Path, suffix: str | None = None) -> Path:
    """Create an empty, hidden, uniquely named file in `target`'s folder and return its path.

    Same filesystem as the target, so the final rename is atomic; created with
    mode 0o666 minus the umask, so the finished file gets the permissions any
    new file would (mkstemp's 0o600 would hide a master from its team).
    """
    target = Path(target)
    for _ in range(16):
        temp = target.with_name(f".{target.stem}.partial-{secrets.token_hex(4)}{suffix or target.suffix}")
        try:
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return temp
    raise FileExistsError(f"no free temporary name beside {target}")


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
