"""Stereo metadata read back from every container x codec the writer makes (README "Stereo metadata").

Each carrier is read by its own reader: Matroska StereoMode from PyAV's stream metadata, the
frame-packing SEI from the stored NAL units, `st3d` from our box parser; FFmpeg's decoders (probe)
must agree on the packing wherever any carrier exists.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from engine.media import EncodeSettings, VideoWriter, probe
from engine.media.encode import CONTAINERS, stereo_signalling, stereo_signalling_note
from engine.media.isobmff import ST3D_MODES, read_st3d
from engine.media.sei import FRAME_PACKING_PAYLOAD, length_prefixed_nals, sei_payload_types
from tests.support.clips import coded_image

WRITTEN = [(".mp4", "h264"), (".mp4", "hevc"), (".mp4", "ffv1"), (".mov", "h264"), (".mov", "hevc"),
           (".mov", "prores"), (".mkv", "h264"), (".mkv", "hevc"), (".mkv", "prores"), (".mkv", "ffv1")]
MODES = ["left_right", "top_bottom", "anaglyph_cyan_red"]


def _settings(codec: str) -> EncodeSettings:
    return EncodeSettings(codec, preset="ultrafast") if codec in ("h264", "hevc") else EncodeSettings(codec)


def _has_sei_frame_packing(path: Path, codec: str) -> bool:
    with av.open(str(path)) as container:
        packet = next(p for p in container.demux(video=0) if p.size)
        return any(FRAME_PACKING_PAYLOAD in sei_payload_types(nal, codec)
                   for nal in length_prefixed_nals(bytes(packet)))


def _matroska_mode(path: Path) -> str | None:
    with av.open(str(path)) as container:
        return container.streams.video[0].metadata.get("stereo_mode")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("ext", "codec"), WRITTEN, ids=[f"{c}{e}" for e, c in WRITTEN])
def test_every_carrier_the_table_promises_is_in_the_file(tmp_path: Path, ext: str, codec: str, mode: str) -> None:
    path = tmp_path / f"m{ext}"
    with VideoWriter(path, width=64, height=48, fps=Fraction(24), settings=_settings(codec),
                     stereo_mode=mode) as writer:
        for i in range(2):
            writer.write(coded_image(i))
    carriers = stereo_signalling(CONTAINERS[ext], codec, mode)
    assert ("Matroska StereoMode" in carriers) == (_matroska_mode(path) == mode)
    assert any("SEI" in c for c in carriers) == (codec in ("h264", "hevc") and _has_sei_frame_packing(path, codec))
    st3d = None if ext == ".mkv" else read_st3d(path)  # Matroska is no ISO-BMFF file
    assert ("st3d box" in carriers) == (st3d == ST3D_MODES.get(mode, -1))
    assert st3d is None or "st3d box" in carriers
    if mode in ST3D_MODES:
        assert carriers and probe(path).video.stereo_mode == mode
    else:
        assert probe(path).video.stereo_mode is None
    note = stereo_signalling_note(path, codec, mode)
    assert (note is None) == bool(carriers)


def test_the_table_marks_what_each_container_can_and_cannot_carry() -> None:
    assert stereo_signalling("mp4", "hevc", "left_right") == ("HEVC frame-packing SEI", "st3d box")
    assert stereo_signalling("mov", "prores", "top_bottom") == ("st3d box",)
    assert stereo_signalling("matroska", "ffv1", "anaglyph_cyan_red") == ("Matroska StereoMode",)
    assert stereo_signalling("mp4", "h264", "anaglyph_cyan_red") == ()
    assert stereo_signalling("mp4", "h264", None) == ()
    note = stereo_signalling_note(Path("a.MP4"), "h264", "anaglyph_cyan_red")
    assert note is not None and ".mp4" in note and ".mkv" in note
    assert stereo_signalling_note(Path("a.mp4"), "h264", "left_right") is None


@pytest.mark.parametrize(("mode", "said"), [("left_right", "side-by-side stereo"), ("top_bottom", "top-bottom stereo")])
def test_a_source_declaring_packed_stereo_converted_flat_says_so(cli, tmp_path: Path, mode: str, said: str) -> None:
    source = tmp_path / "packed.mkv"
    with VideoWriter(source, width=64, height=48, fps=Fraction(24), settings=_settings("h264"),
                     stereo_mode=mode) as writer:
        for i in range(2):
            writer.write(coded_image(i))
    result = cli("convert", source, "-o", tmp_path / "out.mkv", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert f"the source declares {said} (two views in each frame)" in result.err
    assert "convert its left view cut out first (e.g. ffmpeg -vf crop=" in result.err


def test_a_mono_source_gets_no_packed_stereo_note(cli, tmp_path: Path) -> None:
    source = tmp_path / "mono.mkv"
    with VideoWriter(source, width=64, height=48, fps=Fraction(24), settings=_settings("h264")) as writer:
        for i in range(2):
            writer.write(coded_image(i))
    result = cli("convert", source, "-o", tmp_path / "out.mkv", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert "the source declares" not in result.err
