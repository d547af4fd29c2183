"""HDR10 in -> HEVC 10-bit out keeps PQ / BT.2020 and the mastering display and light level data."""

from __future__ import annotations

import av
import numpy as np

from engine.media import probe
from engine.media.sequence import read_frame
from engine.media.tonemap import pq_eotf, pq_inverse_eotf
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
    frames = cli("convert", source, "-o", tmp_path / "f.%04d.png", "--no-cache", "--progress", "none")
    assert frames.code == 0 and "the frames keep its signal values, not tone-mapped" in frames.err, frames.err


def ramp(index: int) -> np.ndarray:
    """(48, 64, 3) uint8 grey ramp along x (the PQ signal once encoded as BT.2020 PQ)."""
    row = np.linspace(0, 255, 64).round().astype(np.uint8)
    return np.repeat(np.repeat(row[None, :, None], 48, axis=0), 3, axis=2)


def test_tonemap_on_request_gives_an_sdr_bt709_master(cli, tmp_path):
    source = write_clip(tmp_path / "hdr.mkv", frames=2, codec="libx265", pix_fmt="yuv444p10le", colour=(9, 16, 9, 1),
                        image_fn=ramp, options={"x265-params": f"log-level=error:lossless=1:master-display={MASTER}"})
    result = cli("convert", source, "-o", tmp_path / "sdr.mkv", "--codec", "ffv1", "--tonemap", "--synthesize",
                 "right", "--divergence", "0.01", "--no-cache", "--progress", "none")
    assert result.code == 0 and "tone-mapped to SDR BT.709 (peak 1000 cd/m²" in result.err, result.err
    assert "BT.2390 EETF" in result.err
    out = probe(tmp_path / "sdr.mkv").video
    assert out.color_primaries == "bt709" and out.color_trc == "bt709" and out.mastering_display is None
    with av.open(str(tmp_path / "sdr.mkv")) as container:
        left = next(container.decode(video=0)).to_ndarray(format="rgb24")[:, :64].astype(int)
    row = left[24, :, 1]
    assert np.all(np.diff(row) >= -1) and row[-1] >= 250 and row[0] <= 2  # monotonic, 10,000 cd/m² -> white
    signal = np.linspace(0, 255, 64).round() / 255
    low = int(np.argmin(np.abs(signal - pq_inverse_eotf(50.0))))  # 50 cd/m²: below the BT.2390 knee, kept
    assert abs(row[low] - 255 * (pq_eotf(signal[low]) / 203.0) ** (1 / 2.4)) <= 4
    mid = int(np.argmin(np.abs(signal - pq_inverse_eotf(203.0))))  # HDR reference white: rolled off a little
    assert 200 <= row[mid] <= 245
    top = int(np.argmin(np.abs(signal - pq_inverse_eotf(1000.0))))  # the mastering peak: SDR white
    assert row[top] >= 250
    sdr_source = write_clip(tmp_path / "sdr_in.mp4", frames=2)
    plain = cli("convert", sdr_source, "--tonemap", "-o", tmp_path / "x.mp4", "--no-cache", "--progress", "none")
    assert plain.code == 0 and "nothing is tone-mapped" in plain.err


def test_a_farm_render_tone_maps_as_convert_does(cli, tmp_path):
    from fractions import Fraction

    from engine.document import Project, save_project
    from engine.jobs.render_project import default_shots

    source = write_clip(tmp_path / "hdr.mkv", frames=4, codec="libx265", pix_fmt="yuv444p10le", colour=(9, 16, 9, 1),
                        image_fn=ramp, options={"x265-params": f"log-level=error:lossless=1:master-display={MASTER}"})
    project = tmp_path / "hdr.sdproj"
    save_project(Project.single(str(source), Fraction(24), 4, default_shots([(0, 4)])), project)
    common = ("--tonemap", "--codec", "ffv1", "--temporal", "off", "--cache-dir", tmp_path / "cache", "--progress",
              "none")
    one = cli("convert", "--project", project, "-o", tmp_path / "one.mkv", *common)
    farm = cli("render", project, "-o", tmp_path / "farm.mkv", "--chunk-frames", "2", *common)
    assert one.code == 0 and farm.code == 0, one.err + farm.err

    def frames(path):
        with av.open(str(path)) as container:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]

    a, b = frames(tmp_path / "one.mkv"), frames(tmp_path / "farm.mkv")
    assert len(a) == 4 and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert probe(tmp_path / "farm.mkv").video.color_trc == "bt709"
    signal = np.linspace(0, 255, 64).round() / 255
    low = int(np.argmin(np.abs(signal - pq_inverse_eotf(50.0))))  # tone-mapped, not the PQ code left as it was
    assert abs(int(b[0][24, low, 1]) - 255 * (pq_eotf(signal[low]) / 203.0) ** (1 / 2.4)) <= 4


def test_tonemap_applies_to_an_image_sequence_but_not_to_exr(cli, tmp_path):
    source = write_clip(tmp_path / "hdr.mkv", frames=2, codec="libx265", pix_fmt="yuv444p10le", colour=(9, 16, 9, 1),
                        image_fn=ramp, options={"x265-params": f"log-level=error:lossless=1:master-display={MASTER}"})
    result = cli("convert", source, "-o", tmp_path / "f.%04d.png", "--tonemap", "--synthesize", "right",
                 "--divergence", "0.01", "--no-cache", "--progress", "none")
    assert result.code == 0 and "tone-mapped to SDR BT.709" in result.err, result.err
    image, bits = read_frame(tmp_path / "f.0000.png")
    assert bits == 16
    row = image[24, :64, 1].astype(np.float64) / 65535
    signal = np.linspace(0, 255, 64).round() / 255
    low = int(np.argmin(np.abs(signal - pq_inverse_eotf(50.0))))
    assert abs(row[low] - (pq_eotf(signal[low]) / 203.0) ** (1 / 2.4)) <= 4 / 255  # SDR, not the PQ code
    exr = cli("convert", source, "-o", tmp_path / "e.%04d.exr", "--tonemap", "--no-cache", "--progress", "none")
    assert exr.code == 0 and "the EXR sequence keeps the source's HDR signal" in exr.err, exr.err
