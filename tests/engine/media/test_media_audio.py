"""Audio carried by VideoWriter: stream copy, every track, AAC fallback, trimming in sync."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from engine.media import EncodeSettings, VideoWriter, open_media, probe
from tests.support.clips import click, decoded_audio, decoded_samples

FRAME = 1 / 24


def _transcode(
    source_path: Path,
    out: Path,
    start: int = 0,
    end: int | None = None,
    audio_range: tuple[Fraction, Fraction | None] | None = None,
) -> VideoWriter:
    """Re-encode frames [start, end) of `source_path` to `out`, carrying its audio; returns the writer."""
    source = probe(source_path)
    with (
        open_media(source_path) as reader,
        VideoWriter(
            out,
            width=64,
            height=48,
            fps=source.video.fps,
            settings=EncodeSettings(preset="ultrafast"),
            source=source,
            audio_range=audio_range,
        ) as writer,
    ):
        first = reader.frame(start).time
        for frame in reader.frames(start, end):
            writer.write(frame.image, frame.time - first)
    return writer


def _packet_payloads(path: Path, count: int) -> list[bytes]:
    with av.open(str(path)) as container:
        payloads = []
        for packet in container.demux(container.streams.audio[0]):
            if packet.size:
                payloads.append(bytes(packet))
            if len(payloads) == count:
                return payloads
    return payloads


def test_audio_is_stream_copied_and_in_sync(clip_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy.mp4"
    writer = _transcode(clip_mp4, out)
    assert writer.audio_copied == (True,)
    (audio,) = probe(out).audio
    assert (audio.codec, audio.sample_rate, audio.channels) == ("aac", 48000, 2)
    assert _packet_payloads(out, 8) == _packet_payloads(clip_mp4, 8)  # bit-identical packets
    ((first, seconds),) = decoded_audio(out)
    assert abs(first) < FRAME and abs(seconds - 24 / 24) < FRAME


def test_every_audio_track_is_carried(make_clip, tmp_path: Path) -> None:
    source = make_clip("two.mkv", audio=[("aac", 48000, 2), ("pcm_s16le", 44100, 1)])
    out = tmp_path / "two.mov"
    writer = _transcode(source, out)
    assert writer.audio_copied == (True, True)
    info = probe(out)
    assert [(a.codec, a.sample_rate, a.channels) for a in info.audio] == [
        ("aac", 48000, 2),
        ("pcm_s16le", 44100, 1),
    ]
    for first, seconds in decoded_audio(out):
        assert abs(first) < FRAME and abs(seconds - 1.0) < FRAME


@pytest.mark.parametrize(
    ("codec", "rate", "out_name"),
    [("pcm_u8", 22050, "u8.mp4"), ("flac", 48000, "flac.mov")],  # not in MP4 / experimental in MOV
)
def test_codec_the_container_refuses_is_reencoded_to_aac(
    make_clip, tmp_path: Path, codec: str, rate: int, out_name: str
) -> None:
    source = make_clip(f"{codec}.mkv", audio=[(codec, rate, 1)])
    out = tmp_path / out_name
    writer = _transcode(source, out)
    assert writer.audio_copied == (False,)
    (audio,) = probe(out).audio
    assert (audio.codec, audio.sample_rate, audio.channels) == ("aac", rate, 1)
    ((first, seconds),) = decoded_audio(out)
    assert abs(first) < FRAME and abs(seconds - 1.0) < FRAME


@pytest.mark.parametrize("name", ["click.mp4", "click.mkv"])
def test_trimmed_audio_is_cut_and_stays_in_sync(make_clip, tmp_path: Path, name: str) -> None:
    source = make_clip("click_src.mkv", audio=[("pcm_s16le", 48000, 1)], audio_signal=click(at=0.5))
    full = tmp_path / f"full_{name}"
    _transcode(source, full)
    samples, rate, _ = decoded_samples(full)
    assert abs(np.argmax(np.abs(samples) > 0.3) / rate - 0.5) < FRAME  # untrimmed: the click stays at 0.5 s

    out = tmp_path / name
    writer = _transcode(source, out, start=6, end=18, audio_range=(Fraction(6, 24), Fraction(18, 24)))
    assert writer.audio_copied == (False,)  # trimming re-encodes, sample-accurately
    assert probe(out).video.frame_count == 12
    ((first, seconds),) = decoded_audio(out)
    assert abs(first) < FRAME and abs(seconds - 0.5) < FRAME
    samples, rate, _ = decoded_samples(out)
    assert abs(np.argmax(np.abs(samples) > 0.3) / rate - 0.25) < FRAME  # the click moved with the cut


def test_trim_from_compressed_source(clip_mp4: Path, tmp_path: Path) -> None:
    out = tmp_path / "trim.mkv"
    _transcode(clip_mp4, out, start=12, audio_range=(Fraction(1, 2), None))
    ((first, seconds),) = decoded_audio(out)
    assert abs(first) < FRAME and abs(seconds - 0.5) < FRAME


def test_no_audio_is_fine(clip_mkv: Path, tmp_path: Path) -> None:
    out = tmp_path / "silent.mp4"
    writer = _transcode(clip_mkv, out)
    assert writer.audio_copied == () and probe(out).audio == ()
