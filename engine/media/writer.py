"""Video output: libx264 / libx265 / prores_ks / ffv1 into .mp4 / .mov / .mkv, atomically.

Everything that can be refused is refused at construction, before any frame is rendered: bad
settings, an extension that cannot hold the codec, odd sizes for 4:2:0/4:2:2, an existing target
without overwrite, a missing or unwritable folder. Frames go to a hidden temp file beside the target
(`.name.partial-<host>-<pid>-XXXXXXXX.ext`, see engine.fileio); commit() renames it into place, abort()
(and any exception inside a `with` block) deletes it and leaves an existing target untouched.

From the source MediaInfo the writer carries: every audio stream (see engine.media.audio), colour
tags (primaries, transfer, matrix, range — the RGB->YUV conversion uses the matrix/range it tags),
and the start timecode (advanced by the trimmed start). Stereo: H.264 gets the frame-packing SEI
(x264 frame-packing=3 side by side, 4 top-bottom); HEVC gets the same SEI, which the writer builds
itself (engine.media.sei: the bundled libx265 has none) and puts in front of every keyframe;
Matroska gets its StereoMode element; MP4/MOV get an `st3d` box in the video sample entry
(engine.media.isobmff), added to the finished temp file before it is renamed into place.
A spatial master (`spatial=`, MV-HEVC through hevc_nvenc's multiview profile) takes side-by-side frames
and encodes each eye as its own view, left then right (engine.media.spatial.ViewInterleaver), and gets
Apple's `vexu` + `hfov` boxes instead of `st3d`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import weakref
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import av.container
import numpy as np

from engine.document.timecode import offset_timecode
from engine.errors import OutputError, SpatialDreamerError, UsageError
from engine.fileio import Landing, land_together
from engine.media.atomic import check_target, create_temp, os_output_error, remove_quietly, replace_into_place
from engine.media.audio import AudioCarrier
from engine.media.colour import (
    MATRIX_NAMES,
    PRIMARIES_NAMES,
    RANGE_NAMES,
    TRC_NAMES,
    ColourSpec,
    RgbToFrame,
    source_colour_spec,
    tag_value,
)
from engine.media.encode import STEREO_MODES, EncoderPlan, EncodeSettings, container_format, encoder_plan
from engine.media.info import MediaInfo
from engine.media.isobmff import ST3D_MODES, st3d_box, write_with_boxes
from engine.media.sei import frame_packing_sei_nal, has_frame_packing
from engine.media.sequence_writer import all_landings
from engine.media.spatial import MV_HEVC_ENCODER, MV_HEVC_OPTIONS, SpatialMetadata, ViewInterleaver, spatial_boxes
from engine.media.tonemap import peak_nits, tonemap_to_sdr

_FRAME_PACKING = {"left_right": "3", "top_bottom": "4"}
_DEFAULT_TAGS = {
    "smpte170m": ("smpte170m", "smpte170m"),
    "bt470bg": ("bt470bg", "smpte170m"),
    "bt2020nc": ("bt2020", "bt2020-10"),
    "bt2020c": ("bt2020", "bt2020-10"),
}


def snap_fps(fps: Fraction | int | float) -> Fraction:
    """Fractions pass through; a float becomes the NTSC rate it rounds (29.97 -> 30000/1001) or a
    small fraction (25.0 -> 25)."""
    if not isinstance(fps, float):
        return Fraction(fps)
    for base in (24, 30, 48, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(fps - float(ntsc)) < 0.005:
            return ntsc
    return Fraction(fps).limit_denominator(1001)


def snap_time(seconds: Fraction, fps: Fraction) -> Fraction:
    """`seconds` moved onto the 1/fps grid when within 1.1 ms of it (millisecond-rounded timestamps of
    a constant-rate source, e.g. Matroska's, come out exactly constant-rate); other times are kept."""
    grid = round(seconds * fps) / fps
    return grid if abs(seconds - grid) <= Fraction(11, 10000) else seconds


def writer_time_base(fps: Fraction) -> Fraction:
    """~90 kHz tick that holds every frame of `fps` exactly (24000/1001 -> 1/96000, 25 -> 1/90000)."""
    return Fraction(1, fps.numerator * math.ceil(90000 / fps.numerator))


class OutputColour:
    """Colour tags an output carries, and the matrix/range its RGB->YUV conversion uses."""

    def __init__(self, source: MediaInfo | None, plan: EncoderPlan, codec: str, sdr: bool = False) -> None:
        """`sdr`: the frames were tone-mapped to SDR BT.709 (--tonemap): tag and convert as BT.709."""
        video = None if source is None or source.is_still or sdr else source.video
        rgb_source = video is None or video.colorspace == "gbr" or video.pix_fmt.startswith(("gbr", "rgb"))
        spec = (
            ColourSpec("bt709", "tv")
            if rgb_source
            else source_colour_spec(video.colorspace, video.color_range, video.pix_fmt, video.coded_height)
        )
        if codec == "prores":
            spec = ColourSpec(spec.matrix, "tv")
        self.spec = spec
        defaults = _DEFAULT_TAGS.get(spec.matrix, ("bt709", "bt709"))
        self.primaries = (video and video.color_primaries) or defaults[0]
        self.trc = (video and video.color_trc) or defaults[1]
        self.matrix = "gbr" if plan.is_rgb else spec.matrix
        self.range = "pc" if plan.is_rgb else spec.range

    def apply(self, target: av.video.codeccontext.VideoCodecContext | av.VideoFrame) -> None:
        target.color_primaries = tag_value(PRIMARIES_NAMES, self.primaries) or 2
        target.color_trc = tag_value(TRC_NAMES, self.trc) or 2
        target.colorspace = tag_value(MATRIX_NAMES, self.matrix) if self.matrix != "gbr" else 0
        target.color_range = tag_value(RANGE_NAMES, self.range) or 0


class VideoWriter:
    """Encode RGB frames to a video file, atomically. Context manager: commit on success, abort on error."""

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: Fraction,
        settings: EncodeSettings,
        source: MediaInfo | None = None,
        audio_range: tuple[Fraction, Fraction | None] | None = None,
        stereo_mode: str | None = None,
        overwrite: bool = False,
        timecode: str | None = None,
        template: av.VideoStream | None = None,
        projection: str | None = None,
        alpha: bool = False,
        tonemap: bool = False,
        spatial: SpatialMetadata | None = None,
    ) -> None:
        """Validate everything, create the temp file and write the container header.

        Args:
            path: target .mp4 / .mov / .mkv.
            width, height: frame size in pixels (even for 4:2:0 codecs, even width for ProRes 422).
            fps: nominal frame rate, a Fraction (a float is snapped: 29.97 -> 30000/1001).
            settings: codec, bit depth, quality.
            source: the MediaInfo the frames come from: audio, colour tags and timecode are carried.
            audio_range: source seconds [start, end) of audio to carry (end None: to the end);
                start becomes output time 0. None: all of it, from the first video frame.
            stereo_mode: 'left_right' | 'top_bottom' | 'anaglyph_cyan_red' | None.
            overwrite: replace an existing target on commit.
            timecode: start timecode to write (default: the source's, advanced by the trimmed start).
            template: stream copy: the video stream of a file in this codec whose packets are muxed
                with :meth:`write_packet` (its codec parameters become the output's; every packet must
                decode on its own or after the ones copied before it, e.g. ProRes or FFV1 from a keyframe).
            projection: 'vr180' marks a side-by-side equirect master with an `sv3d` box (MP4/MOV; with
                `st3d`) so YouTube and headset players show it as VR180; None: a flat master.
            alpha: ProRes 4444 with an alpha channel (yuva444p10le); write() then takes `alpha` per frame.
            tonemap: a PQ/HLG `source`'s frames are tone-mapped to SDR BT.709 (engine.media.tonemap) and the
                master is tagged BT.709; no effect for SDR sources.
            spatial: an Apple spatial video (MP4/MOV, `--codec hevc_nvenc`): `width` is the side-by-side frame
                write() takes, each half encoded as one view (MV-HEVC); the metadata goes into `vexu` + `hfov`.
        Raises:
            UsageError, OutputError (and MediaError if the source cannot be opened for its audio).
        """
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.fps = snap_fps(fps)
        self.settings, self.overwrite = settings, overwrite
        self._plan = encoder_plan(settings)
        self.spatial = spatial
        self._views: ViewInterleaver | None = None
        if spatial is not None:
            self._plan = multiview_plan(settings, self.path)
        if alpha:
            if settings.codec != "prores" or settings.prores_profile != "4444":
                raise UsageError("an alpha channel needs ProRes 4444", path=self.path,
                                 hint="Use --codec prores --prores-profile 4444 and a .mov")
            self._plan = dataclasses.replace(self._plan, pix_fmt="yuva444p10le")
        self.alpha = alpha
        video = None if source is None or source.is_still else source.video
        self._tonemap = (video.color_trc, peak_nits(video.mastering_display)) \
            if tonemap and video is not None and video.color_trc in HDR_TRANSFERS else None
        self._validate(stereo_mode)
        muxer = container_format(self.path, settings)
        check_target(self.path, overwrite)
        self.temp_path: Path | None = create_temp(self.path)
        self._finalizer = weakref.finalize(self, remove_quietly, self.temp_path)
        self._container: av.container.OutputContainer | None = None
        self._audio: AudioCarrier | None = None
        self.frames_written = 0
        self._last_pts: int | None = None
        self._last_dts: int | None = None
        self._time_base = writer_time_base(self.fps)
        self._finished = False
        self._template = template
        hevc_sei = self._plan.encoder == "libx265" and has_frame_packing(stereo_mode)
        self._keyframe_prefix = frame_packing_sei_nal(stereo_mode) if hevc_sei else b""
        self._boxes = entry_boxes(muxer, stereo_mode, projection)
        if spatial is not None:
            if muxer not in ("mp4", "mov") or self.width % 4:
                raise UsageError(f"a spatial video is MP4/MOV with even eyes; {self.path.name} "
                                 f"({self.width}x{self.height}) is not", path=self.path,
                                 hint="Write .mov or .mp4 (odd eye widths are padded by convert)")
            self._boxes = spatial_boxes(spatial)
        try:
            self._open(muxer, source, audio_range, stereo_mode, timecode)
        except SpatialDreamerError:
            self.abort()
            raise
        except (av.FFmpegError, OSError) as exc:
            self.abort()
            raise os_output_error(exc, self.path, "cannot start the video file") from exc

    def _validate(self, stereo_mode: str | None) -> None:
        if stereo_mode is not None and stereo_mode not in STEREO_MODES:
            raise UsageError(
                f"unknown stereo mode {stereo_mode!r}", hint=f"Use one of {', '.join(STEREO_MODES)}"
            )
        if self.width <= 0 or self.height <= 0 or self.fps <= 0:
            raise OutputError(f"bad output size/rate {self.width}x{self.height} @ {self.fps}", path=self.path)
        even_w, even_h = self._plan.chroma_even
        if (even_w and self.width % 2) or (even_h and self.height % 2):
            raise OutputError(
                f"{self.width}x{self.height} cannot be encoded as {self._plan.pix_fmt}: "
                "chroma subsampling needs even dimensions",
                path=self.path,
                hint="Pad the frames to an even size first",
            )

    def _open(
        self,
        muxer: str,
        source: MediaInfo | None,
        audio_range: tuple[Fraction, Fraction | None] | None,
        stereo_mode: str | None,
        timecode: str | None,
    ) -> None:
        options = {"movflags": "+faststart"} if muxer == "mp4" else {}
        self._container = av.open(str(self.temp_path), "w", format=muxer, container_options=options)
        self._colour = OutputColour(source, self._plan, self.settings.codec, sdr=self._tonemap is not None)
        self._stream = self._add_video_stream(muxer, stereo_mode, source)
        start = Fraction(audio_range[0]) if audio_range else Fraction(0)
        end = Fraction(audio_range[1]) if audio_range and audio_range[1] is not None else None
        tc = timecode or _shifted_timecode(source, start, self.fps)
        if tc:
            self._stream.metadata["timecode"] = tc
        if source is not None and source.audio:
            self._audio = AudioCarrier(self._container, source, start, end)
        self._to_frame = RgbToFrame(self._plan.pix_fmt, self._colour.spec)
        self._container.start_encoding()

    def _add_video_stream(self, muxer: str, stereo_mode: str | None, source: MediaInfo | None = None
                          ) -> av.VideoStream:
        assert self._container is not None
        if self._template is not None:  # stream copy: the template's codec parameters, our timing and tags
            stream = self._container.add_stream_from_template(self._template)
            stream.time_base = self._time_base
            if muxer == "matroska" and stereo_mode is not None:
                stream.metadata["stereo_mode"] = stereo_mode
            return stream
        stream = self._container.add_stream(self._plan.encoder, rate=self.fps)
        ctx = stream.codec_context
        ctx.width, ctx.height, ctx.pix_fmt = self.width, self.height, self._plan.pix_fmt
        if self.spatial is not None:  # one eye per coded picture; the muxer writes lhvC for a multilayer stream
            ctx.width = self.width // 2
            stream.disposition = stream.disposition | av.stream.Disposition.multilayer
        ctx.time_base = self._time_base
        stream.time_base = self._time_base
        ctx.thread_count = 0
        options = dict(self._plan.options)
        if self._plan.bit_rate is not None:
            ctx.bit_rate = self._plan.bit_rate
        if self._plan.encoder == "libx264" and stereo_mode in _FRAME_PACKING:
            options["x264-params"] = f"frame-packing={_FRAME_PACKING[stereo_mode]}"
        if self._plan.encoder == "libx265":
            options["x265-params"] = ":".join(["log-level=error", *hdr_params(source, self.settings.bit_depth,
                                                                              self._tonemap is not None)])
        if self.settings.format == "hevc" and muxer != "matroska":
            ctx.codec_tag = "hvc1"
        ctx.options = options
        self._colour.apply(ctx)
        if muxer == "matroska" and stereo_mode is not None:
            stream.metadata["stereo_mode"] = stereo_mode
        return stream

    @property
    def audio_copied(self) -> tuple[bool, ...]:
        """Per carried audio track: True if stream-copied, False if re-encoded to AAC."""
        return self._audio.copied if self._audio is not None else ()

    def write(self, image: np.ndarray, time: Fraction | None = None, alpha: np.ndarray | None = None) -> None:
        """Encode one frame.

        Args:
            image: (H, W, 3) uint8 or uint16 (full 0..65535 scale) RGB, H/W as constructed.
            alpha: (H, W) float in [0, 1], straight (not premultiplied), for a writer made with alpha=True
                (None there: opaque).
            time: seconds from the output's start (VFR timestamps are kept; times within 1.1 ms of the
                1/fps grid snap onto it); None -> frames_written / fps.
        """
        self._require_open()
        if image.shape != (self.height, self.width, 3) or image.dtype not in (np.uint8, np.uint16):
            raise OutputError(
                f"frame is {image.shape} {image.dtype}, expected ({self.height}, {self.width}, 3) "
                "uint8/uint16",
                path=self.path,
            )
        seconds, pts = self._next_time(time)
        if self._tonemap is not None:
            image = tonemap_to_sdr(image, *self._tonemap)
        if self.alpha:
            image = with_alpha(image, alpha)
        if self.spatial is not None:
            self._guarded(lambda: self._encode_views(image, pts, seconds))
            self._last_pts = pts
            self.frames_written += 1
            return
        frame = self._to_frame(np.ascontiguousarray(image))
        self._colour.apply(frame)
        frame.pts, frame.time_base = pts, self._time_base
        self._guarded(lambda: self._encode(frame, seconds))
        self._last_pts = pts
        self.frames_written += 1

    def _encode_views(self, image: np.ndarray, pts: int, seconds: Fraction) -> None:
        """A spatial master's frame: its left half, then its right half (one tick later), as the two views."""
        half = self.width // 2
        eyes = []
        for part in (image[:, :half], image[:, half:]):
            frame = self._to_frame(np.ascontiguousarray(part))
            self._colour.apply(frame)
            frame.pts, frame.time_base = pts, self._time_base
            eyes.append(frame)
        if self._views is None:
            self._views = ViewInterleaver(half, self.height, self._plan.pix_fmt, self._time_base)
        left, right = self._views(*eyes)
        right.pts = pts + 1
        self._encode(left, None)
        self._encode(right, seconds)

    def write_packet(self, packet: av.Packet, time: Fraction | None = None) -> None:
        """Stream copy: mux one encoded frame of the `template` stream at `time` (as :meth:`write`)."""
        self._require_open()
        if self._template is None:
            raise UsageError("write_packet needs a writer made with template=")
        seconds, pts = self._next_time(time)
        packet.stream, packet.time_base = self._stream, self._time_base
        packet.pts = packet.dts = pts
        packet.duration = round(1 / (self.fps * self._time_base))  # one frame (the chunk's was in its own units)

        def mux() -> None:
            assert self._container is not None
            self._container.mux(packet)
            if self._audio is not None:
                self._audio.push_until(seconds)

        self._guarded(mux)
        self._last_pts = pts
        self.frames_written += 1

    def _next_time(self, time: Fraction | None) -> tuple[Fraction, int]:
        """(seconds, pts) of the next frame; OutputError when the time does not increase."""
        seconds = (
            Fraction(self.frames_written) / self.fps if time is None else snap_time(Fraction(time), self.fps)
        )
        pts = round(seconds / self._time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            raise OutputError(
                f"frame time {float(seconds):.6f} s does not increase",
                path=self.path,
                hint="Give strictly increasing times",
            )
        return seconds, pts

    def _encode(self, frame: av.VideoFrame | None, seconds: Fraction | None) -> None:
        assert self._container is not None
        packets = self._stream.encode(frame)
        if self._plan.encoder == "libx265":
            self._last_dts = repair_dts(packets, self._last_dts, round(3600 / self._time_base))
        if self._keyframe_prefix:
            packets = [prefix_keyframe(packet, self._keyframe_prefix) for packet in packets]
        self._container.mux(packets)
        if self._audio is not None and seconds is not None:
            self._audio.push_until(seconds)

    def finish(self) -> None:
        """Flush the encoder and audio and close the temp file (complete, not yet in place)."""
        if self._finished:
            return
        self._require_open()
        if self.frames_written == 0:
            self.abort()
            raise OutputError("no frames were written", path=self.path, hint="Check the frame range")
        self._guarded(self._flush)
        self._finished = True

    def _flush(self) -> None:
        assert self._container is not None
        if self._template is None:
            self._encode(None, None)
        if self._audio is not None:
            self._audio.finish()
        self._container.close()
        if self._boxes:
            self._add_boxes(self._boxes)

    def _add_boxes(self, boxes: list[bytes]) -> None:
        """Rewrite the closed temp file with `boxes` in its sample entry (through a second temp file)."""
        assert self.temp_path is not None
        scratch = create_temp(self.path)
        try:
            write_with_boxes(self.temp_path, scratch, boxes)
            os.replace(scratch, self.temp_path)
        except ValueError as exc:
            remove_quietly(scratch)
            raise OutputError(f"cannot add the stereo / spatial boxes: {exc}", path=self.path,
                              hint="Write .mkv instead, or report this file") from exc
        except OSError:
            remove_quietly(scratch)
            raise

    def commit(self) -> None:
        """Finish if needed, then atomically move the temp file onto the target."""
        self.finish()
        assert self.temp_path is not None
        replace_into_place(self.temp_path, self.path, self.overwrite)
        self._finalizer.detach()
        self.temp_path = None

    def landing(self) -> Landing:
        """The finished temp file and its target, for :func:`engine.fileio.land_together`."""
        self.finish()
        assert self.temp_path is not None
        return Landing(self.temp_path, self.path, self.overwrite)

    def landed(self) -> None:
        """Record that the temp file was moved onto the target by someone else (nothing left to delete)."""
        self._finalizer.detach()
        self.temp_path = None

    def abort(self) -> None:
        """Stop, delete the temp file; an existing target is untouched. Safe to call more than once."""
        if self._audio is not None:
            with contextlib.suppress(Exception):
                self._audio.close()
        if self._container is not None and not self._finished:
            with contextlib.suppress(Exception):
                self._container.close()
        self._container = None
        remove_quietly(self.temp_path)
        self.temp_path = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is not None:
            self.abort()
            return
        self.commit()

    def _require_open(self) -> None:
        if self.temp_path is None or self._container is None:
            raise OutputError("writer is already closed", path=self.path)

    def _guarded(self, action) -> None:
        """Run an FFmpeg action; on failure abort and raise a one-line OutputError."""
        try:
            action()
        except SpatialDreamerError:
            self.abort()
            raise
        except (av.FFmpegError, OSError) as exc:
            self.abort()
            raise os_output_error(exc, self.path, "encoding failed") from exc


HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
"""PQ (HDR10) and HLG."""


def hdr_params(source: MediaInfo | None, bit_depth: int, tonemapped: bool = False) -> list[str]:
    """x265 parameters carrying a PQ/HLG source's HDR signalling into a 10-bit HEVC master: its SMPTE ST 2086
    mastering display and content light level (SEI on every keyframe, with the VUI tags the writer sets)."""
    video = None if source is None or source.is_still else source.video
    if video is None or bit_depth < 10 or video.color_trc not in HDR_TRANSFERS or tonemapped:
        return []
    params = []
    if video.mastering_display:
        params += [f"master-display={video.mastering_display}", "hdr10=1"]
    if video.content_light:
        params.append(f"max-cll={video.content_light}")
    return params + (["repeat-headers=1"] if params else [])


def with_alpha(image: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """(H, W, 3) RGB + (H, W) alpha in [0, 1] (None: opaque) -> (H, W, 4) uint16 RGBA (16 bits, so the
    10-bit alpha plane reaches exactly 0 and 1)."""
    rgb = image if image.dtype == np.uint16 else image.astype(np.uint16) * 257
    a = np.full(image.shape[:2], 65535, np.uint16) if alpha is None else \
        np.round(np.clip(alpha, 0.0, 1.0) * 65535).astype(np.uint16)
    return np.dstack([rgb, a])


def multiview_plan(settings: EncodeSettings, path: Path) -> EncoderPlan:
    """The encoder of a spatial master: hevc_nvenc with its multiview profile (UsageError for another codec)."""
    if settings.codec != MV_HEVC_ENCODER:
        raise UsageError(f"a spatial video (MV-HEVC) is written by {MV_HEVC_ENCODER}, not {settings.codec}",
                         path=path, hint=f"Use --codec {MV_HEVC_ENCODER} (or leave --codec out)")
    plan = encoder_plan(settings)
    return dataclasses.replace(plan, options={**plan.options, **MV_HEVC_OPTIONS})


def entry_boxes(muxer: str, stereo_mode: str | None, projection: str | None) -> list[bytes]:
    """The boxes the writer adds to an MP4/MOV video sample entry: `st3d` for SBS/TB, then `sv3d` for VR180."""
    if muxer not in ("mp4", "mov"):
        return []
    boxes = [st3d_box(stereo_mode)] if stereo_mode in ST3D_MODES else []
    if projection == "vr180":
        from engine.media.sv3d import sv3d_box

        boxes.append(sv3d_box())
    return boxes


def repair_dts(packets: list[av.Packet], last_dts: int | None, limit: int) -> int | None:
    """Replace impossible decode timestamps (dts > pts, or more than `limit` ticks before it).

    FFmpeg's libx265 wrapper leaves dts uninitialised when a clip has fewer frames than its
    reorder delay (1-2 frames); the muxer then refuses the packet. Such clips have no reordering,
    so dts = pts (kept increasing) is correct. Returns the last dts, for the next call.
    """
    for packet in packets:
        pts, dts = packet.pts, packet.dts
        if pts is not None and (dts is None or dts > pts or pts - dts > limit):
            packet.dts = pts if last_dts is None or pts > last_dts else last_dts + 1
        last_dts = packet.dts if packet.dts is not None else last_dts
    return last_dts


def prefix_keyframe(packet: av.Packet, prefix: bytes) -> av.Packet:
    """`packet` with `prefix` (Annex B NAL units) in front of its data when it is a keyframe; other
    packets (and empty flush packets) are returned as they are. Timing and stream are kept."""
    if not packet.is_keyframe or packet.size == 0:
        return packet
    out = av.Packet(prefix + bytes(packet))
    out.pts, out.dts, out.duration = packet.pts, packet.dts, packet.duration
    out.time_base, out.stream, out.is_keyframe = packet.time_base, packet.stream, True
    return out


def _shifted_timecode(source: MediaInfo | None, start: Fraction, fps: Fraction) -> str | None:
    """The source's start timecode advanced to the first written frame (unchanged if unparsable)."""
    if source is None or source.is_still or not source.video.start_timecode:
        return None
    tc = source.video.start_timecode
    frames = round(start * source.video.fps)
    with contextlib.suppress(SpatialDreamerError):
        return offset_timecode(tc, frames, source.video.fps) if frames else tc
    return tc


def commit_together(writers: Sequence[VideoWriter]) -> None:
    """Finish every writer, then commit them all: all land or none do (for --layout pair; a
    SequenceWriter among them lands each of its frames in the same set).

    If any finish fails, every writer is aborted and the error re-raised. The set lands through
    :func:`engine.fileio.land_together`: targets are checked before the first rename, so a refused
    commit (target appeared, overwrite off) also lands nothing.
    """
    try:
        for writer in writers:
            writer.finish()
        land_together(all_landings(writers))
    except BaseException as exc:
        for writer in writers:
            writer.abort()
        if isinstance(exc, OSError):
            target = Path(exc.filename2 or writers[0].path)
            raise os_output_error(exc, target, "cannot move the finished file into place") from exc
        raise
    for writer in writers:
        writer.landed()
