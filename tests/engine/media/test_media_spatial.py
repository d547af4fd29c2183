"""engine.media.spatial: MV-HEVC spatial video is spotted on the way in; `--layout spatial` says what is missing."""

from __future__ import annotations

import struct
from fractions import Fraction

from engine.media import EncodeSettings, VideoWriter, probe
from engine.media.isobmff import box_bytes, write_with_boxes
from engine.media.spatial import is_mv_hevc, spatial_encoder_status
from tests.support.clips import coded_image, write_clip


def vexu_box() -> bytes:
    """Apple's video extended usage box: eyes > stri (FullBox v0; has left and right eye views)."""
    stri = box_bytes(b"stri", struct.pack(">IB", 0, 0x03))
    return box_bytes(b"vexu", box_bytes(b"eyes", stri))


def test_spatial_video_is_detected_and_converts_from_its_base_view(cli, tmp_path):
    flat = tmp_path / "flat.mp4"
    with VideoWriter(flat, width=64, height=48, fps=Fraction(24), settings=EncodeSettings("hevc")) as writer:
        for k in range(2):
            writer.write(coded_image(k, 64, 48))
    spatial = tmp_path / "spatial.mp4"
    write_with_boxes(flat, spatial, [vexu_box()])
    assert is_mv_hevc(spatial) and not is_mv_hevc(flat)
    assert probe(spatial).video.multiview and not probe(flat).video.multiview
    result = cli("convert", spatial, "-o", tmp_path / "sbs.mp4", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert "MV-HEVC spatial video (two views); only its base (left) view is decoded" in result.err


def test_layout_spatial_explains_what_is_missing(cli, tmp_path):
    reason = spatial_encoder_status()
    assert "hevc_nvenc" in reason and "multiview" in reason
    source = write_clip(tmp_path / "s.mp4", frames=2)
    result = cli("convert", source, "--layout", "spatial", "-o", tmp_path / "out.mov")
    assert result.code == 2 and "Traceback" not in result.err
    assert reason in result.err and "macOS" in result.err and "--layout sbs-full --codec hevc" in result.err
    assert not (tmp_path / "out.mov").exists()
