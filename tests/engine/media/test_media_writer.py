"""VideoWriter: codecs, quality settings, colour round trip and tags, stereo metadata, VFR, timecode."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.errors import OutputError, UsageError
from engine.media import EncodeSettings, VideoWriter, drops_bit_depth, open_media, probe
from engine.media.sei import FRAME_PACKING_PAYLOAD, length_prefixed_nals, sei_payload_types
from tests.support.clips import coded_image, frame_code

FPS = Fraction(24)


def _write(
    path: Path,
    settings: EncodeSettings,
    frames: int = 6,
    *,
    deep: bool = False,
    times: list[Fraction] | None = None,
    **kwargs: object,
) -> Path:
    with VideoWriter(path, width=64, height=48, fps=FPS, settings=settings, **kwargs) as writer:
        for i in range(frames):
            image = coded_image(i)
            writer.write(
                image.astype(np.uint16) * 257 if deep else image, None if times is None else times[i]
            )
    return path


@pytest.mark.parametrize(
    ("settings", "name", "codec", "pix_fmt"),
    [
        (EncodeSettings("h264"), "a.mp4", "h264", "yuv420p"),
        (EncodeSettings("h264"), "a.mkv", "h264", "yuv420p"),
        (EncodeSettings("hevc"), "a.mp4", "hevc", "yuv420p"),
        (EncodeSettings("hevc", bit_depth=10), "a.mkv", "hevc", "yuv420p10le"),
        (EncodeSettings("prores"), "a.mov", "prores", "yuv422p10le"),
        (
            EncodeSettings("prores", prores_profile="4444"),
            "a.mkv",
            "prores",
            "yuv444p12le",
        ),  # decodes as 12-bit
        (EncodeSettings("ffv1"), "a.mkv", "ffv1", "bgr0"),
        (EncodeSettings("ffv1", bit_depth=10), "a.mp4", "ffv1", "gbrp10le"),
    ],
    ids=["h264-mp4", "h264-mkv", "hevc8-mp4", "hevc10-mkv", "prores-hq", "prores-4444", "ffv1-8", "ffv1-10"],
)
def test_codecs_write_readable_frames(
    tmp_path: Path, settings: EncodeSettings, name: str, codec: str, pix_fmt: str
) -> None:
    deep = settings.output_bit_depth > 8
    path = _write(tmp_path / name, settings, deep=deep)
    video = probe(path).video
    assert (video.codec, video.pix_fmt, video.frame_count, video.fps) == (codec, pix_fmt, 6, FPS)
    assert video.bit_depth >= settings.output_bit_depth
    with open_media(path) as reader:
        frames = list(reader.frames())
    assert [frame_code(f.image) for f in frames] == list(range(6))
    assert frames[0].image.dtype == (np.uint16 if deep else np.uint8)


def test_ffv1_is_lossless(tmp_path: Path) -> None:
    path = _write(tmp_path / "lossless.mkv", EncodeSettings("ffv1"), frames=3)
    with open_media(path) as reader:
        for frame in reader.frames():
            np.testing.assert_array_equal(frame.image, coded_image(frame.index))


@pytest.mark.parametrize("name", ["flat.mp4", "flat.mkv"])
def test_flat_colour_round_trips_in_bt709(tmp_path: Path, name: str) -> None:
    colour = np.array([200, 60, 30], np.uint8)
    with VideoWriter(
        tmp_path / name, width=64, height=48, fps=FPS, settings=EncodeSettings(crf=12)
    ) as writer:
        for _ in range(3):
            writer.write(np.tile(colour, (48, 64, 1)))
    video = probe(tmp_path / name).video
    assert (video.color_primaries, video.color_trc, video.colorspace, video.color_range) == (
        "bt709",
        "bt709",
        "bt709",
        "tv",
    )
    with open_media(tmp_path / name) as reader:
        got = reader.frame(1).image[8:-8, 8:-8].reshape(-1, 3).mean(axis=0)
    assert np.abs(got - colour).max() < 2.5


def test_source_colour_tags_are_carried(make_clip, tmp_path: Path) -> None:
    source = probe(make_clip("sd.mkv", frames=2, colour=(6, 6, 6, 2)))  # BT.601, full range
    out = _write(tmp_path / "o.mp4", EncodeSettings(), frames=2, source=source)
    video = probe(out).video
    assert (video.color_primaries, video.color_trc, video.colorspace, video.color_range) == (
        "smpte170m",
        "smpte170m",
        "smpte170m",
        "pc",
    )


def test_hdr_ten_bit_survives_and_drop_is_detected(make_clip, tmp_path: Path) -> None:
    src_path = make_clip(
        "hdr.mkv",
        frames=3,
        codec="libx265",
        pix_fmt="yuv420p10le",
        colour=(9, 16, 9, 1),
        options={"x265-params": "log-level=error:lossless=1"},
    )
    source = probe(src_path)
    ten = EncodeSettings("hevc", bit_depth=10, crf=4)
    assert drops_bit_depth(source, EncodeSettings("h264"))
    assert not drops_bit_depth(source, ten) and not drops_bit_depth(source, EncodeSettings("prores"))
    out = tmp_path / "hdr_out.mkv"
    with (
        open_media(src_path) as reader,
        VideoWriter(out, width=64, height=48, fps=FPS, settings=ten, source=source) as writer,
    ):
        originals = [f.image for f in reader.frames()]
        for image in originals:
            writer.write(image)
    video = probe(out).video
    assert (video.bit_depth, video.color_primaries, video.color_trc, video.colorspace) == (
        10,
        "bt2020",
        "smpte2084",
        "bt2020nc",
    )
    with open_media(out) as reader:
        back = reader.frame(1).image
    assert back.dtype == np.uint16
    flat = (slice(8, -8), slice(8, 24))
    assert np.abs(back[flat].astype(float) - originals[1][flat]).mean() < 0.004 * 65535


def _x264_settings_text(path: Path) -> str:
    """x264 writes its settings into the stream as an SEI text ('... rc=crf ... crf=10.0 ...')."""
    data = path.read_bytes()
    start = data.find(b"x264 - core")
    return data[start : data.find(b"\x00", start)].decode("ascii", "replace")


def test_crf_bitrate_and_preset_reach_x264(tmp_path: Path) -> None:
    crf = _x264_settings_text(_write(tmp_path / "crf.mp4", EncodeSettings(crf=10, preset="ultrafast")))
    assert "rc=crf" in crf and "crf=10.0" in crf and "cabac=0" in crf  # ultrafast turns CABAC off
    rate = _x264_settings_text(_write(tmp_path / "abr.mp4", EncodeSettings(bitrate=300_000)))
    assert "rc=abr" in rate and "bitrate=300" in rate and "cabac=1" in rate  # medium keeps CABAC
    default = _x264_settings_text(_write(tmp_path / "default.mp4", EncodeSettings()))
    assert "crf=18.0" in default


def test_lower_crf_gives_a_bigger_file(tmp_path: Path) -> None:
    fine = _write(tmp_path / "fine.mkv", EncodeSettings("hevc", crf=5))
    coarse = _write(tmp_path / "coarse.mkv", EncodeSettings("hevc", crf=45))
    assert fine.stat().st_size > 2 * coarse.stat().st_size


def _stereo_types(path: Path) -> list[int]:
    """AVStereo3D.type of every STEREO3D side data on the first decoded frame (1 SBS, 2 TB)."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return [
            int(np.frombuffer(bytes(sd)[:4], np.int32)[0])
            for sd in frame.side_data
            if sd.type == av.sidedata.sidedata.Type.STEREO3D
        ]


