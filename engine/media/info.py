"""What :func:`engine.media.probe` reports about a media file (frozen, JSON-ready)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class VideoStreamInfo:
    """The video stream the engine reads.

    Attributes:
        index: container stream index.
        codec: FFmpeg decoder name ('h264', 'hevc', 'prores', 'png' for a still ...).
        width, height: display size, AFTER rotation (swapped for 90/270).
        coded_width, coded_height: size of the decoded pictures before rotation.
        fps: nominal (average) frame rate.
        time_base: stream time base (seconds per pts tick).
        is_vfr: frame durations vary (from the packet timestamps, beyond timestamp rounding).
        frame_count: exact number of frames (counted from the packets).
        duration_s: first frame's start to last frame's end, seconds.
        rotation: clockwise degrees (0, 90, 180, 270) the coded picture is turned for display — the
            legacy 'rotate' tag convention; the reader applies it.
        pix_fmt, bit_depth: decoded pixel format and bits per component.
        color_primaries, color_trc, colorspace, color_range: FFmpeg names, None when untagged.
        start_timecode: 'HH:MM:SS:FF' (';' drop frame) from stream/container tags or a tmcd track.
        stereo_mode: frame packing the source declares ('left_right', 'top_bottom', ...), else None.
        start_time: container clock of the first frame, seconds (the origin audio is synced against).
        start_number: an image sequence's first frame number (1001 for a VFX plate), which output
            sequences and depth exports are numbered from; None for videos and stills.
        projection: a spherical video's projection ('equirect-180' for VR180, 'equirect-360',
            'cubemap', 'fisheye'), from its sv3d box / Matroska Projection; None for a flat video.
        multiview: MV-HEVC (Apple spatial video: `lhvC` / `vexu` in the sample entry); only the base
            (left) view is decoded.
        mastering_display: HDR mastering display colour volume (SMPTE ST 2086) in x265 syntax
            'G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)'; None without one.
        content_light: 'MaxCLL,MaxFALL' in cd/m²; None without.
    """

    index: int
    codec: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    fps: Fraction
    time_base: Fraction
    is_vfr: bool
    frame_count: int
    duration_s: float
    rotation: int
    pix_fmt: str
    bit_depth: int
    color_primaries: str | None
    color_trc: str | None
    colorspace: str | None
    color_range: str | None
    start_timecode: str | None
    stereo_mode: str | None = None
    start_time: Fraction = Fraction(0)
    start_number: int | None = None
    projection: str | None = None
    multiview: bool = False
    mastering_display: str | None = None
    content_light: str | None = None


@dataclass(frozen=True)
class AudioStreamInfo:
    """One audio stream (all of them are carried into outputs)."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str
    duration_s: float


@dataclass(frozen=True)
class MediaInfo:
    """A probed media file.

    Attributes:
        path: the file probed.
        container: FFmpeg demuxer name ('mov,mp4,m4a,3gp,3g2,mj2', 'matroska,webm', ... 'png' for stills).
        is_still: a single image, read as a one-frame video at 1 fps.
        video: the video stream the engine reads.
        audio: every audio stream, in container order.
        dropped_streams: descriptions of streams outputs will not carry (subtitles, data, attachments,
            extra video).
        duration_s: longest of the video and audio streams, seconds.
        notes: warnings worth showing (e.g. a truncated file that still decodes in part).
        audio_path: where the audio streams live when not in `path` (an image sequence's `--audio FILE`).
    """

    path: str
    container: str
    is_still: bool
    video: VideoStreamInfo
    audio: tuple[AudioStreamInfo, ...]
    dropped_streams: tuple[str, ...]
    duration_s: float
    notes: tuple[str, ...] = ()
    audio_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (Fractions as "num/den" strings, tuples as lists)."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
