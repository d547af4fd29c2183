"""probe(): stream facts, exact counts, VFR, rotation, colour, timecode, and clear errors on bad input."""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.errors import MediaError
from engine.media import open_media, probe
from tests.support.clips import coded_image, frame_code, write_clip
from tests.support.data import SHARED_DATA as DATA


def test_probe_reports_stream_facts(clip_mp4: Path) -> None:
    info = probe(clip_mp4)
    v = info.video
    assert "mp4" in info.container and not info.is_still
    assert (v.codec, v.width, v.height, v.coded_width, v.coded_height) == ("h264", 64, 48, 64, 48)
    assert v.fps == Fraction(24) and v.frame_count == 24 and not v.is_vfr
    assert v.duration_s == pytest.approx(1.0, abs=1e-6)
    assert (v.rotation, v.pix_fmt, v.bit_depth) == (0, "yuv420p", 8)
    assert (v.color_primaries, v.color_trc, v.colorspace, v.color_range) == ("bt709", "bt709", "bt709", "tv")
    assert v.start_timecode is None and v.stereo_mode is None
    (audio,) = info.audio
    assert (audio.codec, audio.sample_rate, audio.channels, audio.layout) == ("aac", 48000, 2, "stereo")
    assert audio.duration_s == pytest.approx(1.0, abs=0.05)
    assert info.dropped_streams == () and info.notes == ()
    assert info.duration_s == pytest.approx(1.0, abs=0.05)


def test_to_dict_is_json_ready(clip_mp4: Path) -> None:
    data = json.loads(json.dumps(probe(clip_mp4).to_dict()))
    assert data["video"]["fps"] == "24/1"
    assert Fraction(data["video"]["time_base"]) == probe(clip_mp4).video.time_base
    assert data["audio"][0]["codec"] == "aac" and data["path"] == str(clip_mp4)


def test_frame_count_is_counted_when_the_container_has_none(clip_mkv: Path) -> None:
    with av.open(str(clip_mkv)) as container:
        assert container.streams.video[0].frames == 0  # Matroska stores no frame count
    assert probe(clip_mkv).video.frame_count == 24


def test_constant_rate_in_millisecond_timebase_is_not_vfr(make_clip) -> None:
    # 23.976 fps in Matroska's 1 ms grid: durations alternate 41/42 ms, still constant rate.
    info = probe(make_clip("ntsc.mkv", frames=20, fps=Fraction(24000, 1001)))
    assert not info.video.is_vfr and info.video.fps == Fraction(24000, 1001)


def test_variable_frame_rate_is_detected_from_timestamps(make_clip) -> None:
    pts = [0, 40, 80, 160, 200, 280, 300, 340, 420, 460]
    path = make_clip("vfr.mkv", frames=len(pts), pts=pts, time_base=Fraction(1, 1000))
    video = probe(path).video
    assert video.is_vfr and video.frame_count == len(pts)
    assert video.duration_s == pytest.approx(0.5, abs=0.045)


@pytest.mark.parametrize(("ccw", "clockwise"), [(90, 270), (-90, 90), (180, 180)])
def test_rotation_from_display_matrix(make_clip, ccw: int, clockwise: int) -> None:
    video = probe(make_clip(f"rot{ccw}.mp4", frames=4, rotation=ccw)).video
    assert video.rotation == clockwise
    assert (video.coded_width, video.coded_height) == (64, 48)
    expected = (48, 64) if clockwise in (90, 270) else (64, 48)
    assert (video.width, video.height) == expected


def test_timecode_from_a_mov_timecode_track(make_clip) -> None:
    info = probe(make_clip("tc.mov", frames=4, timecode="01:00:10:05"))
    assert info.video.start_timecode == "01:00:10:05"
    assert info.dropped_streams == ()  # the tmcd track is carried as the start timecode


def test_ten_bit_hdr_tags(make_clip) -> None:
    path = make_clip(
        "hdr.mkv",
        frames=3,
        codec="libx265",
        pix_fmt="yuv420p10le",
        colour=(9, 16, 9, 1),
        options={"x265-params": "log-level=error"},
    )
    video = probe(path).video
    assert (video.pix_fmt, video.bit_depth) == ("yuv420p10le", 10)
    assert (video.color_primaries, video.color_trc, video.colorspace, video.color_range) == (
        "bt2020",
        "smpte2084",
        "bt2020nc",
        "tv",
    )


def test_stereo_frame_packing_is_reported(make_clip) -> None:
    path = make_clip("sbs.mp4", frames=3, options={"crf": "8", "x264-params": "frame-packing=4"})
    assert probe(path).video.stereo_mode == "top_bottom"


