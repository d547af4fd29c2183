"""Tiny media clips made with PyAV for the media tests (64x48, a second or less).

Every video frame carries its own index as a flat grey level in its left half
(`code_level(i)`), so a decoded frame can be identified with `frame_code(image)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT = 64, 48


def code_level(index: int) -> int:
    """Grey level that encodes frame `index` (0..26)."""
    return 20 + 8 * index


def frame_code(image: np.ndarray) -> int:
    """Frame index read back from a decoded (H, W, 3) image (uint8 or uint16)."""
    left = image[4:-4, 4 : image.shape[1] // 2 - 4].astype(np.float64)
    if image.dtype == np.uint16:
        left /= 257.0
    return int(round((left.mean() - 20) / 8))


def coded_image(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """(H, W, 3) uint8: left half flat code level, right half a moving texture."""
    rng = np.random.default_rng(index)
    image = np.empty((height, width, 3), np.uint8)
    image[:, : width // 2] = code_level(index)
    image[:, width // 2 :] = rng.integers(0, 255, (height, width - width // 2, 3), dtype=np.uint8)
    return image


def sine(seconds: float, rate: int, channels: int, freq: float = 440.0) -> np.ndarray:
    """(channels, n) float32 sine."""
    t = np.arange(int(round(seconds * rate))) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.repeat(wave[None, :], channels, axis=0)


def write_clip(
    path: Path,
    *,
    frames: int = 24,
    fps: Fraction = Fraction(24),
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    gop: int | None = None,
    rotation: int | None = None,
    timecode: str | None = None,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    audio: Sequence[tuple[str, int, int]] = (),
    audio_seconds: float | None = None,
    colour: tuple[int, int, int, int] | None = None,
    image_fn: Callable[[int], np.ndarray] = coded_image,
    options: dict[str, str] | None = None,
    with_video: bool = True,
    audio_signal: Callable[[float, int, int], np.ndarray] | None = None,
) -> Path:
    """Encode a small test clip.

    Args:
        rotation: counter-clockwise display-matrix rotation (PyAV's set_display_rotation).
        pts: explicit presentation timestamps in `time_base` (VFR clips).
        audio: (codec, sample_rate, channels) per audio track; a sine the length of the video.
        colour: (primaries, trc, colorspace, range) FFmpeg enum values for the stream.
        with_video: False for an audio-only file.
        audio_signal: (seconds, rate, channels) -> (channels, n) float32; default a sine per track.
    """
    container = av.open(str(path), "w")
    if not with_video:
        return _audio_only(container, path, audio, audio_seconds or 0.5)
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = image_fn(0).shape[1], image_fn(0).shape[0]
    stream.pix_fmt = pix_fmt
    ctx = stream.codec_context
    if time_base is not None:
        ctx.time_base = time_base
        stream.time_base = time_base
    if gop is not None:
        ctx.gop_size = gop
    opts = {"crf": "8"} if codec == "libx264" else {}
    opts.update(options or {})
    ctx.options = opts
    if rotation is not None:
        stream.set_display_rotation(rotation)
    if timecode:
        stream.metadata["timecode"] = timecode
    if colour is not None:
        ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = colour
    tracks = []
    for a_codec, rate, channels in audio:
        a_stream = container.add_stream(a_codec, rate=rate)
        a_stream.codec_context.layout = "stereo" if channels == 2 else "mono"
        tracks.append(a_stream)
    container.start_encoding()
    for i in range(frames):
        frame = av.VideoFrame.from_ndarray(image_fn(i), format="rgb24")
        if colour is not None:
            frame.colorspace, frame.color_range = colour[2], colour[3]
        frame = frame.reformat(format=pix_fmt, dst_colorspace=_sws(colour), dst_color_range=_rng(colour))
        if pts is not None:
            frame.pts, frame.time_base = pts[i], ctx.time_base
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
    seconds = audio_seconds if audio_seconds is not None else float(frames / fps)
    for i, a_stream in enumerate(tracks):
        _write_audio(container, a_stream, seconds, 440.0 * (i + 1), audio_signal)
    container.close()
    return path


def _audio_only(
    container: av.container.OutputContainer, path: Path, audio: Sequence[tuple[str, int, int]], seconds: float
) -> Path:
    for a_codec, rate, channels in audio:
        stream = container.add_stream(a_codec, rate=rate)
        stream.codec_context.layout = "stereo" if channels == 2 else "mono"
        container.start_encoding()
        _write_audio(container, stream, seconds, 440.0)
    container.close()
    return path


def _sws(colour: tuple[int, int, int, int] | None) -> str | None:
    return None if colour is None else {1: "ITU709", 5: "ITU601", 6: "ITU601", 9: "BT2020"}.get(colour[2])


def _rng(colour: tuple[int, int, int, int] | None) -> str | None:
    return None if colour is None else {1: "MPEG", 2: "JPEG"}.get(colour[3])


def _write_audio(
    container: av.container.OutputContainer,
    stream: av.AudioStream,
    seconds: float,
    freq: float,
    signal: Callable[[float, int, int], np.ndarray] | None = None,
) -> None:
    ctx = stream.codec_context
    channels = ctx.channels
    data = (signal or (lambda s, r, c: sine(s, r, c, freq)))(seconds, ctx.sample_rate, channels)
    step = 1024
    for start in range(0, data.shape[1], step):
        chunk = np.ascontiguousarray(data[:, start : start + step])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=ctx.layout.name)
        frame.sample_rate = ctx.sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, ctx.sample_rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


def click(at: float) -> Callable[[float, int, int], np.ndarray]:
    """Audio signal: silence with a 10 ms 1 kHz burst starting at `at` seconds."""

    def _signal(seconds: float, rate: int, channels: int) -> np.ndarray:
        data = np.zeros((channels, int(round(seconds * rate))), np.float32)
        start, length = int(round(at * rate)), rate // 100
        burst = 0.8 * np.sin(2 * np.pi * 1000 * np.arange(length) / rate)
        data[:, start : start + length] = burst.astype(np.float32)
        return data

    return _signal


def decoded_samples(path: Path, track: int = 0) -> tuple[np.ndarray, int, float]:
    """(mono float samples, rate, first sample time) of audio track `track`."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[track]
        chunks, first = [], None
        for frame in container.decode(stream):
            if first is None and frame.pts is not None:
                first = float(frame.pts * frame.time_base)
            data = frame.to_ndarray().astype(np.float64)
            if frame.format.name.startswith("s16"):
                data /= 32768.0
            elif frame.format.name.startswith("u8"):
                data = (data - 128.0) / 128.0
            chunks.append(
                data.reshape(-1, frame.layout.nb_channels)[:, 0] if not frame.format.is_planar else data[0]
            )
        return np.concatenate(chunks), stream.codec_context.sample_rate, first or 0.0


def decoded_audio(path: Path) -> list[tuple[float, float]]:
    """(first sample time, decoded seconds) per audio stream, by decoding every sample."""
    with av.open(str(path)) as container:
        count = len(container.streams.audio)
    result = []
    for k in range(count):
        with av.open(str(path)) as container:
            stream = container.streams.audio[k]
            first, samples = None, 0
            for frame in container.decode(stream):
                if first is None and frame.pts is not None:
                    first = float(frame.pts * frame.time_base)
                samples += frame.samples
            result.append((first or 0.0, samples / stream.codec_context.sample_rate))
    return result


def damage_first_keyframe(path: Path, seed: int = 1) -> Path:
    """Overwrite the slice data of the first IDR picture of an MP4 H.264 clip with random bytes, in place.

    The container (boxes, sample sizes, the NAL length prefixes and the slice header's first bytes)
    is left as it is, so the file opens and demuxes normally; only the first frame no longer decodes
    cleanly (FFmpeg conceals the errors and flags the frame corrupt).
    """
    with av.open(str(path)) as container:
        packet = next(p for p in container.demux(video=0) if p.size)
        start, end = packet.pos, packet.pos + packet.size
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    offset, damaged = start, False
    while offset < end:
        size = int.from_bytes(data[offset : offset + 4], "big")
        if data[offset + 4] & 0x1F == 5:  # IDR slice: keep its NAL header and first header bytes
            first, last = offset + 8, offset + 4 + size
            data[first:last] = rng.integers(0, 256, last - first, dtype=np.uint8).tobytes()
            damaged = True
        offset += 4 + size
    if not damaged:
        raise ValueError(f"{path}: the first video packet holds no IDR slice")
    path.write_bytes(bytes(data))
    return path
