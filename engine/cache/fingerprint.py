"""Cache keys: a media file's content hash and a stable hash of a provider's parameters.

A media file is identified by the BLAKE2b-256 of its bytes (the same digest as
``b2sum -l 256 FILE``), so a renamed or copied file keeps its cached depth and
a file changed in place never reads stale depth. Hashing a long clip takes
seconds, so the digest is memoised by the file's identity and change stamps
``(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns)``: in-process, and in a
small JSON index in the cache folder shared by every process. The ctime is in
the stamp because a program can put the mtime back after writing, but only the
kernel sets the ctime.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from engine.depth.protocol import DepthConfig
from engine.errors import MediaError
from engine.fileio import atomic_write_bytes
from engine.progress import CancelToken
from engine.versioning import current_or_none, schema_tag

BLOCK = 1 << 20  # bytes read per step while hashing
INDEX_NAME = "media-index.json"
INDEX_FORMAT, INDEX_VERSION = "CacheMediaIndex", 1
INDEX_SCHEMA = schema_tag(INDEX_FORMAT, INDEX_VERSION)
INDEX_MAX_ENTRIES = 4096
_MEMO_MAX = 1024
_PARAMS_PERSON = b"sd-params"

_memo: OrderedDict[tuple[int, ...], str] = OrderedDict()
_memo_lock = threading.Lock()
_index_lock = threading.Lock()


def file_stamp(path: Path) -> tuple[int, int, int, int, int]:
    """(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns) of `path`; MediaError when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise MediaError(f"cannot read the media file ({exc.strerror or exc})", path=path,
                         hint="Check the path exists and is readable") from exc
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def content_hash(path: Path, cancel: CancelToken | None = None) -> str:
    """BLAKE2b-256 hex digest of the file's bytes, read in 1 MiB blocks (checks `cancel` per block)."""
    digest = hashlib.blake2b(digest_size=32)
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    try:
        with open(path, "rb", buffering=0) as handle:
            while count := handle.readinto(buffer):
                digest.update(view[:count])
                if cancel is not None:
                    cancel.check()
    except OSError as exc:
        raise MediaError(f"cannot read the media file ({exc.strerror or exc})", path=path,
                         hint="Check the file is readable") from exc
    return digest.hexdigest()


def _stamp_key(stamp: tuple[int, ...]) -> str:
    return ":".join(str(part) for part in stamp)


def _read_index(index_path: Path) -> dict[str, Any]:
    """The index's entries; empty when missing, unreadable or not ours (it is only a memo)."""
    try:
        data = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    data = current_or_none(data, INDEX_FORMAT, INDEX_VERSION)
    entries = data.get("entries") if data is not None else None
    return entries if isinstance(entries, dict) else {}


def _lookup_index(index_path: Path, stamp: tuple[int, ...]) -> str | None:
    entry = _read_index(index_path).get(_stamp_key(stamp))
    digest = entry.get("blake2b") if isinstance(entry, dict) else None
    return digest if isinstance(digest, str) and len(digest) == 64 else None


def _used(entry: Any) -> float:
    used = entry.get("used", 0) if isinstance(entry, dict) else 0
    return float(used) if isinstance(used, int | float) else 0.0


def _record_index(index_path: Path, stamp: tuple[int, ...], digest: str, path: Path) -> None:
    """Add one entry (read-modify-replace; the oldest beyond INDEX_MAX_ENTRIES are dropped).

    Two processes recording at once can lose one entry: that costs a re-hash, never a wrong digest.
    """
    with _index_lock:
        entries = _read_index(index_path)
        entries[_stamp_key(stamp)] = {"blake2b": digest, "path": str(path), "used": time.time()}
        newest = sorted(entries.items(), key=lambda kv: _used(kv[1]))
        payload = {"schema": INDEX_SCHEMA, "entries": dict(newest[-INDEX_MAX_ENTRIES:])}
        with contextlib.suppress(OSError):  # a read-only or full folder: the in-process memo still works
            atomic_write_bytes(index_path, json.dumps(payload, indent=1).encode("utf-8"))


def _remember(stamp: tuple[int, ...], digest: str) -> None:
    with _memo_lock:
        _memo[stamp] = digest
        _memo.move_to_end(stamp)
        while len(_memo) > _MEMO_MAX:
            _memo.popitem(last=False)


def clear_memo() -> None:
    """Forget the in-process memo (the JSON index in the cache folder is kept)."""
    with _memo_lock:
        _memo.clear()


