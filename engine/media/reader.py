"""Frame-accurate, seekable reading of videos and stills as RGB arrays.

Frames are numbered in presentation order from the probe's frame table (exact, VFR-safe). Random
access seeks to the keyframe at or before the wanted frame and decodes forward; reading forward
from where the decoder already is never seeks (the sequential fast path). An LRU cache keeps the
most recent decoded frames; every Frame handed out owns its array (cache hits are copies).
With :meth:`MediaReader.keep_gop` on (the studio's session), the frames a jump decodes on its way
to the wanted one (from the keyframe, or from where the decoder stood) are kept, still in the
decoder's YUV (:data:`KEPT_GOP_BYTES` at most), so a scrub
that lands elsewhere in a GOP it already decoded — a backward step, a drag back and forth —
converts a kept frame instead of seeking and decoding the GOP again.

Thread-safe: frame() and each step of frames() hold a lock, so a prefetch thread may iterate
frames() while another thread asks for single frames (each interleaving costs a seek).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.stream
import numpy as np

from engine.errors import MediaError, UsageError
from engine.media.colour import FrameToRgb, source_colour_spec
from engine.media.info import MediaInfo
from engine.media.probe import FrameTable, open_input, probe_audio, scan_media
from engine.media.sequence import (
    ImageSequence,
    is_sequence_path,
    read_frame,
    read_frame_scene,
    scan_sequence,
    sequence_info,
)
from engine.media.stills import is_still_path, read_exr_still, read_still, still_info

KEPT_GOP_BYTES = 192 << 20  # decoded (YUV) frames kept from the seeks' runs through a GOP
KEPT_GOP_FRAMES = 64  # … and at most this many frames

_ROTATE = {90: -1, 180: 2, 270: 1}  # display rotation (clockwise degrees) -> np.rot90 quarter turns (counter-clockwise)


class FrameIndexError(MediaError, IndexError):
    """A frame index outside [0, frame_count)."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        index: source frame index (0-based, presentation order).
        time: seconds from the stream's first frame, (pts - first pts) * time_base (VFR-exact).
        image: (H, W, 3) RGB, uint8 for 8-bit sources, else uint16 on the full 0..65535 scale;
            rotation already applied.
        scene: (H, W, 3) float32 linear light as stored, unclipped, for an EXR plate read by a reader opened
            with ``scene=True`` (what an EXR output renders from); None otherwise.
    """

    index: int
    time: Fraction
    image: np.ndarray
    scene: np.ndarray | None = None


class _StillSource:
    """A still image seen as a one-frame video (an EXR keeps its stored linear values, :meth:`read_scene`)."""

    def __init__(self, path: Path) -> None:
        self.scene: np.ndarray | None = None
        if path.suffix.lower() == ".exr":
            self.image, self.scene, bits = read_exr_still(path)
            self.info = still_info(path, self.image, bits)
        else:
            self.image = read_still(path)
            self.info = still_info(path, self.image)
        self.table = FrameTable(np.zeros(1, np.int64), np.zeros(1, np.int64), Fraction(1))

    def read(self, index: int) -> np.ndarray:
        return self.image.copy()

    def read_scene(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(image, the EXR's linear values or None)."""
        return self.image.copy(), None if self.scene is None else self.scene.copy()

    def close(self) -> None:
        self.image = np.zeros((0, 0, 3), np.uint8)


