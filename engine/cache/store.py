"""The on-disk depth & flow cache: per-frame arrays keyed by media content, provider and parameters.

Layout under the cache root::

    CACHEDIR.TAG                 (tells backup tools to skip the folder)
    media-index.json             (memo of media content hashes, see engine.cache.fingerprint)
    v1/<kind>/<media[:2]>/<media>/<params>/<index:08d>.sdc
    v1/<kind>/<media[:2]>/<media>/<params>/<key>.meta.json

``v1`` is :data:`LAYOUT_VERSION`, the folder layout's version: a layout change reads none of
the old entries (they age out by LRU). Entry format versions (:data:`engine.cache.codec.CACHE_VERSION`)
share the folder: every readable version decodes, the codec reads the entry's own. Nothing is held in memory: every get
reads its file, every put writes one (temp file beside it, then ``os.replace``),
so one writer and any number of readers, in threads or processes, only ever see
whole entries. Entries are not fsynced: a torn entry after a crash fails its
checksum and reads as a miss.

A cache folder that cannot be written does not stop a job: the cache turns
itself off, says why in :attr:`ArrayCache.disabled_reason` and appends the same
line to :attr:`ArrayCache.notes` (the pipeline reports it as a Progress note);
gets then miss and puts do nothing.
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from engine.cache.codec import CorruptEntry, decode, pack, peek_shape, prepare, prepare_rounded
from engine.cache.evict import EvictionResult, evict, total_bytes
from engine.cache.fingerprint import media_fingerprint
from engine.config import UserConfig, default_cache_dir
from engine.fileio import temp_path_beside
from engine.progress import CancelToken
from engine.versioning import current_or_none, schema_tag

LAYOUT_VERSION = 1  # the v1/<kind>/... folder layout (entry format versions 1 and 2 live in it)
DEFAULT_MAX_BYTES = int(UserConfig.cache_max_gb * 1e9)  # one source of truth: the user config's default
META_FORMAT, META_VERSION = "CacheMeta", 1
META_SCHEMA = schema_tag(META_FORMAT, META_VERSION)
TAG_NAME = "CACHEDIR.TAG"
TAG_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"
            "# This file is a cache directory tag created by SpatialDreamer.\n"
            "# See https://bford.info/cachedir/ ; the folder can be deleted at any time.\n")
_KIND = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_HASH = re.compile(r"^[0-9a-f]{16,128}$")
_META_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _touch(path: Path) -> None:
    """Mark `path` as used now (ns wall clock; the LRU order eviction follows)."""
    now = time.time_ns()
    os.utime(path, ns=(now, now))


def _write_entry(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, stamp it as used now, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_beside(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        _touch(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ArrayCache:
    """The cache folder: size cap, LRU eviction, on/off state; hands out :class:`CacheNamespace` objects.

    Args:
        root: cache folder; None = :func:`engine.config.default_cache_dir`.
        max_bytes: size cap in bytes; None = the user config's default ``cache_max_gb``.
        enabled: False for ``--no-cache`` (every get misses, every put is dropped).
    """

    def __init__(self, root: str | Path | None = None, max_bytes: int | None = None,
                 enabled: bool = True) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes)
        self.notes: list[str] = []
        self.disabled_reason: str | None = None
        self._lock = threading.Lock()
        self._known_bytes: int | None = None  # entries' total; None until the first put scans
        self._pending_bytes = 0  # written while an eviction pass was running
        self._evicting = False
        if not enabled:
            self.disabled_reason = "the depth cache is off (--no-cache)"
        elif self.max_bytes <= 0:
            self.disabled_reason = "the depth cache size cap is 0 (cache_max_gb in the user config)"
        else:
            self._open()

    @classmethod
    def from_config(cls, config: UserConfig, cache_dir: str | Path | None = None,
                    no_cache: bool = False) -> ArrayCache:
        """The cache a job uses: ``--cache-dir`` over the config's ``cache_dir``, its ``cache_max_gb`` cap."""
        root = cache_dir if cache_dir is not None else config.cache_dir
        return cls(root, int(config.cache_max_gb * 1e9), enabled=not no_cache)

    @property
    def enabled(self) -> bool:
        return self.disabled_reason is None

    @property
    def version_dir(self) -> Path:
        """``<root>/v<LAYOUT_VERSION>``: every entry of this layout lives below it."""
        return self.root / f"v{LAYOUT_VERSION}"

    def _open(self) -> None:
        """Create the folder and prove it writable (a probe file); turn the cache off if not."""
        try:
            self.version_dir.mkdir(parents=True, exist_ok=True)
            temp_path_beside(self.version_dir / "probe").unlink()
            tag = self.root / TAG_NAME
            if not tag.exists():
                _write_entry(tag, TAG_TEXT.encode("ascii"))
        except OSError as exc:
            self.disable(f"{self.root}: the cache folder is not writable ({exc.strerror or exc}); "
                         "running without the depth cache. Choose a writable folder with --cache-dir "
                         "(or cache_dir in the user config), or pass --no-cache")

    def disable(self, reason: str) -> None:
        """Turn the cache off for the rest of this run and record `reason` in :attr:`notes` (once)."""
        with self._lock:
            if self.disabled_reason is None:
                self.disabled_reason = reason
                self.notes.append(reason)

    def namespace(self, kind: str, media_hash: str, params_hash: str,
                  float_storage: str = "float16") -> CacheNamespace:
        """The entries of one kind of array for one media file and one provider + parameters.

        Args:
            kind: a short slug: ``depth``, ``flow-fw``, ``flow-bw``, ``confidence`` ...
            media_hash: :func:`engine.cache.media_fingerprint` of the source file.
            params_hash: :func:`engine.cache.params_fingerprint` of the provider and its settings.
            float_storage: ``float16`` (default) or ``float32`` (e.g. for flow needing sub-0.25 px at
                large motion); floats always come back as float32.
        Raises:
            ValueError: a kind or hash that is not a safe folder name (a programming error).
        """
        if not _KIND.match(kind):
            raise ValueError(f"cache kind must match {_KIND.pattern}, not {kind!r}")
        for name, value in (("media_hash", media_hash), ("params_hash", params_hash)):
            if not _HASH.match(value):
                raise ValueError(f"{name} must be lowercase hex (16-128 digits), not {value!r}")
        if float_storage not in ("float16", "float32"):
            raise ValueError(f"float_storage must be float16 or float32, not {float_storage!r}")
        folder = self.version_dir / kind / media_hash[:2] / media_hash / params_hash
        return CacheNamespace(self, folder, float_storage)

    def media_fingerprint(self, path: str | Path, cancel: CancelToken | None = None) -> str:
        """:func:`engine.cache.media_fingerprint`, memoised in this cache's index when it is on."""
        return media_fingerprint(path, self.root if self.enabled else None, cancel)

    def size_bytes(self) -> int:
        """Total size of the entries on disk (a scan of the folder)."""
        return total_bytes(self.root)

    def evict(self, max_bytes: int | None = None) -> EvictionResult:
        """Trim the folder now to `max_bytes` (default: the cap) by least recent use."""
        result = evict(self.root, self.max_bytes if max_bytes is None else int(max_bytes))
        with self._lock:
            self._known_bytes = result.bytes_kept
        return result

    def clear(self) -> None:
        """Delete every entry of every format version (the memo index and tag stay)."""
        for folder in self.root.glob("v[0-9]*"):
            if folder.is_dir() and folder.name[1:].isdigit():
                shutil.rmtree(folder, ignore_errors=True)
        with self._lock:
            self._known_bytes = 0

    def _account(self, nbytes: int) -> None:
        """Count a write; when the total passes the cap, run one eviction pass (in this thread)."""
        with self._lock:
            if self._evicting:
                self._pending_bytes += nbytes
                return
            if self._known_bytes is not None:
                self._known_bytes += nbytes
            if self._known_bytes is not None and self._known_bytes <= self.max_bytes:
                return
            self._evicting, self._pending_bytes = True, 0
        kept = None
        try:
            kept = evict(self.root, self.max_bytes).bytes_kept
        finally:
            with self._lock:
                self._evicting = False
                if kept is not None:
                    self._known_bytes = kept + self._pending_bytes

    def _store(self, path: Path, data: bytes) -> bool:
        """Write one entry; a failure turns the cache off (with a note) instead of failing the job."""
        if not self.enabled:
            return False
        try:
            try:
                _write_entry(path, data)
            except FileNotFoundError:  # an eviction pruned the emptied folder meanwhile: once more
                _write_entry(path, data)
        except OSError as exc:
            self.disable(f"{path.parent}: cannot write to the depth cache ({exc.strerror or exc}); "
                         "continuing without it. Free some space, choose another folder with "
                         "--cache-dir, or pass --no-cache")
            return False
        self._account(len(data))
        return True