def test_streams_we_do_not_carry_are_listed(tmp_path: Path) -> None:
    container = av.open(str(tmp_path / "subs.mkv"), "w")
    video = container.add_stream("libx264", rate=24)
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    subtitle = container.add_mux_stream("subrip")
    subtitle.metadata["language"] = "fra"
    container.add_attachment("font.ttf", "application/x-truetype-font", b"\x00\x01font")
    container.start_encoding()
    for i in range(3):
        container.mux(video.encode(av.VideoFrame.from_ndarray(coded_image(i), format="rgb24")))
    container.mux(video.encode())
    container.close()
    info = probe(tmp_path / "subs.mkv")
    assert info.dropped_streams == ("stream #1: subtitle (subrip, fra)", "stream #2: attachment (font.ttf)")
    assert info.video.frame_count == 3


def test_still_is_a_one_frame_video(tmp_path: Path) -> None:
    import cv2

    cv2.imwrite(str(tmp_path / "s.png"), np.full((10, 12, 3), 7, np.uint16))
    info = probe(tmp_path / "s.png")
    assert info.is_still and info.container == "png"
    assert (info.video.width, info.video.height, info.video.frame_count, info.video.fps) == (12, 10, 1, 1)
    assert info.video.bit_depth == 16


# ---- bad inputs: one clear line naming the file, input untouched ------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(path: Path, *words: str) -> MediaError:
    before = _digest(path) if path.is_file() else None
    with pytest.raises(MediaError) as caught:
        probe(path)
    error = caught.value
    text = str(error)
    assert "\n" not in text and str(path) in text and error.exit_code == 3
    for word in words:
        assert word in text.lower()
    if before is not None:
        assert _digest(path) == before
    return error


def test_missing_file(tmp_path: Path) -> None:
    _refused(tmp_path / "nowhere.mp4", "not found")


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("just some text\n" * 50)
    _refused(path, "not a video")


def test_truncated_mp4_without_index(clip_mp4: Path, tmp_path: Path) -> None:
    data = clip_mp4.read_bytes()  # faststart-less PyAV mp4: 'moov' sits at the end
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    _refused(path, "truncated", "moov")


def test_truncated_mkv_decodes_in_part_with_a_note(clip_mkv: Path, tmp_path: Path) -> None:
    data = clip_mkv.read_bytes()
    path = tmp_path / "cut.mkv"
    path.write_bytes(data[: len(data) // 2])
    info = probe(path)
    assert 0 < info.video.frame_count < 24
    assert any("truncated" in note for note in info.notes)
    with open_media(path) as reader:  # every frame the probe counts really decodes
        assert sum(1 for _ in reader.frames()) == info.video.frame_count


def test_truncated_transport_stream_counts_what_decodes(make_clip, tmp_path: Path) -> None:
    data = make_clip("whole.ts", gop=6).read_bytes()
    path = tmp_path / "cut.ts"
    path.write_bytes(data[: len(data) // 2])
    info = probe(path)
    assert 0 < info.video.frame_count < 24
    with open_media(path) as reader:
        frames = list(reader.frames())
    assert len(frames) == info.video.frame_count
    assert [frame_code(f.image) for f in frames] == list(range(len(frames)))


def test_audio_only_file_has_no_video(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "voice.m4a", with_video=False, audio=[("aac", 48000, 1)])
    _refused(path, "no video stream", "audio only")


def test_video_stream_with_zero_frames(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "empty.mkv", frames=0, audio=[("aac", 48000, 1)], audio_seconds=0.5)
    with av.open(str(path)) as container:
        assert len(container.streams.video) == 1
    _refused(path, "no frames")


def test_unknown_video_codec_id_in_mkv_header(clip_mkv: Path, tmp_path: Path) -> None:
    # Patch the Matroska CodecID so FFmpeg has no decoder for the track: a genuinely unsupported codec.
    data = clip_mkv.read_bytes()
    assert data.count(b"V_MPEG4/ISO/AVC") == 1
    path = tmp_path / "alien.mkv"
    path.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/AVC"))
    _refused(path, "not supported", "codec")


def test_folder_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, "folder")


@pytest.mark.skipif(
    not (DATA / "mono_videos").is_dir(), reason="shared test data not present (../shared/data)"
)
def test_real_davis_clip() -> None:
    info = probe(DATA / "mono_videos" / "davis_rollercoaster.mp4")
    assert (info.video.width, info.video.height, info.video.frame_count) == (960, 540, 70)
    assert info.video.fps == Fraction(24) and not info.video.is_vfr and info.audio == ()