@pytest.mark.parametrize("name", ["sbs.mp4", "sbs.mkv", "sbs.mov"])
def test_side_by_side_h264_carries_frame_packing(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, EncodeSettings(), frames=2, stereo_mode="left_right")
    types = _stereo_types(path)
    assert types and set(types) == {1}
    assert probe(path).video.stereo_mode == "left_right"


def test_top_bottom_h264_carries_frame_packing(tmp_path: Path) -> None:
    path = _write(tmp_path / "tb.mp4", EncodeSettings(), frames=2, stereo_mode="top_bottom")
    assert set(_stereo_types(path)) == {2}


def _keyframe_sei_types(path: Path) -> list[list[int]]:
    """SEI payload types of each NAL unit in the first video packet (our own bitstream reader)."""
    with av.open(str(path)) as container:
        packet = next(p for p in container.demux(video=0) if p.size)
        return [sei_payload_types(nal) for nal in length_prefixed_nals(bytes(packet))]


@pytest.mark.parametrize("name", ["hevc.mp4", "hevc.mov", "hevc.mkv"])
@pytest.mark.parametrize(("mode", "kind"), [("left_right", 1), ("top_bottom", 2)])
def test_hevc_carries_our_frame_packing_sei(tmp_path: Path, name: str, mode: str, kind: int) -> None:
    path = _write(tmp_path / name, EncodeSettings("hevc", preset="ultrafast"), frames=3, stereo_mode=mode)
    assert [FRAME_PACKING_PAYLOAD] in _keyframe_sei_types(path)  # the NAL is in the stored sample
    assert set(_stereo_types(path)) == {kind}  # and FFmpeg's HEVC decoder reads it as STEREO3D
    assert probe(path).video.stereo_mode == mode


