"""The ISO-BMFF `st3d` box (Google spatial media RFC v2) in MP4/MOV files we write.

`st3d` is a FullBox (version 0, flags 0) holding one uint8 stereo_mode (0 mono, 1 top-bottom,
2 left-right), placed inside the video track's sample entry (avc1/hvc1/apch/...: moov > trak >
mdia > minf > stbl > stsd > entry). FFmpeg's muxer writes it only from stream side data, which PyAV
cannot set, so the writer adds it after the mux: the moov is parsed, the box inserted (an old
`st3d` replaced), every enclosing size fixed up, and when moov precedes mdat (faststart) every
chunk offset (stco/co64, all tracks) moved by the growth. The file is streamed into a new file,
never read whole; only moov is held in memory.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import NamedTuple

ST3D_MODES = {"top_bottom": 1, "left_right": 2}
_CHILD_OFFSET = {b"moov": 0, b"trak": 0, b"mdia": 0, b"minf": 0, b"stbl": 0, b"stsd": 8}
_VISUAL_SAMPLE_ENTRY = 78  # reserved(6) data_reference_index(2) + VisualSampleEntry fields (70)
_PATH_TO_STSD = (b"mdia", b"minf", b"stbl", b"stsd")


class Box(NamedTuple):
    """One box inside a buffer: its four-character type, start, header length and total size."""

    kind: bytes
    start: int
    header: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def body(self) -> int:
        """Offset of the first byte after the header."""
        return self.start + self.header


def read_header(data: bytes, pos: int, end: int) -> Box:
    """The box whose header starts at data[pos] (32-bit, 64-bit `largesize` or size 0 = to `end`).

    `pos`/`end` are in the same coordinates as `data` (a header buffer may be passed with pos 0 and
    `end` = bytes left in the file). Raises ValueError on a box shorter than its header or past `end`.
    """
    size, kind = struct.unpack_from(">I4s", data, pos)
    header = 8
    if size == 1:
        if pos + 16 > len(data):
            raise ValueError(f"truncated {kind!r} box header")
        size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
    elif size == 0:
        size = end - pos
    if size < header or pos + size > end:
        raise ValueError(f"{kind!r} box at {pos} has a bad size {size}")
    return Box(kind, pos, header, size)


def parse_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    """The boxes laid end to end in data[start:end]; ValueError on a malformed one."""
    end = len(data) if end is None else end
    boxes, pos = [], start
    while pos + 8 <= end:
        boxes.append(read_header(data, pos, end))
        pos = boxes[-1].end
    return boxes


def box_bytes(kind: bytes, payload: bytes) -> bytes:
    """A box of `kind` with a 32-bit size header around `payload`."""
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def st3d_box(stereo_mode: str) -> bytes:
    """`st3d` FullBox (version 0, flags 0) for 'left_right' (2) or 'top_bottom' (1); 13 bytes."""
    return box_bytes(b"st3d", struct.pack(">IB", 0, ST3D_MODES[stereo_mode]))


def find_child(data: bytes, parent: Box, kind: bytes) -> Box | None:
    """The first child of `kind` in a container box (its header offsets from _CHILD_OFFSET)."""
    skip = _CHILD_OFFSET.get(parent.kind, 0)
    return next((b for b in parse_boxes(data, parent.body + skip, parent.end) if b.kind == kind), None)


def handler_type(data: bytes, trak: Box) -> bytes | None:
    """The trak's mdia > hdlr handler_type ('vide', 'soun', ...), None if missing."""
    mdia = find_child(data, trak, b"mdia")
    hdlr = mdia and find_child(data, mdia, b"hdlr")
    return bytes(data[hdlr.body + 8:hdlr.body + 12]) if hdlr else None


def _rebuilt(data: bytes, box: Box, path: tuple[bytes, ...], entry_edit) -> bytes:
    """`box` re-serialised with `entry_edit` applied to the first sample entry under `path`."""
    if not path:  # box is stsd: rewrite its first sample entry
        skip = box.body + _CHILD_OFFSET[b"stsd"]
        entries = parse_boxes(data, skip, box.end)
        if not entries:
            raise ValueError("stsd has no sample entry")
        first = entries[0]
        fixed = data[first.start + first.header:first.start + first.header + _VISUAL_SAMPLE_ENTRY]
        children = [data[b.start:b.end] for b in parse_boxes(data, first.body + _VISUAL_SAMPLE_ENTRY, first.end)]
        entry = box_bytes(first.kind, fixed + b"".join(entry_edit(children)))
        rest = data[first.end:box.end]
        return box_bytes(box.kind, data[box.body:skip] + entry + rest)
    child = find_child(data, box, path[0])
    if child is None:
        raise ValueError(f"no {path[0]!r} inside {box.kind!r}")
    inner = _rebuilt(data, child, path[1:], entry_edit)
    return box_bytes(box.kind, data[box.body:child.start] + inner + data[child.end:box.end])


def moov_with_boxes(moov: bytes, boxes: list[bytes]) -> bytes:
    """A whole `moov` box (bytes) with `boxes` appended to its first video track's sample entry, in order.

    A box of the same type already there is replaced. Chunk offsets are not touched (see
    shift_chunk_offsets). Raises ValueError when there is no video track or the box tree is malformed.
    """
    top = parse_boxes(moov)
    if len(top) != 1 or top[0].kind != b"moov":
        raise ValueError("not a single moov box")
    box = top[0]
    traks = [b for b in parse_boxes(moov, box.body, box.end) if b.kind == b"trak"]
    video = next((t for t in traks if handler_type(moov, t) == b"vide"), None)
    if video is None:
        raise ValueError("no video track")
    kinds = {b[4:8] for b in boxes}

    def edit(children: list[bytes]) -> list[bytes]:
        return [c for c in children if c[4:8] not in kinds] + list(boxes)

    trak = _rebuilt(moov, video, _PATH_TO_STSD, edit)
    return box_bytes(b"moov", moov[box.body:video.start] + trak + moov[video.end:box.end])


