"""engine.media.sequence / sequence_writer: patterns, indexing, gaps, decoding and writing each format."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import MediaError, OutputError, UsageError
from engine.media import open_media
from engine.media.exr import read_exr, write_exr
from engine.media.sequence import (
    display_from_linear,
    folder_run,
    format_ranges,
    linear_from_display,
    parse_pattern,
    read_frame,
    scan_sequence,
    source_stem,
)
from engine.media.sequence_writer import SequenceWriter, encode_frame, eye_pattern_path


def ramp(h: int = 12, w: int = 16, n: int = 0) -> np.ndarray:
    """(H, W, 3) uint16 with distinct, frame-dependent values."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 4000 + n * 97) % 65536, y * 5000, np.full_like(x, 30000 + n)], -1).astype(np.uint16)


def png16(path: Path, image: np.ndarray) -> None:
    assert cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]))


def test_parse_pattern_printf_hash_and_names():
    p = parse_pattern("shots/plate.%06d.exr")
    assert (p.prefix, p.padding, p.suffix) == ("plate.", 6, ".exr")
    assert p.name(1001) == "plate.001001.exr" and p.stem == "plate"
    h = parse_pattern("plate_####.dpx")
    assert (h.prefix, h.padding, h.suffix) == ("plate_", 4, ".dpx") and h.name(7) == "plate_0007.dpx"
    assert parse_pattern("clip.%d.png").name(12) == "clip.12.png"
    assert parse_pattern("shot.mov") is None
    with pytest.raises(UsageError, match="more than one"):
        parse_pattern("a.%04d.%04d.exr")
    assert source_stem("x/plate.%06d.exr") == "plate" and source_stem("x/shot.mov") == "shot"


def test_number_of_respects_padding():
    p = parse_pattern("p.%04d.png")
    assert p.number_of("p.1001.png") == 1001 and p.number_of("p.0007.png") == 7
    assert p.number_of("p.12345.png") == 12345  # a number past the padding is still a frame
    assert p.number_of("p.007.png") is None and p.number_of("p.01234.png") is None
    assert p.number_of("q.0001.png") is None and p.number_of("p.00a1.png") is None
    unpadded = parse_pattern("p.%d.png")
    assert unpadded.number_of("p.5.png") == 5 and unpadded.number_of("p.05.png") is None


def test_scan_keeps_start_number_and_reports_gaps(tmp_path):
    for n in (1001, 1002, 1003, 1006, 1008):
        png16(tmp_path / f"plate.{n:04d}.png", ramp(n=n))
    with pytest.raises(MediaError, match=r"3 frame\(s\) missing from the sequence: 1004-1005, 1007.*--fill-gaps hold"):
        scan_sequence(tmp_path / "plate.####.png")
    seq = scan_sequence(tmp_path / "plate.####.png", "hold")
    assert (seq.first, seq.last, len(seq)) == (1001, 1008, 8)
    assert seq.held.tolist() == [1004, 1005, 1007]
    assert [seq.file(i).name for i in (2, 3, 4, 5, 6)] == [
        "plate.1003.png", "plate.1003.png", "plate.1003.png", "plate.1006.png", "plate.1006.png"]
    assert len(seq.files()) == 5


def test_pattern_matching_nothing_and_unknown_format(tmp_path):
    with pytest.raises(MediaError, match="matches no file"):
        scan_sequence(tmp_path / "plate.%06d.exr")
    with pytest.raises(MediaError, match="not an image format"):
        scan_sequence(tmp_path / "notes.%04d.txt")
    with pytest.raises(UsageError, match="--fill-gaps"):
        scan_sequence(tmp_path / "plate.%06d.exr", "interpolate")


