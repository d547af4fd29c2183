"""HDR10 in -> HEVC 10-bit out keeps PQ / BT.2020 and the mastering display and light level data."""

from __future__ import annotations

from engine.media import probe
from tests.support.clips import write_clip

MASTER = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"


def hdr10_clip(path):
    return write_clip(path, frames=3, codec="libx265", pix_fmt="yuv420p10le", colour=(9, 16, 9, 1),
                      options={"x265-params": f"log-level=error:hdr10=1:repeat-headers=1:master-display={MASTER}:"
                                              "max-cll=1000,400"})


def test_hdr10_survives_a_hevc_10_bit_master(cli, tmp_path):
    source = hdr10_clip(tmp_path / "hdr.mkv")
    info = probe(source).video
    assert (info.color_trc, info.mastering_display, info.content_light) == ("smpte2084", MASTER, "1000,400")
    for name in ("out.mp4", "out.mkv"):
        result = cli("convert", source, "-o", tmp_path / name, "--codec", "hevc", "--bit-depth", "10", "--no-cache",
                     "--progress", "none")
        assert result.code == 0 and "HDR" not in result.err, result.err
        out = probe(tmp_path / name).video
        assert (out.color_primaries, out.color_trc, out.colorspace, out.bit_depth) == (
            "bt2020", "smpte2084", "bt2020nc", 10)
        assert out.mastering_display == MASTER and out.content_light == "1000,400"


def test_an_8_bit_or_prores_master_of_hdr_says_what_it_loses(cli, tmp_path):
    source = hdr10_clip(tmp_path / "hdr.mkv")
    eight = cli("convert", source, "-o", tmp_path / "sdr.mp4", "--no-cache", "--progress", "none")
    assert eight.code == 0 and "8-bit master keeps its smpte2084 / bt2020 tags but bands" in eight.err
    assert probe(tmp_path / "sdr.mp4").video.mastering_display is None
    prores = cli("convert", source, "-o", tmp_path / "p.mov", "--codec", "prores", "--no-cache", "--progress", "none")
    assert prores.code == 0 and "only HEVC masters carry that data" in prores.err
    assert probe(tmp_path / "p.mov").video.color_trc == "smpte2084"