def test_hevc_without_stereo_or_anaglyph_has_no_frame_packing(tmp_path: Path) -> None:
    plain = _write(tmp_path / "plain.mp4", EncodeSettings("hevc", preset="ultrafast"), frames=2)
    anaglyph = _write(tmp_path / "ana.mp4", EncodeSettings("hevc", preset="ultrafast"), frames=2,
                      stereo_mode="anaglyph_cyan_red")
    for path in (plain, anaglyph):
        assert not any(FRAME_PACKING_PAYLOAD in types for types in _keyframe_sei_types(path))
        assert _stereo_types(path) == []


def test_matroska_stereo_mode_without_sei(tmp_path: Path) -> None:
    hevc = _write(tmp_path / "sbs_hevc.mkv", EncodeSettings("hevc"), frames=2, stereo_mode="left_right")
    assert set(_stereo_types(hevc)) == {1}  # the StereoMode element and our SEI agree
    anaglyph = _write(tmp_path / "ana.mkv", EncodeSettings(), frames=2, stereo_mode="anaglyph_cyan_red")
    with av.open(str(anaglyph)) as container:
        assert container.streams.video[0].metadata.get("stereo_mode") == "anaglyph_cyan_red"
    plain = _write(tmp_path / "plain.mkv", EncodeSettings(), frames=2)
    assert _stereo_types(plain) == []


@pytest.mark.parametrize("name", ["vfr.mkv", "vfr.mp4"])
def test_vfr_timestamps_are_kept(tmp_path: Path, name: str) -> None:
    times = [Fraction(ms, 1000) for ms in (0, 40, 80, 160, 200, 280)]
    path = _write(tmp_path / name, EncodeSettings(), times=times)
    assert probe(path).video.is_vfr
    with open_media(path) as reader:
        assert [f.time for f in reader.frames()] == times


def test_cfr_default_times(tmp_path: Path) -> None:
    path = _write(tmp_path / "cfr.mp4", EncodeSettings(), frames=5)
    video = probe(path).video
    assert not video.is_vfr and video.fps == FPS and video.duration_s == pytest.approx(5 / 24)


@pytest.mark.parametrize("name", ["tc.mov", "tc.mp4", "tc.mkv"])
def test_timecode_is_carried_and_follows_the_trim(make_clip, tmp_path: Path, name: str) -> None:
    source = probe(make_clip("src.mov", frames=4, timecode="01:00:10:05"))
    assert probe(_write(tmp_path / name, EncodeSettings(), frames=2, source=source)).video.start_timecode == (
        "01:00:10:05"
    )
    trimmed = _write(
        tmp_path / f"trim_{name}",
        EncodeSettings(),
        frames=2,
        source=source,
        audio_range=(Fraction(1, 2), None),
    )
    assert probe(trimmed).video.start_timecode == "01:00:10:17"  # 0.5 s = 12 frames later


def test_settings_are_validated() -> None:
    with pytest.raises(OutputError, match="8-bit only"):
        EncodeSettings("h264", bit_depth=10)
    with pytest.raises(UsageError, match="exclusive"):
        EncodeSettings(crf=20, bitrate=1_000_000)
    with pytest.raises(UsageError):
        EncodeSettings("prores", crf=20)
    with pytest.raises(UsageError):
        EncodeSettings(preset="warp-speed")
    with pytest.raises(UsageError):
        EncodeSettings("vp9")


