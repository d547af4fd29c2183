"""Carry a source's audio streams into an output, in sync with the video being written.

Every audio stream of the source is carried. A stream is copied packet for packet (no quality loss)
when the output container accepts its codec, no trimming is asked for, and it does not start
noticeably (> 50 ms) before the video. Otherwise it is decoded, cut sample-accurately to the
range, gaps filled with silence, and re-encoded to AAC. Trimming always re-encodes: packet-granular
cuts would leave up to a packet (~20-40 ms) of desync or stray sound at each end.

Times: the source's first video frame is source time 0; `start` (source seconds) becomes output
time 0, matching the video the pipeline writes from that frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.stream
import numpy as np

from engine.media.info import MediaInfo
from engine.media.probe import codec_name, open_input

_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
AAC_RATES = frozenset(
    {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
)
LOOKAHEAD_S = Fraction(1, 2)
EARLY_S = Fraction(1, 20)
# Codecs FFmpeg lists for a muxer but only writes there in "experimental" mode.
_EXPERIMENTAL_IN = {"mov": frozenset({"flac", "opus", "vorbis"})}


class _Track:
    """One source audio stream and its output stream."""

    def __init__(
        self,
        source: av.AudioStream,
        output: av.AudioStream,
        copy: bool,
        origin: Fraction,
        end: Fraction | None,
    ) -> None:
        self.source, self.output, self.copy = source, output, copy
        self.origin = origin  # source container time that becomes output time 0
        self.end = end  # output seconds where this track stops (None: to the end)
        self.rate = source.codec_context.sample_rate
        self.written = 0  # samples sent to the encoder
        self.done = False

    def output_time(self, packet: av.Packet) -> Fraction | None:
        if packet.pts is None:
            return None
        return packet.pts * self.source.time_base - self.origin


class AudioCarrier:
    """Feeds the output container with audio up to each video time it is told about."""

    def __init__(
        self, output: av.container.OutputContainer, source: MediaInfo, start: Fraction, end: Fraction | None
    ) -> None:
        self._output = output
        self._input = open_input(Path(source.audio_path or source.path))
        origin = source.video.start_time + start
        length = None if end is None else end - start
        trimmed = start > 0 or end is not None
        self._tracks: dict[int, _Track] = {}
        for stream in self._input.streams:
            if stream.type != "audio" or stream.codec_context is None:
                stream.discard = av.stream.Discard.all
                continue
            copy = not trimmed and _copyable(stream, output, origin)
            out = _copy_stream(output, stream) if copy else _aac_stream(output, stream)
            self._tracks[stream.index] = _Track(stream, out, copy, origin, length)
        self._packets: Iterator[av.Packet] | None = (
            self._input.demux(*(t.source for t in self._tracks.values())) if self._tracks else None
        )
        self._pending: av.Packet | None = None

    @property
    def copied(self) -> tuple[bool, ...]:
        """Per carried track: True if stream-copied, False if re-encoded to AAC."""
        return tuple(t.copy for t in self._tracks.values())

    def push_until(self, t: Fraction) -> None:
        """Mux audio whose output time is before `t` + a small lookahead."""
        limit = t + LOOKAHEAD_S
        while True:
            packet = self._next_packet()
            if packet is None:
                return
            track = self._tracks[packet.stream_index]
            when = track.output_time(packet)
            if when is not None and when > limit:
                self._pending = packet
                return
            self._process(track, packet)

    def finish(self) -> None:
        """Mux everything left (within range), flush decoders and encoders, close the source."""
        while (packet := self._next_packet()) is not None:
            self._process(self._tracks[packet.stream_index], packet)
        for track in self._tracks.values():
            if not track.copy:
                self._decode_and_encode(track, None)
                self._mux(track.output.encode(None))
        self.close()

    def close(self) -> None:
        self._packets = None
        self._pending = None
        self._input.close()

    def _next_packet(self) -> av.Packet | None:
        if self._pending is not None:
            packet, self._pending = self._pending, None
            return packet
        if self._packets is None or all(t.done for t in self._tracks.values()):
            return None
        for packet in self._packets:
            if packet.size:
                return packet
        self._packets = None
        return None

    def _process(self, track: _Track, packet: av.Packet) -> None:
        if track.done:
            return
        if track.copy:
            self._copy(track, packet)
        else:
            self._decode_and_encode(track, packet)

    def _copy(self, track: _Track, packet: av.Packet) -> None:
        shift = round(track.origin / track.source.time_base)
        if packet.pts is not None:
            packet.pts -= shift
        if packet.dts is not None:
            packet.dts -= shift
        packet.stream = track.output
        self._mux([packet])

    def _decode_and_encode(self, track: _Track, packet: av.Packet | None) -> None:
        for frame in track.source.codec_context.decode(packet):
            for piece in _trimmed(track, frame):
                self._mux(track.output.encode(piece))

    def _mux(self, packets: list[av.Packet]) -> None:
        self._output.mux(packets)


def _copyable(stream: av.AudioStream, output: av.container.OutputContainer, origin: Fraction) -> bool:
    """Stream copy is possible: the muxer takes the codec (not as "experimental") and the audio does
    not start more than EARLY_S before the first video frame (codec priming of a few ms is fine:
    the muxers keep it in sync; real pre-roll has to be trimmed, which re-encodes)."""
    codec = codec_name(stream)
    if codec not in output.supported_codecs or codec in _EXPERIMENTAL_IN.get(output.format.name, frozenset()):
        return False
    return stream.start_time is None or stream.start_time * stream.time_base >= origin - EARLY_S


def _copy_stream(output: av.container.OutputContainer, source: av.AudioStream) -> av.AudioStream:
    stream = output.add_stream_from_template(source)
    _copy_labels(source, stream)
    return stream


def _aac_stream(output: av.container.OutputContainer, source: av.AudioStream) -> av.AudioStream:
    ctx = source.codec_context
    rate = ctx.sample_rate if ctx.sample_rate in AAC_RATES else 48000
    stream = output.add_stream("aac", rate=rate)
    stream.codec_context.layout = layout_name(ctx.layout)
    stream.codec_context.bit_rate = min(512_000, 96_000 * max(1, ctx.channels))
    _copy_labels(source, stream)
    return stream


def layout_name(layout: av.AudioLayout) -> str:
    """A named channel layout ('mono', 'stereo', '5.1' ...) also for 'N channels' (unordered) layouts."""
    if layout.name.endswith("channels"):
        return _DEFAULT_LAYOUTS.get(layout.nb_channels, layout.name)
    return layout.name


def _copy_labels(source: av.Stream, target: av.Stream) -> None:
    if source.language:
        target.metadata["language"] = source.language
    title = source.metadata.get("title") or source.metadata.get("TITLE")
    if title:
        target.metadata["title"] = title


def _trimmed(track: _Track, frame: av.AudioFrame) -> list[av.AudioFrame]:
    """The part of `frame` inside the track's range, placed right after what was written
    (silence first if the source has a gap)."""
    samples = _interleaved(frame)  # (n, channels)
    if frame.pts is not None and frame.time_base is not None:
        position = round((frame.pts * frame.time_base - track.origin) * track.rate)
    else:
        position = track.written
    if abs(position - track.written) <= 2:
        position = track.written
    end = None if track.end is None else round(track.end * track.rate)
    head = max(0, track.written - position)
    tail = len(samples) if end is None else max(0, min(len(samples), end - position))
    if end is not None and position + len(samples) >= end:
        track.done = True
    pieces = []
    if position > track.written and (end is None or track.written < end):
        gap = position - track.written if end is None else min(position, end) - track.written
        pieces.append(_frame_like(frame, np.zeros((gap, samples.shape[1]), samples.dtype), track))
    if tail > head:
        pieces.append(_frame_like(frame, samples[head:tail], track))
    return pieces


def _interleaved(frame: av.AudioFrame) -> np.ndarray:
    """(samples, channels) view of an audio frame, packed or planar."""
    data = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if frame.format.is_planar:
        return data.T
    return data.reshape(-1, channels)


def _frame_like(template: av.AudioFrame, samples: np.ndarray, track: _Track) -> av.AudioFrame:
    """An AudioFrame in the template's format holding (n, channels) samples, pts = written position."""
    fmt = template.format
    data = np.ascontiguousarray(samples.T if fmt.is_planar else samples.reshape(1, -1))
    frame = av.AudioFrame.from_ndarray(data, format=fmt.name, layout=layout_name(template.layout))
    frame.sample_rate = track.rate
    frame.time_base = Fraction(1, track.rate)
    frame.pts = track.written
    track.written += samples.shape[0]
    return frame