def test_folder_is_a_sequence_only_when_all_stills_are_one_run(tmp_path):
    for n in range(3):
        png16(tmp_path / f"sh010_{n:03d}.png", ramp())
    (tmp_path / ".DS_Store").write_bytes(b"x")  # hidden files do not count
    run = folder_run(tmp_path)
    assert run is not None and (run.prefix, run.padding, run.suffix) == ("sh010_", 3, ".png")
    (tmp_path / "notes.txt").write_text("x")
    assert folder_run(tmp_path) is None  # a non-still: a batch folder
    (tmp_path / "notes.txt").unlink()
    png16(tmp_path / "other_001.png", ramp())
    assert folder_run(tmp_path) is None  # two runs


def test_format_ranges():
    assert format_ranges(np.array([1, 2, 3, 7, 9, 10])) == "1-3, 7, 9-10"
    assert format_ranges(np.arange(0, 20, 2), limit=2) == "0, 2, ..."


def test_reader_streams_a_sequence_with_timecode_and_bit_depth(tmp_path):
    frames = [ramp(n=n) for n in range(4)]
    for k, image in enumerate(frames):
        png16(tmp_path / f"p.{86400 + k:06d}.png", image)
    with open_media(tmp_path / "p.%06d.png", fps=Fraction(24)) as reader:
        info = reader.info.video
        assert (len(reader), info.start_number, info.bit_depth, info.fps) == (4, 86400, 16, 24)
        assert info.start_timecode == "01:00:00:00"
        got = [f.image for f in reader.frames()]
        assert reader.frame(3).time == Fraction(3, 24)
    for a, b in zip(got, frames, strict=True):
        assert np.array_equal(a, b)


def test_reader_needs_fps_and_one_size(tmp_path):
    png16(tmp_path / "p.0001.png", ramp())
    png16(tmp_path / "p.0002.png", ramp(h=10))
    with pytest.raises(UsageError, match="--fps"):
        open_media(tmp_path / "p.%04d.png")
    with open_media(tmp_path / "p.%04d.png", fps=Fraction(25)) as reader, \
            pytest.raises(MediaError, match=r"p.0002.png: frame is 16x10, but the sequence is 16x12"):
        reader.frame(1)


def test_exr_without_rgb_is_refused(tmp_path):
    write_exr(tmp_path / "z.0001.exr", {"Z": np.ones((4, 4), np.float32)})
    with pytest.raises(MediaError, match=r"no RGB channels \(found: Z\)"):
        read_frame(tmp_path / "z.0001.exr")


def test_linear_round_trip_through_the_display_encoding():
    linear = np.linspace(0.0, 1.0, 3 * 64, dtype=np.float32).reshape(8, 8, 3)
    back = linear_from_display(display_from_linear(linear))
    assert np.abs(back - linear).max() < 2e-5


@pytest.mark.parametrize("dtype, bits", [(np.float16, 16), (np.float32, 32)])
def test_exr_frames_decode_and_write_back_linear(tmp_path, dtype, bits):
    rng = np.random.default_rng(1)
    linear = rng.uniform(0.0, 1.0, (6, 10, 3)).astype(dtype)
    write_exr(tmp_path / "in.exr", {c: linear[..., k] for k, c in enumerate("RGB")})
    image, got_bits = read_frame(tmp_path / "in.exr")
    assert image.dtype == np.uint16 and got_bits == bits
    (tmp_path / "out.exr").write_bytes(encode_frame(image, ".exr", bits))
    out = read_exr(tmp_path / "out.exr")
    assert out["R"].dtype == dtype and set(out) == {"R", "G", "B"}
    tolerance = 1e-3 if dtype == np.float16 else 2e-5
    assert np.abs(np.stack([out[c] for c in "RGB"], -1).astype(np.float32) - linear).max() < tolerance


def test_openexr_package_reads_our_exr_frames(tmp_path):
    openexr = pytest.importorskip("OpenEXR")
    image = ramp()
    (tmp_path / "f.exr").write_bytes(encode_frame(image, ".exr", 16))
    with openexr.File(str(tmp_path / "f.exr"), separate_channels=True) as exr:
        channels = {k: v.pixels for k, v in exr.channels().items()}
    expected = linear_from_display(image)
    assert np.allclose(np.stack([channels[c] for c in "RGB"], -1), expected, atol=1e-3)