class CacheNamespace:
    """Per-frame arrays (and small JSON metadata) of one (kind, media, params) key.

    Get it from :meth:`ArrayCache.namespace`. Holds no arrays: every call is a file read or write.
    """

    def __init__(self, cache: ArrayCache, folder: Path, float_storage: str) -> None:
        self.cache = cache
        self.folder = folder
        self.float_storage = float_storage

    def path(self, index: int) -> Path:
        """The entry file of frame `index` (>= 0)."""
        index = operator.index(index)
        if index < 0:
            raise ValueError(f"cache index must be >= 0, not {index}")
        return self.folder / f"{index:08d}.sdc"

    def get(self, index: int, shape_hint: tuple[int, ...] | None = None) -> np.ndarray | None:
        """The array cached for `index` (floats as float32), or None on a miss.

        A corrupt or truncated entry is deleted and reads as a miss; an entry whose
        shape differs from `shape_hint` reads as a miss (and is left alone). A hit
        marks the entry as recently used.
        """
        path = self.path(index)
        if not self.cache.enabled:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            if shape_hint is not None and peek_shape(data) != tuple(shape_hint):
                return None
            array = decode(data)
        except CorruptEntry:
            self._drop(path)
            return None
        self._mark_used(path)
        return array

    def put(self, index: int, array: np.ndarray) -> None:
        """Cache `array` (any shape; float, int, uint or bool) for `index`, replacing any entry."""
        self.put_prepared(index, *prepare(array, self.float_storage))

    def put_prepared(self, index: int, values: np.ndarray, out: np.dtype) -> None:
        """Cache values already :func:`engine.cache.prepare`-d (stored dtype, handed back as `out`), so a
        caller that also needs the rounded values rounds once (engine.jobs.convert's depth pass)."""
        path = self.path(index)
        if self.cache.enabled:
            self.cache._store(path, pack(values, out))

    def get_or_compute(self, index: int, compute: Callable[[], np.ndarray],
                       shape_hint: tuple[int, ...] | None = None) -> np.ndarray:
        """The cached array for `index`, else ``compute()`` stored and returned.

        The value returned on a miss is exactly what a later hit returns (float16
        rounding applied), so cold and warm runs give bit-identical results, with
        the cache on or off.
        """
        hit = self.get(index, shape_hint)
        if hit is not None:
            return hit
        values, out, rounded = prepare_rounded(compute(), self.float_storage)
        self.put_prepared(index, values, out)
        return rounded

    def has_all(self, indices: Iterable[int]) -> bool:
        """True when every index has an entry (another process may still evict one: get can miss)."""
        return self.cache.enabled and all(self.path(i).is_file() for i in indices)

    def cached_indices(self) -> list[int]:
        """Sorted frame indices with an entry (e.g. for a timeline's 'depth cached' band)."""
        if not self.cache.enabled:
            return []
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        return sorted(int(n[:-4]) for n in names if n.endswith(".sdc") and n[:-4].isdigit())

    def _meta_path(self, key: str) -> Path:
        if not _META_KEY.match(key):
            raise ValueError(f"meta key must match {_META_KEY.pattern}, not {key!r}")
        return self.folder / f"{key}.meta.json"

    def put_meta(self, key: str, value: dict[str, Any]) -> None:
        """Store a small JSON-able dict under `key` (e.g. a shot's normalisation range)."""
        path = self._meta_path(key)
        text = json.dumps({"schema": META_SCHEMA, "key": key, "value": value}, indent=1)
        if self.cache.enabled:
            self.cache._store(path, text.encode("utf-8"))

    def get_meta(self, key: str) -> dict[str, Any] | None:
        """The dict stored under `key`, or None (missing, corrupt — then deleted — or cache off)."""
        path = self._meta_path(key)
        if not self.cache.enabled:
            return None
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        try:
            data = current_or_none(json.loads(raw.decode("utf-8")), META_FORMAT, META_VERSION)
        except ValueError:
            data = None
        if data is None or data.get("key") != key or not isinstance(data.get("value"), dict):
            self._drop(path)
            return None
        self._mark_used(path)
        return data["value"]

    @staticmethod
    def _drop(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)

    @staticmethod
    def _mark_used(path: Path) -> None:
        with contextlib.suppress(OSError):  # evicted since the read, or a read-only entry: the hit stands
            _touch(path)