def media_fingerprint(path: str | Path, index_dir: Path | None = None,
                      cancel: CancelToken | None = None) -> str:
    """BLAKE2b-256 hex digest of a media file's content, memoised by its identity and change stamps.

    Args:
        path: the media file.
        index_dir: folder holding the shared memo index (the cache root); None = in-process memo only.
        cancel: checked between 1 MiB blocks while hashing.
    Raises:
        MediaError: the file is missing or unreadable.
        Cancelled: `cancel` was set while hashing.
    """
    path = Path(path)
    if not path.is_file():
        from engine.media.sequence import is_sequence_path, scan_sequence

        if is_sequence_path(path):
            return sequence_fingerprint(scan_sequence(path, "hold").files(), index_dir, cancel)
    return _memoised(file_stamp(path), path, lambda: content_hash(path, cancel), index_dir,
                     lambda: file_stamp(path))


def sequence_fingerprint(files: list[Path], index_dir: Path | None = None,
                         cancel: CancelToken | None = None) -> str:
    """BLAKE2b-256 over the content digests of an image sequence's files in frame order, memoised by
    all their stamps together (one memo entry for the whole sequence, however long)."""

    def stamps() -> tuple[int, ...]:
        joined = hashlib.blake2b(repr([file_stamp(f) for f in files]).encode(), digest_size=16).digest()
        return 0, len(files), int.from_bytes(joined, "big")

    def digest() -> str:
        total = hashlib.blake2b(digest_size=32, person=b"sd-sequence")
        for f in files:
            total.update(bytes.fromhex(content_hash(f, cancel)))
        return total.hexdigest()

    return _memoised(stamps(), files[0] if files else Path("."), digest, index_dir, stamps)


def _memoised(stamp: tuple[int, ...], path: Path, compute, index_dir: Path | None, restamp) -> str:
    """The digest for `stamp` from the memo or the index, else `compute()` (recorded unless the
    files changed while being read: `restamp()` differs)."""
    with _memo_lock:
        digest = _memo.get(stamp)
    index_path = None if index_dir is None else Path(index_dir) / INDEX_NAME
    if digest is None and index_path is not None:
        digest = _lookup_index(index_path, stamp)
    if digest is None:
        digest = compute()
        if restamp() != stamp:
            return digest  # written to while we read it: do not memoise a moving target
        if index_path is not None:
            _record_index(index_path, stamp, digest, path.resolve())
    _remember(stamp, digest)
    return digest


def _canonical(obj: Any) -> Any:
    """`obj` as plain JSON values, the same for equal settings in any process."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else repr(obj)
    if isinstance(obj, enum.Enum):
        return _canonical(obj.value)
    if isinstance(obj, np.generic):
        return _canonical(obj.item())
    if isinstance(obj, PurePath):
        return obj.as_posix()
    if isinstance(obj, Fraction):
        return f"{obj.numerator}/{obj.denominator}"
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: _canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        return {"__type__": type(obj).__qualname__, **fields}
    if isinstance(obj, Mapping):
        return {str(key): _canonical(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_canonical(item) for item in obj]
    if isinstance(obj, set | frozenset):
        return sorted((_canonical(item) for item in obj), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, np.ndarray):
        data = np.ascontiguousarray(obj)
        return {"__ndarray__": data.dtype.str, "shape": list(data.shape),
                "blake2b": hashlib.blake2b(data.tobytes(), digest_size=32).hexdigest()}
    raise TypeError(f"cannot fingerprint a {type(obj).__name__}; pass plain values, dataclasses or dicts")


def params_fingerprint(obj: Any) -> str:
    """Stable BLAKE2b-256 hex digest of a provider name and its parameters.

    `obj` may nest dicts, lists, tuples, sets, dataclasses (their class name is
    part of the key), paths, fractions, enums, numpy scalars and arrays. Keys are
    sorted, so dict order does not matter; any value change gives another digest.

    Raises:
        TypeError: a value with no stable representation (e.g. an arbitrary object).
    """
    text = json.dumps(_canonical(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.blake2b(text.encode("ascii"), digest_size=32, person=_PARAMS_PERSON).hexdigest()


def depth_params_fingerprint(config: DepthConfig, provider_name: str, provider_version: str = "") -> str:
    """The params key for depth from `provider_name` under `config`.

    `provider_name` is the resolved name (``auto`` never keys a cache; see
    ``engine.depth.registry.resolve_model_name``). ``models_dir`` (where weights
    live) and ``batch_size`` (how frames are grouped) do not change the output and
    are left out, so moving the models folder keeps the cache warm. Pass a
    `provider_version` that changes whenever a provider's output changes for the
    same settings.
    """
    kept = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if f.name not in ("model", "models_dir", "batch_size")}
    return params_fingerprint({"provider": provider_name, "version": provider_version, "config": kept})
