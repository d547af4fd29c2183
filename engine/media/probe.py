"""Probe media files: streams, exact frame table, VFR, rotation, colour, timecode.

The frame count and VFR flag come from the video packets themselves (one demux pass, no decode
beyond the first frame), not from container headers. Packets before the first keyframe (not
decodable) and packets the demuxer flags corrupt are not counted. When a file looks truncated
(a read error, corrupt packets, less video than the container declares, or a format without an
index such as MPEG-TS), its last GOPs are decoded and trailing frames that fail or decode corrupt
are not counted; a note in MediaInfo.notes says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.sidedata.sidedata
import av.stream
import numpy as np

from engine.errors import MediaError
from engine.media.colour import (
    MATRIX_NAMES,
    PRIMARIES_NAMES,
    RANGE_NAMES,
    TRC_NAMES,
    pix_fmt_bit_depth,
    tag_name,
)
from engine.media.info import AudioStreamInfo, MediaInfo, VideoStreamInfo
from engine.media.spatial import is_mv_hevc
from engine.media.stills import is_still_path, still_info

_STEREO_TYPES = {
    1: "left_right",
    2: "top_bottom",
    3: "block_lr",
    4: "checkerboard_lr",
    5: "left_right",
    6: "row_interleaved_lr",
    7: "col_interleaved_lr",
}
# Formats without an index or a trustworthy declared length: truncation shows only by decoding the end.
_UNINDEXED = frozenset({"mpegts", "mpeg", "h264", "hevc", "mpegvideo", "m4v"})
_STEREO_INVERTED = {"left_right": "right_left", "top_bottom": "bottom_top"}


@dataclass(frozen=True)
class FrameTable:
    """Presentation timestamps of every decodable frame of the video stream.

    Attributes:
        pts: (N,) int64, sorted ascending; frame i has pts[i] (stream time base).
        keyframe_pts: (K,) int64 sorted pts of the keyframes (seek points).
        time_base: seconds per tick.
    """

    pts: np.ndarray
    keyframe_pts: np.ndarray
    time_base: Fraction

    def time_of(self, index: int) -> Fraction:
        """Seconds from the first frame to frame `index`."""
        return (int(self.pts[index]) - int(self.pts[0])) * self.time_base

    def keyframe_index_at_or_before(self, index: int) -> int:
        """Index of the last keyframe whose pts <= pts[index] (0 if none)."""
        k = int(np.searchsorted(self.keyframe_pts, self.pts[index], side="right")) - 1
        return int(np.searchsorted(self.pts, self.keyframe_pts[k])) if k >= 0 else 0


def probe(path: str | Path) -> MediaInfo:
    """Describe a video or still file.

    Raises:
        MediaError: missing file, not a media file, truncated beyond reading, no video stream,
            zero frames, or a codec this build cannot decode — one line naming the file.
    """
    return scan_media(path)[0]


def scan_media(path: str | Path) -> tuple[MediaInfo, FrameTable | None]:
    """probe() plus the frame table the reader seeks with (None for stills)."""
    path = Path(path)
    if is_still_path(path):
        return still_info(path), None
    with contextlib.ExitStack() as stack:
        container = stack.enter_context(open_input(path))
        stream = _pick_video_stream(container, path)
        scan = _scan_video(container, stream, path)
        if not scan.pts and scan.skipped:  # no packet is flagged as a keyframe: trust them all
            container = stack.enter_context(open_input(path))
            stream = container.streams[stream.index]
            scan = _scan_video(container, stream, path, require_key=False)
            scan.notes.append("the container flags no keyframes; seeking decodes from the start")
        if scan.suspect_truncation or container.format.name in _UNINDEXED:
            scan = _verify_tail(path, stream.index, scan)
        table = scan.table()
        video = _video_info(container, stream, scan, table)
        if video.codec == "hevc" and container.format.name.startswith("mov") and is_mv_hevc(path):
            video = dataclasses.replace(video, multiview=True)
        audio = tuple(_audio_info(container, s) for s in container.streams.audio)
        info = MediaInfo(
            path=str(path),
            container=container.format.name,
            is_still=False,
            video=video,
            audio=audio,
            dropped_streams=_dropped_streams(container, stream, video.start_timecode is not None),
            duration_s=max([video.duration_s, *(a.duration_s for a in audio)]),
            notes=tuple(scan.notes),
        )
    return info, table


def open_input(path: str | Path) -> av.container.InputContainer:
    """av.open for reading, with every failure turned into a one-line MediaError."""
    path = Path(path)
    if not path.exists():
        raise MediaError("file not found", path=path, hint="Check the path")
    if path.is_dir():
        raise MediaError("is a folder, not a media file", path=path, hint="Give a video or image file")
    try:
        return av.open(str(path), "r", metadata_errors="replace")
    except PermissionError as exc:
        raise MediaError(
            "cannot read: permission denied", path=path, hint="Check the file's permissions"
        ) from exc
    except (av.FFmpegError, OSError, ValueError) as exc:
        message, hint = _open_failure(path)
        raise MediaError(message, path=path, hint=hint) from exc


def _open_failure(path: Path) -> tuple[str, str]:
    """Why FFmpeg refused a file, guessed from its first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        head = b""
    if not head:
        return "file is empty", "Re-copy or re-export it"
    if head[4:8] in (b"ftyp", b"wide", b"mdat", b"moov", b"free"):
        return (
            "MP4/MOV file is truncated or damaged: its index ('moov') is missing",
            "The recording or copy was probably interrupted; re-copy or re-export it",
        )
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska file is damaged and cannot be opened", "Re-copy or re-export it"
    return "not a video file (FFmpeg does not recognise its format)", "Give an MP4, MOV, MKV or image file"