@pytest.mark.parametrize(
    ("name", "settings", "words"),
    [
        ("p.mp4", EncodeSettings("prores"), ".mov"),
        ("f.mov", EncodeSettings("ffv1"), ".mkv"),
        ("a.avi", EncodeSettings(), ".mp4"),
    ],
)
def test_container_refusals_happen_before_any_file(
    tmp_path: Path, name: str, settings: EncodeSettings, words: str
) -> None:
    with pytest.raises(OutputError) as caught:
        VideoWriter(tmp_path / name, width=64, height=48, fps=FPS, settings=settings)
    assert words in str(caught.value) and str(tmp_path / name) in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("width", "height", "settings"),
    [(63, 48, EncodeSettings()), (64, 47, EncodeSettings()), (63, 48, EncodeSettings("prores"))],
)
def test_odd_sizes_are_refused_for_subsampled_chroma(
    tmp_path: Path, width: int, height: int, settings: EncodeSettings
) -> None:
    suffix = ".mov" if settings.codec == "prores" else ".mp4"
    with pytest.raises(OutputError, match="even"):
        VideoWriter(tmp_path / f"odd{suffix}", width=width, height=height, fps=FPS, settings=settings)
    assert list(tmp_path.iterdir()) == []


def test_odd_sizes_are_fine_for_rgb_ffv1(tmp_path: Path) -> None:
    with VideoWriter(
        tmp_path / "odd.mkv", width=63, height=47, fps=FPS, settings=EncodeSettings("ffv1")
    ) as w:
        w.write(np.full((47, 63, 3), 99, np.uint8))
    assert (probe(tmp_path / "odd.mkv").video.width, probe(tmp_path / "odd.mkv").video.height) == (63, 47)


def test_bad_frames_are_refused(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "x.mp4", width=64, height=48, fps=FPS, settings=EncodeSettings())
    with pytest.raises(OutputError, match="expected"):
        writer.write(np.zeros((48, 64), np.uint8))
    writer.write(coded_image(0), Fraction(1, 10))
    with pytest.raises(OutputError, match="increase"):
        writer.write(coded_image(1), Fraction(1, 10))
    writer.write(coded_image(1), Fraction(2, 10))  # a refused frame leaves the writer usable
    writer.commit()
    assert probe(tmp_path / "x.mp4").video.frame_count == 2


def test_repair_dts_fixes_uninitialised_values_only() -> None:
    from engine.media.writer import repair_dts

    def packet(pts: int, dts: int | None) -> av.Packet:
        p = av.Packet(b"x")
        p.pts, p.dts = pts, dts
        return p

    garbage = [packet(0, -7885078839350357357), packet(3750, 4199523579)]
    assert repair_dts(garbage, None, 90000 * 3600) == 3750
    assert [(p.pts, p.dts) for p in garbage] == [(0, 0), (3750, 3750)]
    reordered = [packet(0, -7500), packet(11250, -3750), packet(3750, 0)]
    repair_dts(reordered, None, 90000 * 3600)
    assert [p.dts for p in reordered] == [-7500, -3750, 0]  # legitimate B-frame dts untouched


@pytest.mark.parametrize("frames", [1, 2, 3])
def test_very_short_hevc_clips(tmp_path: Path, frames: int) -> None:
    path = _write(tmp_path / f"short{frames}.mkv", EncodeSettings("hevc"), frames=frames)
    assert probe(path).video.frame_count == frames


def test_float_fps_snaps_to_ntsc_rates() -> None:
    from engine.media.writer import snap_fps, writer_time_base

    assert snap_fps(29.97) == Fraction(30000, 1001) and snap_fps(23.976) == Fraction(24000, 1001)
    assert snap_fps(25.0) == 25 and snap_fps(Fraction(24)) == 24
    for fps in (Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001), Fraction(120)):
        ticks = 1 / (fps * writer_time_base(fps))
        assert ticks.denominator == 1 and ticks >= 700  # whole ticks per frame, ~90 kHz resolution


def test_millisecond_rounded_times_come_out_constant_rate(clip_mkv: Path, tmp_path: Path) -> None:
    out = tmp_path / "cfr_again.mp4"
    with (
        open_media(clip_mkv) as reader,
        VideoWriter(out, width=64, height=48, fps=FPS, settings=EncodeSettings(preset="ultrafast")) as writer,
    ):
        for frame in reader.frames():  # 0, 42, 83, 125 ... ms
            writer.write(frame.image, frame.time)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        pts = sorted(p.pts for p in container.demux(stream) if p.size)
    assert len(set(np.diff(pts))) == 1 and Fraction(pts[1] - pts[0]) * stream.time_base == Fraction(1, 24)