@pytest.mark.parametrize("suffix, bits, exact", [(".png", 16, True), (".tif", 16, True), (".dpx", 16, True),
                                                 (".dpx", 10, False), (".png", 8, True)])
def test_each_format_round_trips_its_bit_depth(tmp_path, suffix, bits, exact):
    image = ramp() if bits > 8 else (ramp() // 257).astype(np.uint8)
    path = tmp_path / f"f{suffix}"
    path.write_bytes(encode_frame(image, suffix, bits))
    back, got_bits = read_frame(path)
    assert got_bits == bits and back.dtype == image.dtype
    if exact:
        assert np.array_equal(back, image)
    else:  # 10 bits kept: within one 10-bit step on the 16-bit scale
        assert np.abs(back.astype(int) - image.astype(int)).max() <= 65535 // 1023 + 1


def test_sequence_writer_lands_all_frames_at_commit_with_source_numbers(tmp_path):
    writer = SequenceWriter(tmp_path / "out.%06d.png", width=16, height=12, first_number=1001)
    for n in range(3):
        writer.write(ramp(n=n))
    assert not list(tmp_path.glob("out.*.png"))  # nothing in place before the commit
    writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.001001.png", "out.001002.png", "out.001003.png"]
    assert np.array_equal(read_frame(tmp_path / "out.001003.png")[0], ramp(n=2))


def test_sequence_writer_abort_leaves_nothing_and_keeps_existing_frames(tmp_path):
    png16(tmp_path / "out.0001.png", ramp(n=9))
    before = (tmp_path / "out.0001.png").read_bytes()
    writer = SequenceWriter(tmp_path / "out.%04d.png", width=16, height=12, first_number=1)
    writer.write(ramp())
    with pytest.raises(OutputError, match="already exists"):
        writer.commit()  # overwrite is off: the set is refused before any frame moves
    writer.abort()
    assert [p.name for p in tmp_path.iterdir()] == ["out.0001.png"]
    assert (tmp_path / "out.0001.png").read_bytes() == before


def test_eye_pattern_paths():
    assert eye_pattern_path(Path("d/out.%06d.exr"), "L") == Path("d/out_L.%06d.exr")
    assert eye_pattern_path(Path("out_####.dpx"), "R") == Path("out_R_####.dpx")


def test_a_100000_frame_sequence_is_indexed_from_one_listing_and_streams_flat(tmp_path, monkeypatch):
    """100,000 hard links to tiny PNGs: one folder listing indexes them (no file opened but the first);
    2,000 frames stream through the reader with flat traced memory (bench/bench_sequence.py times it)."""
    import os
    import tracemalloc

    from engine.media import sequence as seq

    for k in range(4):  # a file takes at most 65,000 links on ext4
        png16(tmp_path / f"src{k}.png", ramp(h=8, w=8))
    folder = tmp_path / "plate"
    folder.mkdir()
    for n in range(1001, 101001):
        os.link(tmp_path / f"src{n % 4}.png", folder / f"p.{n:07d}.png")
    listings = []
    real = seq._visible_files
    monkeypatch.setattr(seq, "_visible_files", lambda f: listings.append(f) or real(f))
    sequence = scan_sequence(folder / "p.%07d.png")
    monkeypatch.undo()
    assert listings == [folder] and (len(sequence), sequence.first, sequence.last) == (100_000, 1001, 101000)
    assert sequence.file(99_999) == folder / "p.0101000.png" and sequence.held.size == 0
    with open_media(folder / "p.%07d.png", fps=Fraction(24)) as reader:
        assert len(reader) == 100_000 and reader.info.video.start_number == 1001
        tracemalloc.start()
        try:
            peaks = []
            for k, frame in enumerate(reader.frames(50_000, 52_000)):
                assert frame.image.shape == (8, 8, 3)
                if k in (100, 1999):
                    peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert k == 1999 and peaks[1] - peaks[0] < 256 * 1024  # flat: no growth with the frames read