def _pick_video_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    """First video stream that is a real picture sequence (not cover art)."""
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        kind = "audio only" if container.streams.audio else "no streams FFmpeg can read"
        raise MediaError(
            f"has no video stream ({kind})", path=path, hint="Give a video file or a still image"
        )
    stream = next((s for s in videos if s.codec_context is not None), None)
    if stream is None:
        raise MediaError(
            "its video codec is not supported by this FFmpeg build (no decoder)",
            path=path,
            hint="Transcode it to H.264, HEVC or ProRes first",
        )
    return stream


class _Scan:
    """What one demux pass over the video packets found."""

    def __init__(self, time_base: Fraction) -> None:
        self.time_base = time_base
        self.pts: list[int] = []
        self.keyframes: list[int] = []
        self.durations: dict[int, int] = {}
        self.first_frame: av.VideoFrame | None = None
        self.notes: list[str] = []
        self.read_error = False
        self.corrupt = 0
        self.skipped = 0

    @property
    def suspect_truncation(self) -> bool:
        return self.read_error or self.corrupt > 0 or any("shorter than" in n for n in self.notes)

    def table(self) -> FrameTable:
        pts = np.unique(np.asarray(self.pts, dtype=np.int64))
        keys = np.unique(np.asarray(self.keyframes, dtype=np.int64))
        return FrameTable(pts=pts, keyframe_pts=keys, time_base=self.time_base)


