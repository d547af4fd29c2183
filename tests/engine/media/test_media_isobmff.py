"""st3d box: box parsing, the moov rewrite (sizes, replacement, chunk offsets) and real files."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.media import EncodeSettings, VideoWriter
from engine.media.isobmff import (
    box_bytes,
    moov_with_st3d,
    parse_boxes,
    read_st3d,
    shift_chunk_offsets,
    st3d_box,
    top_level_boxes,
    write_with_st3d,
)
from tests.support.clips import coded_image


def _entry(kind: bytes, *children: bytes) -> bytes:
    """A visual sample entry: 78 fixed bytes (a recognisable pattern) then child boxes."""
    return box_bytes(kind, bytes(range(78)) + b"".join(children))


def _trak(handler: bytes, entry: bytes, offsets: bytes) -> bytes:
    stsd = box_bytes(b"stsd", struct.pack(">II", 0, 1) + entry)
    stbl = box_bytes(b"stbl", stsd + offsets)
    hdlr = box_bytes(b"hdlr", struct.pack(">II4s", 0, 0, handler) + bytes(12) + b"name\0")
    return box_bytes(b"trak", box_bytes(b"mdia", hdlr + box_bytes(b"minf", stbl)))


def _stco(*values: int) -> bytes:
    return box_bytes(b"stco", struct.pack(f">II{len(values)}I", 0, len(values), *values))


def _co64(*values: int) -> bytes:
    return box_bytes(b"co64", struct.pack(f">II{len(values)}Q", 0, len(values), *values))


def _moov() -> bytes:
    audio = _trak(b"soun", box_bytes(b"mp4a", bytes(28)), _stco(100, 200))
    video = _trak(b"vide", _entry(b"avc1", box_bytes(b"avcC", b"\x01abc"), box_bytes(b"pasp", bytes(8))),
                  _co64(150, 5_000_000_000))
    return box_bytes(b"moov", box_bytes(b"mvhd", bytes(100)) + audio + video)


def _sizes_consistent(data: bytes, start: int = 0, end: int | None = None) -> None:
    """Every box's size adds up, recursively through the containers we rewrite."""
    for box in parse_boxes(data, start, end):
        skip = {b"moov": 0, b"trak": 0, b"mdia": 0, b"minf": 0, b"stbl": 0, b"stsd": 8}.get(box.kind)
        if skip is not None:
            _sizes_consistent(data, box.body + skip, box.end)


def test_st3d_box_is_the_rfc_full_box() -> None:
    assert st3d_box("left_right") == b"\x00\x00\x00\x0dst3d\x00\x00\x00\x00\x02"
    assert st3d_box("top_bottom")[-1] == 1
    with pytest.raises(KeyError):
        st3d_box("anaglyph_cyan_red")


def test_parse_boxes_reads_large_and_to_the_end_sizes_and_refuses_bad_ones() -> None:
    large = struct.pack(">I4sQ", 1, b"mdat", 20) + b"abcd"
    to_end = struct.pack(">I4s", 0, b"free") + b"xyz"
    boxes = parse_boxes(large + to_end)
    assert [(b.kind, b.header, b.size) for b in boxes] == [(b"mdat", 16, 20), (b"free", 8, 11)]
    with pytest.raises(ValueError, match="bad size"):
        parse_boxes(struct.pack(">I4s", 50, b"moov") + bytes(4))
    with pytest.raises(ValueError, match="bad size"):
        parse_boxes(struct.pack(">I4s", 4, b"moov"))


def test_moov_rewrite_puts_st3d_last_in_the_video_entry_and_fixes_every_size() -> None:
    old = _moov()
    new = moov_with_st3d(old, "left_right")
    assert len(new) == len(old) + 13
    _sizes_consistent(new)
    at = new.index(b"avc1") - 4
    entry = parse_boxes(new, at, at + struct.unpack_from(">I", new, at)[0])[0]
    assert new[entry.body:entry.body + 78] == bytes(range(78))  # fixed fields untouched
    children = parse_boxes(new, entry.body + 78, entry.end)
    assert [c.kind for c in children] == [b"avcC", b"pasp", b"st3d"]
    assert new[:new.index(b"avc1")].count(b"st3d") == 0  # the audio track got nothing
    again = moov_with_st3d(new, "top_bottom")  # an old st3d is replaced, not doubled
    assert len(again) == len(new) and again.count(b"st3d") == 1
    assert again[again.index(b"st3d") + 8] == 1  # after version/flags: stereo_mode top-bottom


def test_moov_without_video_is_refused() -> None:
    audio_only = box_bytes(b"moov", _trak(b"soun", box_bytes(b"mp4a", bytes(28)), _stco(1)))
    with pytest.raises(ValueError, match="no video track"):
        moov_with_st3d(audio_only, "left_right")


def test_chunk_offsets_move_in_every_track_and_32_bit_overflow_is_refused() -> None:
    shifted = shift_chunk_offsets(_moov(), 13)
    stco = shifted.index(b"stco") + 4
    assert struct.unpack_from(">II", shifted, stco + 8) == (113, 213)
    co64 = shifted.index(b"co64") + 4
    assert struct.unpack_from(">QQ", shifted, co64 + 8) == (163, 5_000_000_013)
    with pytest.raises(ValueError, match="overflow"):
        shift_chunk_offsets(box_bytes(b"moov", _trak(b"vide", _entry(b"avc1"), _stco(2**32 - 5))), 13)


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.mark.parametrize(("name", "settings"), [("fast.mp4", EncodeSettings("ffv1")),
                                                 ("end.mov", EncodeSettings("h264", preset="ultrafast"))])
def test_real_file_rewrite_keeps_every_frame(tmp_path: Path, name: str, settings: EncodeSettings) -> None:
    plain = tmp_path / name
    with VideoWriter(plain, width=64, height=48, fps=Fraction(24), settings=settings) as writer:
        for i in range(4):
            writer.write(coded_image(i))
    kinds = [b.kind for b in top_level_boxes(plain)]
    faststart = kinds.index(b"moov") < kinds.index(b"mdat")
    assert faststart == name.endswith(".mp4")  # the writer's mp4 is faststart, its mov is not
    out = tmp_path / f"st3d_{name}"
    write_with_st3d(plain, out, "top_bottom")
    assert read_st3d(out) == 1 and read_st3d(plain) is None
    assert out.stat().st_size == plain.stat().st_size + 13
    before, after = _frames(plain), _frames(out)  # chunk offsets right: the same samples decode
    assert len(after) == 4 and all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