def moov_with_st3d(moov: bytes, stereo_mode: str) -> bytes:
    """:func:`moov_with_boxes` with one `st3d` box for `stereo_mode`."""
    return moov_with_boxes(moov, [st3d_box(stereo_mode)])


def shift_chunk_offsets(moov: bytes, delta: int) -> bytes:
    """`moov` with every stco/co64 entry (all tracks) moved by `delta` bytes; sizes unchanged.

    Raises ValueError when a 32-bit stco offset would overflow.
    """
    out = bytearray(moov)
    stack = [parse_boxes(moov)[0]]
    while stack:
        box = stack.pop()
        if box.kind in _CHILD_OFFSET:
            stack.extend(parse_boxes(moov, box.body + _CHILD_OFFSET[box.kind], box.end))
        elif box.kind in (b"stco", b"co64"):
            wide = box.kind == b"co64"
            fmt, width = (">Q", 8) if wide else (">I", 4)
            count = struct.unpack_from(">I", moov, box.body + 4)[0]
            for i in range(count):
                pos = box.body + 8 + i * width
                value = struct.unpack_from(fmt, moov, pos)[0] + delta
                if not wide and value >= 1 << 32:
                    raise ValueError("chunk offset overflows stco")
                struct.pack_into(fmt, out, pos, value)
    return bytes(out)


def top_level_boxes(path: Path) -> list[Box]:
    """Top-level boxes of a file, read header by header (payloads are not loaded)."""
    boxes, size, pos = [], path.stat().st_size, 0
    with path.open("rb") as f:
        while pos + 8 <= size:
            f.seek(pos)
            box = read_header(f.read(16), 0, size - pos)
            boxes.append(box._replace(start=pos))
            pos += box.size
    return boxes


def _copy_range(src, dst, start: int, end: int) -> None:
    """Copy bytes [start, end) of open file `src` to `dst`, in 1 MiB pieces."""
    src.seek(start)
    left = end - start
    while left > 0:
        piece = src.read(min(left, 1 << 20))
        if not piece:
            raise ValueError("file ended early")
        dst.write(piece)
        left -= len(piece)


def write_with_boxes(source: Path, target: Path, boxes: list[bytes]) -> None:
    """Stream `source` (an MP4/MOV) to `target` with `boxes` (st3d, sv3d ...) in its video sample entry.

    Boxes before and after moov are copied unchanged; when moov comes before mdat (faststart) the
    chunk offsets are moved by the bytes moov grew. Raises ValueError on a file we cannot rewrite.
    """
    top = top_level_boxes(source)
    moov = next((b for b in top if b.kind == b"moov"), None)
    mdat = next((b for b in top if b.kind == b"mdat"), None)
    if moov is None:
        raise ValueError("no moov box")
    with source.open("rb") as src, target.open("wb") as dst:
        src.seek(moov.start)
        old = src.read(moov.size)
        new = moov_with_boxes(old, boxes)
        if mdat is not None and moov.start < mdat.start:
            new = shift_chunk_offsets(new, len(new) - len(old))
        _copy_range(src, dst, 0, moov.start)
        dst.write(new)
        _copy_range(src, dst, moov.end, source.stat().st_size)
        dst.flush()
        os.fsync(dst.fileno())


def write_with_st3d(source: Path, target: Path, stereo_mode: str) -> None:
    """:func:`write_with_boxes` with one `st3d` box for `stereo_mode`."""
    write_with_boxes(source, target, [st3d_box(stereo_mode)])


def sample_entry_children(path: Path) -> list[tuple[bytes, bytes]]:
    """(type, box bytes) of each child of the first video track's sample entry (avcC, pasp, st3d ...),
    in file order; [] without moov or a video track. Reads only the moov box."""
    moov = next((b for b in top_level_boxes(path) if b.kind == b"moov"), None)
    if moov is None:
        return []
    with path.open("rb") as f:
        f.seek(moov.start)
        data = f.read(moov.size)
    box = parse_boxes(data)[0]
    video = next((t for t in parse_boxes(data, box.body, box.end)
                  if t.kind == b"trak" and handler_type(data, t) == b"vide"), None)
    stsd = video
    for kind in _PATH_TO_STSD:
        stsd = stsd and find_child(data, stsd, kind)
    entries = parse_boxes(data, stsd.body + 8, stsd.end) if stsd else []
    if not entries:
        return []
    return [(c.kind, bytes(data[c.start:c.end]))
            for c in parse_boxes(data, entries[0].body + _VISUAL_SAMPLE_ENTRY, entries[0].end)]


def read_st3d(path: Path) -> int | None:
    """stereo_mode of the `st3d` box in the first video track's sample entry (0 mono, 1 top-bottom,
    2 left-right); None when there is none. Reads only the moov box; ValueError for a file that is
    not ISO-BMFF (e.g. Matroska)."""
    st3d = next((box for kind, box in sample_entry_children(path) if kind == b"st3d"), None)
    return st3d[12] if st3d else None