class _SequenceSource:
    """A numbered image sequence: frame i is file number first + i, decoded when asked for."""

    def __init__(self, path: Path, fps: Fraction | None, fill_gaps: str, audio: Path | None = None) -> None:
        self.sequence: ImageSequence = scan_sequence(path, fill_gaps)
        if fps is None:
            raise UsageError("an image sequence has no frame rate of its own", path=self.sequence.pattern.printf,
                             hint="Pass --fps (e.g. --fps 24 or --fps 24000/1001)")
        first, bits = read_frame(self.sequence.file(0))
        self.shape, self.dtype = first.shape, first.dtype
        self.info = sequence_info(self.sequence, Fraction(fps), first, bits)
        if audio is not None:  # a soundtrack: its streams, carried from its own file
            self.info = dataclasses.replace(self.info, audio=probe_audio(audio), audio_path=str(audio))
        count = len(self.sequence)
        ticks = np.arange(count, dtype=np.int64)
        self.table = FrameTable(ticks, ticks, 1 / Fraction(fps))

    def read(self, index: int) -> np.ndarray:
        return self.read_scene(index)[0]

    def read_scene(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(image, EXR linear values or None) of frame `index`; the image checked against the sequence."""
        path = self.sequence.file(index)
        image, scene, _ = read_frame_scene(path)
        if image.shape != self.shape:
            h, w = self.shape[:2]
            raise MediaError(f"frame is {image.shape[1]}x{image.shape[0]}, but the sequence is {w}x{h}",
                             path=path, hint="Every frame of a sequence must have one size; re-render it")
        if image.dtype != self.dtype:  # one bit depth through the job (an 8-bit frame in a 16-bit run)
            image = image.astype(np.uint16) * 257 if image.dtype == np.uint8 else \
                ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
        return image, scene

    def close(self) -> None:
        pass


class _VideoSource:
    """Decoder state: one open container, a forward-only frame iterator and where it stands."""

    def __init__(self, path: Path) -> None:
        self.path = path
        info, table = scan_media(path)
        assert table is not None
        self.info, self.table = info, table
        self._index_of = {int(p): i for i, p in enumerate(table.pts)}
        video = info.video
        spec = source_colour_spec(video.colorspace, video.color_range, video.pix_fmt, video.coded_height)
        self._to_rgb = FrameToRgb(spec, high_bit_depth=video.bit_depth > 8)
        self._rotate = _ROTATE.get(video.rotation)
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[tuple[int, av.VideoFrame]] | None = None
        self._next = 0
        self._kept: OrderedDict[int, av.VideoFrame] = OrderedDict()  # decoded on a seek's way, oldest first
        self._keep_limit = 0  # frames kept from a jump's run (MediaReader.keep_gop)

    def keep_gop(self, on: bool) -> None:
        video = self.info.video
        yuv_bytes = video.width * video.height * (6 if video.bit_depth > 8 else 3) // 2
        self._keep_limit = max(0, min(KEPT_GOP_FRAMES, KEPT_GOP_BYTES // max(1, yuv_bytes))) if on else 0
        if not on:
            self._kept.clear()

    def read(self, index: int) -> np.ndarray:
        """(H, W, 3) RGB of frame `index` (0 <= index < frame_count)."""
        frame = self._kept.get(index)
        if frame is None:
            frame = self._decode(index)
        else:
            self._kept.move_to_end(index)
        image = self._to_rgb(frame)
        if self._rotate is not None:
            return np.ascontiguousarray(np.rot90(image, self._rotate))
        return np.ascontiguousarray(image)

    def close(self) -> None:
        self._frames = None
        self._kept.clear()
        if self._container is not None:
            self._container.close()
            self._container = None

    def _decode(self, index: int) -> av.VideoFrame:
        ahead = self._frames is not None and self._next <= index
        if ahead and self.table.keyframe_index_at_or_before(index) <= self._next:
            frame = self._advance_to(index)  # forward from where the decoder stands: no seek
            if frame is not None:
                return frame
        key, fresh = self.table.keyframe_index_at_or_before(index), False
        while True:
            self._restart(key, fresh)
            frame = self._advance_to(index)
            if frame is not None:
                return frame
            if key == 0 and fresh:
                raise MediaError(
                    f"frame {index} does not decode",
                    path=self.path,
                    hint="The file may be damaged; re-export it",
                )
            # The seek overshot (or the GOP is open): start one keyframe earlier; at the very
            # start, reopen the file, the one start position every demuxer gets right.
            fresh = key == 0
            key = self.table.keyframe_index_at_or_before(key - 1) if key > 0 else 0

    def _advance_to(self, index: int) -> av.VideoFrame | None:
        """Decode forward to `index`; None if the decoder passes it or runs out first. The frames
        decoded on the way (a jump's run, from a keyframe or from where the decoder stood) are kept."""
        assert self._frames is not None
        try:
            for found, frame in self._frames:
                self._next = found + 1
                if found == index:
                    return frame
                if found > index:
                    break
                if self._keep_limit:
                    self._keep(found, frame)
        except av.FFmpegError as exc:
            raise MediaError(
                f"cannot decode frame {index}: {exc.strerror or exc}",
                path=self.path,
                hint="The file may be damaged; re-export it",
            ) from exc
        self._frames = None
        return None

    def _keep(self, index: int, frame: av.VideoFrame) -> None:
        self._kept[index] = frame
        self._kept.move_to_end(index)
        while len(self._kept) > self._keep_limit:
            self._kept.popitem(last=False)

    def _restart(self, key: int, fresh: bool = False) -> None:
        """Position the decoder at the keyframe with index `key` (seek, or reopen when `fresh`)."""
        container = self._open(fresh)
        if not fresh:
            try:
                stream = container.streams[self.info.video.index]
                container.seek(int(self.table.pts[key]), stream=stream, backward=True)
            except av.FFmpegError:
                container = self._open(fresh=True)
        self._frames = self._iterate(container, container.streams[self.info.video.index])
        self._next = key

    def _open(self, fresh: bool = False) -> av.container.InputContainer:
        if fresh and self._container is not None:
            self._container.close()
            self._container = None
        if self._container is None:
            container = open_input(self.path)
            for stream in container.streams:
                if stream.index != self.info.video.index:
                    stream.discard = av.stream.Discard.all
            container.streams[self.info.video.index].codec_context.thread_type = "AUTO"
            self._container = container
        return self._container

    def _iterate(
        self, container: av.container.InputContainer, stream: av.VideoStream
    ) -> Iterator[tuple[int, av.VideoFrame]]:
        """(frame index, decoded frame) for every decoded frame that is in the frame table."""
        for packet in container.demux(stream):
            for frame in packet.decode():
                index = self._index_of.get(frame.pts) if frame.pts is not None else None
                if index is not None:
                    yield index, frame


class MediaReader:
    """Seekable RGB frames of a video, an image sequence or a still (a one-frame video at 1 fps).

    Use as a context manager, or call close().
    """

    def __init__(self, path: str | Path, *, cache_size: int = 16, fps: Fraction | None = None,
                 fill_gaps: str = "fail", audio: str | Path | None = None, scene: bool = False) -> None:
        """Open `path`: a video, a still, or an image sequence (a `%06d` / `####` pattern or a folder of
        one numbered run), which needs `fps`; `fill_gaps` 'hold' repeats the frame before a gap;
        `audio` is a sequence's soundtrack file (refused for videos and stills, which have their own);
        `scene` gives the frames of an EXR sequence or still their stored linear values too
        (:attr:`Frame.scene`)."""
        self.path = Path(path)
        self._source: _StillSource | _VideoSource | _SequenceSource
        if is_sequence_path(self.path):
            self._source = _SequenceSource(self.path, fps, fill_gaps, None if audio is None else Path(audio))
        elif audio is not None:
            raise UsageError("--audio adds a soundtrack to an image sequence; this input has its own",
                             path=self.path, hint="Leave --audio out (the source's audio is carried)")
        elif is_still_path(self.path):
            self._source = _StillSource(self.path)
        else:
            self._source = _VideoSource(self.path)
        self.info: MediaInfo = self._source.info
        self._scene = scene and isinstance(self._source, (_SequenceSource, _StillSource)) and \
            self.info.video.codec == "exr"
        self._table = self._source.table
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = max(0, int(cache_size))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.info.video.frame_count

    def __enter__(self) -> MediaReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def frame(self, index: int) -> Frame:
        """Frame `index` (frame-accurate; cached). Raises FrameIndexError (a MediaError and IndexError)."""
        index = self.check_index(index)
        if self._scene:  # an EXR plate's linear values too (not cached: a sequence frame is a file read)
            with self._lock:
                image, scene = self._source.read_scene(index)
            return Frame(index, self._table.time_of(index), image, scene)
        with self._lock:
            cached = self._cache.get(index)
            if cached is None:
                cached = self._source.read(index)
                self._remember(index, cached)
            else:
                self._cache.move_to_end(index)
            image = cached.copy()
        return Frame(index, self._table.time_of(index), image)

    def keep_gop(self, on: bool = True) -> None:
        """Keep the frames a jump decodes on its way (see the module notes): for interactive random
        access (a scrub); sequential readers leave it off. No effect on stills and image sequences."""
        if isinstance(self._source, _VideoSource):
            with self._lock:
                self._source.keep_gop(on)

    def cached(self) -> list[int]:
        """Indices of the frames in the memory cache now (oldest first)."""
        with self._lock:
            return list(self._cache)

    def frames(self, start: int = 0, end: int | None = None) -> Iterator[Frame]:
        """Frames in [start, end) in order — the fast sequential path (no cache, no copies); with
        ``scene=True`` an EXR sequence's frames carry their linear values (:attr:`Frame.scene`)."""
        end = len(self) if end is None else min(int(end), len(self))
        if start < 0 or start > len(self):
            raise FrameIndexError(f"start frame {start} is out of range (0..{len(self)})", path=self.path)
        for index in range(start, end):
            scene = None
            with self._lock:
                if self._scene:
                    image, scene = self._source.read_scene(index)
                else:
                    cached = self._cache.get(index)
                    image = cached.copy() if cached is not None else self._source.read(index)
            yield Frame(index, self._table.time_of(index), image, scene)

    def index_at_time(self, t: Fraction | float) -> int:
        """First frame whose time >= t (seconds from the first frame); len(self) if none."""
        if not isinstance(t, Fraction):
            t = Fraction(t).limit_denominator(1_000_000)
        first = int(self._table.pts[0])
        tick = math.ceil(first + t / self._table.time_base)
        return int(np.searchsorted(self._table.pts, tick, side="left"))

    def time_of(self, index: int) -> Fraction:
        """Seconds from the first frame to frame `index`."""
        return self._table.time_of(self.check_index(index))

    def close(self) -> None:
        """Release the decoder and the cache (idempotent)."""
        with self._lock:
            self._source.close()
            self._cache.clear()

    def check_index(self, index: int) -> int:
        """`index` as an int; FrameIndexError (one line: which frame, the valid range) when outside the clip."""
        if not 0 <= index < len(self):
            raise FrameIndexError(
                f"frame {index} is out of range (0..{len(self) - 1})",
                path=self.path,
                hint="Ask for a frame inside the clip",
            )
        return int(index)

    def _remember(self, index: int, image: np.ndarray) -> None:
        if self._cache_size == 0:
            return
        self._cache[index] = image
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def open_media(path: str | Path, **kwargs: object) -> MediaReader:
    """Probe and open a video or still for reading (kwargs go to MediaReader, e.g. cache_size)."""
    return MediaReader(path, **kwargs)  # type: ignore[arg-type]
