"""A project render split into chunks, and the manifest that records which are committed.

    chunks = plan_chunks(clip, shots=(1, 3), frames=(0, 120), chunk_frames=48, lag=2)
    manifest = Manifest.open(work_dir, header)        # RenderManifest.1, beside the master
    manifest.commit(chunk, files, state)              # atomic, under a file lock (workers share it)

A chunk is a half-open range of source frames inside one shot. Chunks of a shot follow each other:
a chunk that is not the shot's last ends at least `lag` frames (DVG's look-ahead) before the shot
ends, so it can complete its last frame and save the temporal state the next chunk starts from.

The manifest (``RenderManifest.1``, JSON, written atomically) holds the plan (chunks, their files)
and, per committed chunk, the size and BLAKE2b of each file it wrote: a chunk is trusted on resume
only when every file is there with that size and digest; anything else is re-rendered.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.document import Clip
from engine.errors import InvalidProject, OutputError, UsageError
from engine.fileio import atomic_write_json, remove_stale_partials
from engine.versioning import register_format, upgrade_to_current

MANIFEST_NAME = "RenderManifest"
MANIFEST_VERSION = 1
MANIFEST_SCHEMA = register_format(MANIFEST_NAME, MANIFEST_VERSION)
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class Chunk:
    """Source frames [start, end) of shot number `shot` (1-based, [shot_start, shot_end))."""

    id: str
    shot: int
    shot_start: int
    shot_end: int
    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start

    @property
    def first_in_shot(self) -> bool:
        return self.start == self.shot_start


def parse_shot_list(text: str, count: int) -> tuple[int, ...]:
    """'3,5-7' -> (3, 5, 6, 7): shot numbers from 1 as `shots` prints them, each in 1..count."""
    found: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        a, dash, b = part.partition("-")
        try:
            lo, hi = int(a), int(b) if dash else int(a)
        except ValueError as exc:
            raise UsageError(f"--shots {text}: {part!r} is not a shot number or range like 5-7") from exc
        if not 1 <= lo <= hi <= count:
            raise UsageError(f"--shots {text}: {part} is outside the clip's shots 1-{count}")
        found.extend(range(lo, hi + 1))
    return tuple(sorted(set(found)))


def parse_frame_range(text: str) -> tuple[int | None, int | None]:
    """'START:END' (either may be empty) -> half-open source frames."""
    a, colon, b = text.partition(":")
    try:
        if not colon:
            raise ValueError
        start, end = (int(a) if a.strip() else None), (int(b) if b.strip() else None)
    except ValueError as exc:
        raise UsageError(f"--frames {text}: give source frames START:END (half-open, e.g. 0:240)") from exc
    if (start is not None and start < 0) or (start is not None and end is not None and end <= start):
        raise UsageError(f"--frames {text}: the range is empty or negative")
    return start, end


def chunk_id(clip: Clip, shot: int, start: int, end: int) -> str:
    return f"{clip.id}-s{shot:03d}-{start:06d}-{end:06d}"


def plan_chunks(clip: Clip, shots: Sequence[int] | None, frames: tuple[int | None, int | None] | None,
                chunk_frames: int, lag: int) -> tuple[Chunk, ...]:
    """The chunks of a render: the chosen shots (all by default) within `frames`, cut every `chunk_frames`.

    A cut inside a shot is moved to the range's end when fewer than `lag` frames of the shot would
    follow it (the chunk could not complete its last frame for the next one to continue from).
    Raises:
        UsageError: nothing to render.
    """
    if chunk_frames < 1:
        raise UsageError(f"--chunk-frames {chunk_frames} must be at least 1")
    lo, hi = frames if frames is not None else (None, None)
    lo, hi = 0 if lo is None else lo, clip.frame_count if hi is None else min(hi, clip.frame_count)
    chosen = shots if shots is not None else range(1, len(clip.shots) + 1)
    out: list[Chunk] = []
    for number in chosen:
        shot = clip.shots[number - 1]
        a, end = max(shot.start, lo), min(shot.end, hi)
        while a < end:
            b = a + chunk_frames
            if b >= end or b > shot.end - lag:
                b = end
            out.append(Chunk(chunk_id(clip, number, a, b), number, shot.start, shot.end, a, b))
            a = b
    if not out:
        raise UsageError(f"nothing to render: the chosen shots have no frames in {lo}:{hi}",
                         hint="Check --shots and --frames against `spatialdreamer project show`")
    return tuple(out)


def fingerprint(obj: Any) -> str:
    """BLAKE2b-256 of `obj` as canonical JSON (dataclasses, paths and fractions as text)."""
    text = json.dumps(obj, sort_keys=True, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__")
                      else str(o))
    return hashlib.blake2b(text.encode(), digest_size=32).hexdigest()


def file_digest(path: Path) -> dict:
    """{'name', 'size', 'blake2b'} of a file."""
    h = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"name": path.name, "size": path.stat().st_size, "blake2b": h.hexdigest()}


def digest_matches(folder: Path, record: dict) -> bool:
    """Whether the file a record names is there with its size and digest."""
    path = folder / record["name"]
    try:
        return path.stat().st_size == record["size"] and file_digest(path)["blake2b"] == record["blake2b"]
    except OSError:
        return False


class Manifest:
    """The RenderManifest.1 of one render (a folder beside the master); safe to share between workers.

    Every change is read–modify–write under an exclusive lock on ``manifest.lock`` and lands by
    an atomic rename, so a reader (or a crash) sees either the old or the new manifest.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / MANIFEST_FILE

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict | None]:
        """The current manifest dict (None if there is none) under the lock; write it with :meth:`save`."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fh = open(self.folder / "manifest.lock", "a+")  # noqa: SIM115 - held by the with-block below
        except OSError as exc:
            raise OutputError(f"cannot use the render folder ({exc.strerror or exc})", path=self.folder) from exc
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield self.read()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def read(self) -> dict | None:
        """The manifest (upgraded to the current schema), or None when there is none."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidProject(f"the render manifest is not valid JSON ({exc})", path=self.path,
                                 hint="Delete the render folder to start the render over") from exc
        if not isinstance(data, dict):
            raise InvalidProject("the render manifest is not a JSON object", path=self.path)
        return upgrade_to_current(data, MANIFEST_NAME, MANIFEST_VERSION, path=str(self.path))

    def save(self, data: dict) -> None:
        try:
            atomic_write_json(self.path, {**data, "schema": MANIFEST_SCHEMA})
        except OSError as exc:
            raise OutputError(f"cannot write the render manifest ({exc.strerror or exc})", path=self.path) from exc

    def start(self, header: dict, chunks: Sequence[Chunk]) -> tuple[dict, list[str]]:
        """Open (or create) the manifest for this plan; a manifest of other settings is started over.

        Returns:
            (manifest, notes).
        """
        notes: list[str] = []
        with self.locked() as data:
            if data is not None and data.get("fingerprint") != header["fingerprint"]:
                stale = len(data.get("committed", {}))
                notes.append(f"the project or the render settings changed since the last run: "
                             f"{stale} committed chunk(s) discarded")
                data = None
            if data is None:
                data = {"schema": MANIFEST_SCHEMA, **header, "chunks": {}, "committed": {}, "master": None}
            for c in chunks:
                data["chunks"].setdefault(c.id, asdict(c))
            self.save(data)
        return data, notes

    def commit(self, chunk: Chunk, record: dict) -> None:
        """Record `chunk` as committed (its files already renamed into place)."""
        with self.locked() as data:
            if data is None:
                raise OutputError("the render manifest disappeared during the render", path=self.path)
            data["committed"][chunk.id] = record
            self.save(data)

    def forget(self, chunk_ids: Sequence[str]) -> None:
        """Drop commits that failed their check (the files are re-rendered)."""
        with self.locked() as data:
            if data is not None:
                for cid in chunk_ids:
                    data["committed"].pop(cid, None)
                self.save(data)

    def set_master(self, record: dict | None) -> None:
        with self.locked() as data:
            if data is not None:
                data["master"] = record
                self.save(data)


def valid_commit(folder: Path, record: dict | None) -> bool:
    """A committed chunk whose every file is intact (its state file is checked where it is used)."""
    return record is not None and all(digest_matches(folder, f) for f in record.get("files", []))


def remove_dead_partials(folder: Path) -> list[str]:
    """Remove partial files in `folder` left by dead processes of this host; never another host's
    (it may be a live worker on shared storage) nor a live process's. Returns the names removed."""
    return [p.name for p in remove_stale_partials(folder)]