def _scan_video(
    container: av.container.InputContainer, stream: av.VideoStream, path: Path, require_key: bool = True
) -> _Scan:
    """Demux every video packet once: timestamps, keyframes and the first decoded frame.

    Packets before the first keyframe are skipped (not decodable) unless `require_key` is off.
    """
    scan = _Scan(stream.time_base or Fraction(1, 90000))
    for other in container.streams:
        if other.index != stream.index:
            other.discard = av.stream.Discard.all
    stream.codec_context.thread_type = "SLICE"
    seen_key = not require_key
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.is_corrupt:
                scan.corrupt += 1
                continue
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is None:
                raise MediaError(
                    "video packets carry no timestamps",
                    path=path,
                    hint="Remux it into MP4/MKV first (ffmpeg -i in -c copy out.mkv)",
                )
            seen_key = seen_key or packet.is_keyframe
            if not seen_key:
                scan.skipped += 1
                continue
            _record(scan, packet, ts, stream, path)
    except (av.FFmpegError, OSError) as exc:
        if getattr(exc, "errno", None) == errno.ENOMEM:
            raise MediaError("the file's index claims an impossible size (FFmpeg ran out of memory reading "
                             "it): the file is damaged", path=path,
                             hint="Re-export it, or remux what is readable (ffmpeg -i in -c copy out.mkv)") from exc
        if isinstance(exc, av.FFmpegError) and not isinstance(exc, av.InvalidDataError | av.EOFError):
            raise MediaError(f"cannot read video packets: {exc.strerror or exc}", path=path,
                             hint="The file is damaged or not a supported video; re-export or remux it") from exc
        scan.read_error = True
        scan.notes.append(f"read error after {len(scan.pts)} frames; the file is damaged or truncated")
    if not scan.pts and scan.skipped:
        return scan
    _finish_first_frame(scan, stream, path)
    _note_missing_span(scan, container, stream)
    if scan.skipped:
        scan.notes.append(
            f"{scan.skipped} leading frames before the first keyframe cannot be decoded and are skipped"
        )
    if scan.corrupt:
        scan.notes.append(f"{scan.corrupt} corrupt video packets were skipped")
    return scan


def _record(scan: _Scan, packet: av.Packet, ts: int, stream: av.VideoStream, path: Path) -> None:
    scan.pts.append(ts)
    if packet.duration:
        scan.durations[ts] = packet.duration
    if packet.is_keyframe:
        scan.keyframes.append(ts)
    if scan.first_frame is None:
        try:
            frames = stream.decode(packet)
        except av.FFmpegError as exc:
            raise MediaError(
                f"cannot decode its {codec_name(stream)} video",
                path=path,
                hint="The file is damaged or uses an unsupported profile",
            ) from exc
        scan.first_frame = frames[0] if frames else None
        _refuse_damaged_first_frame(scan.first_frame, stream, path)


def _refuse_damaged_first_frame(frame: av.VideoFrame | None, stream: av.VideoStream, path: Path) -> None:
    """MediaError when the first frame decodes only with errors (FFmpeg flags it corrupt).

    Every later frame of its GOP is predicted from it, so counting and converting them would turn
    a damaged stream into a master of concealment artefacts; a file whose first frame decodes
    cleanly is accepted as before.
    """
    if frame is not None and frame.is_corrupt:
        raise MediaError(
            f"its {codec_name(stream)} video stream is damaged: the first frame (a keyframe) does not decode",
            path=path,
            hint="Re-copy or re-export it, or cut the damaged start off (ffmpeg -ss 1 -i in -c copy out.mkv)",
        )


def _finish_first_frame(scan: _Scan, stream: av.VideoStream, path: Path) -> None:
    if not scan.pts:
        raise MediaError("has a video stream but no frames", path=path, hint="The file is empty or damaged")
    if scan.first_frame is None:
        with contextlib.suppress(av.FFmpegError):
            frames = stream.decode(None)
            scan.first_frame = frames[0] if frames else None
        _refuse_damaged_first_frame(scan.first_frame, stream, path)
    if scan.first_frame is None:
        raise MediaError(
            f"no frame of its {codec_name(stream)} video decodes",
            path=path,
            hint="The file is damaged or truncated",
        )


def _note_missing_span(scan: _Scan, container: av.container.InputContainer, stream: av.VideoStream) -> None:
    """Add a note when the container declares noticeably more video than the packets hold."""
    declared = _declared_duration(container, stream)
    pts = np.unique(np.asarray(scan.pts, dtype=np.int64))
    step = float(np.median(np.diff(pts)) * scan.time_base) if len(pts) > 1 else 0.0
    found = float((pts[-1] - pts[0]) * scan.time_base) + step
    if declared is not None and declared - found > max(3 * step, 0.02 * declared):
        scan.notes.append(
            f"video is shorter than the container says ({found:.2f} s of {declared:.2f} s): "
            "the file looks truncated"
        )


