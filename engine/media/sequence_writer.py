"""Write a master as a numbered image sequence (`-o out.%06d.exr`), atomically as a set.

Frames go into one hidden staging folder beside the targets (same filesystem); at commit every
target is checked and the files are moved into place together (:func:`engine.fileio.land_together`),
so a failure, a cancel or a full disk leaves no partial sequence and no existing frame touched.

Formats by the pattern's suffix, bit depth kept:
- `.exr`: RGB, HALF for sources up to 16 bits, FLOAT for float EXR sources; the engine's
  display-referred (sRGB) pixels are decoded back to linear light (:func:`linear_from_display`); float32
  frames (an EXR plate rendered from its own values, extended sRGB) are decoded without clipping, so
  values above 1.0 and below 0 come back as they were;
- `.png` / `.tif(f)`: 16-bit for uint16 frames, 8-bit otherwise;
- `.dpx`: 16-bit RGB (10-bit for 10-bit sources) through FFmpeg's DPX encoder, 8-bit for 8-bit frames;
- `.jpg`: 8-bit.

AOVs for compositing (`write(..., aov=(hole, disparity))`, issue 15 item 6): an EXR frame gets two more
channels, `hole` (HALF, 1 = disocclusion) and `disparity` (FLOAT, pixels, CONVENTIONS.md sign, NaN in
holes); other formats get two more files per frame, `<eye prefix>.hole.<n>.png` (8-bit, 255 = hole) and
`<eye prefix>.disparity.<n>.exr` (FLOAT channel `disparity`), landed with the frames.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import weakref
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

from engine.errors import OutputError, SpatialDreamerError, UsageError
from engine.fileio import Landing, partial_name, sweep_once
from engine.media.atomic import os_output_error
from engine.media.exr import encode_exr
from engine.media.sequence import SEQUENCE_EXTENSIONS, SequencePattern, linear_from_display, parse_pattern


def sequence_output_pattern(path: str | Path) -> SequencePattern | None:
    """The pattern of an output path (`out.%06d.exr`, `out.####.png`), or None for a single file."""
    return parse_pattern(path)


def eye_pattern_path(path: Path, eye: str) -> Path:
    """`out.%06d.exr` -> `out_L.%06d.exr` (CONVENTIONS.md: the eye tag goes before the frame number)."""
    pattern = parse_pattern(path)
    assert pattern is not None
    base = pattern.prefix.rstrip("._- ")
    separator = pattern.prefix[len(base):]
    token = path.name[len(pattern.prefix):len(path.name) - len(pattern.suffix)]
    return path.with_name(f"{base}_{eye}{separator}{token}{pattern.suffix}")


def frame_paths(path: str | Path, first: int, count: int) -> list[Path]:
    """The files a sequence output of `count` frames numbered from `first` will be."""
    pattern = sequence_output_pattern(path)
    assert pattern is not None
    return [pattern.path(first + k) for k in range(count)]


def encode_dpx(image: np.ndarray, bits: int) -> bytes:
    """(H, W, 3) uint8/uint16 RGB -> DPX bytes (8-bit, 10-bit or 16-bit RGB)."""
    high = image.dtype == np.uint16
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb48le" if high else "rgb24")
    context = av.CodecContext.create("dpx", "w")
    context.width, context.height = image.shape[1], image.shape[0]
    context.pix_fmt = ("gbrp10le" if bits == 10 else "rgb48le") if high else "rgb24"
    if context.pix_fmt != frame.format.name:
        frame = frame.reformat(format=context.pix_fmt)
    context.time_base = 1
    frame.pts = 0
    packets = list(context.encode(frame)) + list(context.encode(None))
    return b"".join(bytes(p) for p in packets)


def aov_pattern(pattern: SequencePattern, kind: str, suffix: str) -> SequencePattern:
    """`eyes_L.%06d.png` -> `eyes_L.hole.%06d.png` (kind 'hole') or `eyes_L.disparity.%06d.exr`."""
    base = pattern.prefix.rstrip("._- ")
    return SequencePattern(pattern.folder, f"{base}.{kind}{pattern.prefix[len(base):] or '.'}", pattern.padding,
                           suffix)


def aov_files(pattern: SequencePattern, number: int) -> tuple[Path, Path]:
    """The hole-mask and disparity files beside a non-EXR frame `number`."""
    return (aov_pattern(pattern, "hole", ".png").path(number), aov_pattern(pattern, "disparity", ".exr").path(number))


def encode_frame(image: np.ndarray, suffix: str, bits: int, aov: tuple[np.ndarray, np.ndarray] | None = None) -> bytes:
    """One frame's file bytes for the suffix (see the module doc for depths); `aov` (hole (H, W) bool,
    disparity (H, W) float32) become the `hole` and `disparity` channels of an EXR."""
    from engine.opencv import cv2

    if suffix == ".exr":
        linear = linear_from_display(image)
        dtype = np.float32 if bits > 16 else np.float16
        channels = {c: linear[..., k].astype(dtype) for k, c in enumerate("RGB")}
        if aov is not None:
            channels["hole"] = aov[0].astype(np.float16)
            channels["disparity"] = aov[1].astype(np.float32)
        return encode_exr(channels, "zip")
    if suffix == ".dpx":
        return encode_dpx(image, bits)
    if image.dtype == np.uint16 and suffix not in (".png", ".tif", ".tiff"):
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    ok, data = cv2.imencode(suffix, np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise OutputError(f"OpenCV could not encode a {suffix} frame")
    return data.tobytes()


class SequenceWriter:
    """The VideoWriter interface (write / finish / landings / landed / abort) for a numbered sequence.

    Args:
        path: the output pattern (`out.%06d.exr`, `out.####.png`).
        width, height: frame size.
        first_number: the number of the first frame written (the source's own numbering).
        bits: the source's bit depth (10 keeps 10-bit DPX; 32 keeps float EXR).
        overwrite: replace existing frames at commit.
        tonemap: (transfer, mastering peak cd/m²) of a PQ/HLG source to tone-map to SDR (`--tonemap`,
            engine.media.tonemap); not for EXR, which keeps the source's signal.
    """

    def __init__(self, path: str | Path, *, width: int, height: int, first_number: int, bits: int = 16,
                 overwrite: bool = False, tonemap: tuple[str, float] | None = None) -> None:
        self.path = Path(path)
        pattern = sequence_output_pattern(self.path)
        if pattern is None:
            raise UsageError("not a sequence pattern", path=self.path, hint="Use e.g. out.%06d.exr")
        self.suffix = pattern.suffix.lower()
        if self.suffix not in SEQUENCE_EXTENSIONS:
            raise UsageError(f"{pattern.suffix or 'no extension'} is not an image-sequence format", path=self.path,
                             hint="Use .exr, .dpx, .tif, .png or .jpg")
        self.pattern, self.width, self.height = pattern, int(width), int(height)
        self.first_number, self.bits, self.overwrite = int(first_number), int(bits), overwrite
        self.tonemap = tonemap if self.suffix != ".exr" else None  # an EXR keeps the source's signal
        self.frames_written = 0
        self._targets: list[Path] = []
        folder = pattern.folder if str(pattern.folder) else Path(".")
        if not folder.is_dir():
            raise OutputError("output folder does not exist", path=folder, hint="Create it first")
        sweep_once(folder)
        self.staging: Path | None = folder / partial_name(pattern.stem, "")
        try:
            os.mkdir(self.staging)
        except OSError as exc:
            self.staging = None
            raise os_output_error(exc, self.path, "cannot create a folder in the output folder") from exc
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.staging, True)

    def write(self, image: np.ndarray, time: object = None,
              aov: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Write the next frame (number first_number + frames written); `time` is not used.

        Args:
            aov: (hole (H, W) bool, disparity (H, W) float32 px) of this eye, for compositing.
        """
        if self.staging is None:
            raise OutputError("writer is already closed", path=self.path)
        floats = image.dtype == np.float32 and self.suffix == ".exr"  # an EXR plate's own values (extended sRGB)
        if image.shape != (self.height, self.width, 3) or not (floats or image.dtype in (np.uint8, np.uint16)):
            raise OutputError(f"frame is {image.shape} {image.dtype}, expected ({self.height}, {self.width}, 3) "
                              "uint8/uint16 (float32 for EXR)", path=self.path)
        number = self.first_number + self.frames_written
        if self.tonemap is not None and image.dtype != np.float32:
            from engine.media.tonemap import tonemap_to_sdr

            image = tonemap_to_sdr(image, *self.tonemap)
        try:
            self._stage(self.pattern.path(number), encode_frame(image, self.suffix, self.bits, aov))
            if aov is not None and self.suffix != ".exr":
                hole_path, disparity_path = aov_files(self.pattern, number)
                self._stage(hole_path, encode_frame(np.repeat(aov[0][..., None].astype(np.uint8) * 255, 3, 2),
                                                    ".png", 8))
                self._stage(disparity_path, encode_exr({"disparity": aov[1].astype(np.float32)}, "zip"))
        except SpatialDreamerError:
            self.abort()
            raise
        except (OSError, av.FFmpegError) as exc:
            self.abort()
            raise os_output_error(exc, self.pattern.path(self.first_number + self.frames_written),
                                  "cannot write the frame") from exc
        self.frames_written += 1

    def finish(self) -> None:
        """Flush the staged frames to disk (fsync of the folder); nothing is in place yet."""
        if self.frames_written == 0:
            self.abort()
            raise OutputError("no frames were written", path=self.path, hint="Check the frame range")
        if self.staging is not None:
            with contextlib.suppress(OSError):
                fd = os.open(self.staging, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def _stage(self, target: Path, data: bytes) -> None:
        assert self.staging is not None
        with open(self.staging / target.name, "wb") as fh:
            fh.write(data)
        self._targets.append(target)

    def targets(self) -> list[Path]:
        """Every file staged so far (frames, and AOV files beside them)."""
        return list(self._targets)

    def landings(self) -> list[Landing]:
        """One Landing per staged file, for :func:`engine.fileio.land_together`."""
        self.finish()
        assert self.staging is not None
        return [Landing(self.staging / t.name, t, self.overwrite) for t in self._targets]

    def landed(self) -> None:
        """Every frame is in place: remove the (now empty) staging folder."""
        self.abort()

    def commit(self) -> None:
        from engine.fileio import land_together

        land_together(self.landings())
        self.landed()

    def abort(self) -> None:
        """Delete the staging folder and what it holds; existing targets are untouched. Idempotent."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self._finalizer.detach()
            self.staging = None


def all_landings(writers: Sequence) -> list[Landing]:
    """Every writer's landings (a video writer has one; a sequence writer one per frame)."""
    out: list[Landing] = []
    for writer in writers:
        out += writer.landings() if hasattr(writer, "landings") else [writer.landing()]
    return out


__all__ = ["SequenceWriter", "all_landings", "aov_files", "aov_pattern", "encode_dpx", "encode_frame",
           "eye_pattern_path", "frame_paths", "sequence_output_pattern"]