def _declared_duration(container: av.container.InputContainer, stream: av.Stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = _metadata(stream, "duration")
    if tag:
        seconds = _parse_clock(tag)
        if seconds is not None:
            return seconds
    return container.duration / av.time_base if container.duration else None


def _parse_clock(text: str) -> float | None:
    """'HH:MM:SS.nnnnnnnnn' (Matroska DURATION tag) -> seconds."""
    try:
        h, m, s = text.split(":")
        return 3600 * int(h) + 60 * int(m) + float(s)
    except ValueError:
        return None


def _verify_tail(path: Path, stream_index: int, scan: _Scan) -> _Scan:
    """Decode the last two GOPs and drop trailing frames that do not decode, or decode corrupt.

    Frames from the last keyframe on are judged only when decoding really started at or before
    that keyframe (a seek that overshoots proves nothing).
    """
    keys = scan.table().keyframe_pts
    start = int(keys[-1]) if len(keys) else min(scan.pts)
    seek_to = int(keys[-2]) if len(keys) > 1 else min(scan.pts)
    decoded: set[int] = set()
    with contextlib.suppress(av.FFmpegError, OSError), open_input(path) as container:
        stream = container.streams[stream_index]
        container.seek(seek_to, stream=stream, backward=True)
        for frame in container.decode(stream):
            if frame.pts is not None and not frame.is_corrupt:
                decoded.add(frame.pts)
    if not decoded or min(decoded) > start:
        return scan
    kept = [p for p in scan.pts if p < start or p in decoded]
    if len(kept) < len(scan.pts):
        scan.notes.append(f"{len(scan.pts) - len(kept)} frames at the end do not decode and are left out")
    scan.pts = kept
    return scan


def _video_info(
    container: av.container.InputContainer, stream: av.VideoStream, scan: _Scan, table: FrameTable
) -> VideoStreamInfo:
    frame = scan.first_frame
    assert frame is not None
    ctx = stream.codec_context
    rotation = _clockwise_rotation(frame.rotation)
    width, height = (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)
    diffs = np.diff(table.pts)
    fps = _nominal_fps(stream, table)
    return VideoStreamInfo(
        index=stream.index,
        codec=codec_name(stream),
        width=width,
        height=height,
        coded_width=frame.width,
        coded_height=frame.height,
        fps=fps,
        time_base=table.time_base,
        is_vfr=is_variable_rate(diffs, table.time_base),
        frame_count=len(table.pts),
        duration_s=_video_duration(table, scan.durations, diffs, fps),
        rotation=rotation,
        pix_fmt=frame.format.name,
        bit_depth=pix_fmt_bit_depth(frame.format.name),
        color_primaries=tag_name(PRIMARIES_NAMES, ctx.color_primaries)
        or tag_name(PRIMARIES_NAMES, frame.color_primaries),
        color_trc=tag_name(TRC_NAMES, ctx.color_trc) or tag_name(TRC_NAMES, frame.color_trc),
        colorspace=tag_name(MATRIX_NAMES, ctx.colorspace) or tag_name(MATRIX_NAMES, frame.colorspace),
        color_range=tag_name(RANGE_NAMES, ctx.color_range) or tag_name(RANGE_NAMES, frame.color_range),
        start_timecode=_start_timecode(container, stream),
        stereo_mode=_stereo_mode(frame),
        start_time=int(table.pts[0]) * table.time_base,
        projection=spherical_projection(frame),
        mastering_display=mastering_display(frame),
        content_light=content_light(frame),
    )


def is_variable_rate(diffs: np.ndarray, time_base: Fraction = Fraction(1, 1000)) -> bool:
    """True when frame durations (pts ticks) vary beyond timestamp rounding and 1 %.

    Rounding allowance: one tick, or 1.1 ms when finer — a millisecond-grid CFR stream (Matroska,
    or remuxed from it) alternates 41/42 ms durations without being variable-rate.
    """
    if len(diffs) < 2:
        return False
    spread = int(diffs.max() - diffs.min())
    allowance = max(1, math.floor(Fraction(11, 10000) / time_base))
    return spread > allowance and spread > 0.01 * float(np.median(diffs))


def _nominal_fps(stream: av.VideoStream, table: FrameTable) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    if len(table.pts) > 1:
        span = (int(table.pts[-1]) - int(table.pts[0])) * table.time_base
        return (Fraction(len(table.pts) - 1) / span).limit_denominator(1001)
    return Fraction(1)


def _video_duration(table: FrameTable, durations: dict[int, int], diffs: np.ndarray, fps: Fraction) -> float:
    last = int(table.pts[-1])
    tail = durations.get(last) or (int(np.median(diffs)) if len(diffs) else 0)
    span = (last - int(table.pts[0])) * table.time_base
    return float(span + (tail * table.time_base if tail else 1 / fps))


def _clockwise_rotation(ccw_degrees: float) -> int:
    """Display-matrix angle (counter-clockwise, [-180, 180]) -> clockwise 0/90/180/270."""
    return int(round(-ccw_degrees / 90.0)) % 4 * 90


def _stereo_mode(frame: av.VideoFrame) -> str | None:
    """Frame packing from STEREO3D side data (H.264 SEI or Matroska StereoMode)."""
    for side in frame.side_data:
        if side.type == av.sidedata.sidedata.Type.STEREO3D:
            kind, flags = np.frombuffer(bytes(side)[:8], dtype=np.int32)
            name = _STEREO_TYPES.get(int(kind))
            if name and flags & 1:
                return _STEREO_INVERTED.get(name, name)
            return name
    return None


def _side_bytes(frame: av.VideoFrame, kind) -> bytes | None:
    return next((bytes(side) for side in frame.side_data if side.type == kind), None)


def mastering_display(frame: av.VideoFrame) -> str | None:
    """SMPTE ST 2086 mastering display colour volume from MASTERING_DISPLAY_METADATA side data, in
    x265's `master-display` syntax: 'G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)' (chromaticity in 0.00002,
    luminance in 0.0001 cd/m²); None when absent or incomplete.

    AVMasteringDisplayMetadata: AVRational display_primaries[3][2] (R, G, B), white_point[2],
    min_luminance, max_luminance; int has_primaries, has_luminance.
    """
    raw = _side_bytes(frame, av.sidedata.sidedata.Type.MASTERING_DISPLAY_METADATA)
    if raw is None or len(raw) < 88:
        return None
    v = np.frombuffer(raw[:88], dtype=np.int32)
    if not (v[20] and v[21]):
        return None
    ratio = [v[2 * k] / v[2 * k + 1] if v[2 * k + 1] else 0.0 for k in range(10)]
    (rx, ry, gx, gy, bx, by, wx, wy), (lo, hi) = ratio[:8], ratio[8:10]

    def xy(x: float, y: float) -> str:
        return f"({round(x * 50000)},{round(y * 50000)})"

    return f"G{xy(gx, gy)}B{xy(bx, by)}R{xy(rx, ry)}WP{xy(wx, wy)}L({round(hi * 10000)},{round(lo * 10000)})"


def content_light(frame: av.VideoFrame) -> str | None:
    """'MaxCLL,MaxFALL' (cd/m²) from CONTENT_LIGHT_LEVEL side data, None when absent."""
    raw = _side_bytes(frame, av.sidedata.sidedata.Type.CONTENT_LIGHT_LEVEL)
    if raw is None or len(raw) < 8:
        return None
    max_cll, max_fall = np.frombuffer(raw[:8], dtype=np.uint32)
    return f"{int(max_cll)},{int(max_fall)}"


_SPHERICAL_KINDS = {0: "equirect", 1: "cubemap", 2: "equirect", 3: "equirect-180", 4: None, 5: "fisheye",
                    6: "parametric-immersive"}
"""FFmpeg 8's AVSphericalProjection: equirect, cubemap, equirect tile, half equirect (Apple 'hequ': 180°),
rectilinear (Apple 'rect': a flat picture), fisheye (Apple 'fish'), parametric immersive."""


def spherical_projection(frame: av.VideoFrame) -> str | None:
    """'equirect-180', 'equirect-360', 'equirect-<degrees>', 'cubemap', 'fisheye' or 'parametric-immersive'
    from SPHERICAL side data (an sv3d box, Matroska Projection, Apple's vexu > proj > prji), None for a flat
    video (no side data, or Apple's rectilinear 'rect' of a spatial video).

    AVSphericalMapping: int32 projection, yaw, pitch, roll (16.16), uint32 bound left, top, right, bottom
    (0.32 fractions of the full sphere cropped away).
    """
    for side in frame.side_data:
        if side.type == av.sidedata.sidedata.Type.SPHERICAL:
            raw = bytes(side)
            kind = _SPHERICAL_KINDS.get(int.from_bytes(raw[:4], "little", signed=True), "spherical")
            if kind != "equirect" or len(raw) < 32:
                return kind
            left, _, right, _ = (int.from_bytes(raw[16 + 4 * k:20 + 4 * k], "little") for k in range(4))
            return f"equirect-{round(360 * (1 - (left + right) / 2 ** 32))}"
    return None


def codec_name(stream: av.Stream) -> str:
    """FFmpeg's codec name ('mp3', 'h264'), not the decoder's ('mp3float'); 'unknown' without one."""
    ctx = stream.codec_context
    return ctx.codec.canonical_name if ctx is not None else "unknown"


def _metadata(stream_or_container: av.Stream | av.container.Container, key: str) -> str | None:
    """Case-insensitive metadata lookup."""
    for name, value in stream_or_container.metadata.items():
        if name.lower() == key:
            return value
    return None


def _start_timecode(container: av.container.InputContainer, stream: av.VideoStream) -> str | None:
    candidates = [stream, container, *(s for s in container.streams if s.type == "data")]
    for holder in candidates:
        value = _metadata(holder, "timecode")
        if value:
            return value.strip()
    return None


def probe_audio(path: str | Path) -> tuple[AudioStreamInfo, ...]:
    """The audio streams of a soundtrack file (`--audio FILE` for an image sequence); any container.

    Raises:
        MediaError: missing or unreadable file, or one without an audio stream.
    """
    with open_input(path) as container:
        streams = tuple(_audio_info(container, s) for s in container.streams.audio)
    if not streams:
        raise MediaError("has no audio stream", path=path, hint="Give a WAV, AAC, MP3 or a video with sound")
    return streams


def _audio_info(container: av.container.InputContainer, stream: av.AudioStream) -> AudioStreamInfo:
    ctx = stream.codec_context
    return AudioStreamInfo(
        index=stream.index,
        codec=codec_name(stream),
        sample_rate=ctx.sample_rate if ctx else 0,
        channels=ctx.channels if ctx else 0,
        layout=ctx.layout.name if ctx else "",
        duration_s=_declared_duration(container, stream) or 0.0,
    )


def _dropped_streams(
    container: av.container.InputContainer, video: av.VideoStream, timecode_carried: bool
) -> tuple[str, ...]:
    dropped = []
    for stream in container.streams:
        if stream.index == video.index or stream.type == "audio":
            continue
        if timecode_carried and stream.type == "data" and _metadata(stream, "timecode"):
            continue
        dropped.append(_describe(stream))
    return tuple(dropped)


def _describe(stream: av.Stream) -> str:
    """'stream #2: subtitle (subrip, fra)', 'stream #3: attachment (font.ttf)'."""
    if stream.type == "attachment":
        extras = [_metadata(stream, "filename") or _metadata(stream, "mimetype") or "unnamed"]
    else:
        extras = [codec_name(stream)]
    if stream.language and stream.language != "und":
        extras.append(stream.language)
    if stream.disposition & av.stream.Disposition.attached_pic:
        extras.append("cover art")
    return f"stream #{stream.index}: {stream.type} ({', '.join(extras)})"
