"""Numbered image sequences (EXR, DPX, TIFF, PNG plates): patterns, indexing, gaps, frame decoding.

A sequence is named by a printf pattern (``plate.%06d.exr``, ``plate.%d.png``), a ``#`` pattern
(``plate.####.dpx``: one ``#`` per digit) or a folder whose files are all stills of one numbered
run. Indexing lists the folder once (``os.scandir``: 100,000 names in well under a second) and
keeps only the numbers; frames are decoded one file at a time, so memory is flat in length.

Frames are 0-based inside the engine; ``ImageSequence.first`` is the source's own first number
(1001 for a VFX plate), used to number output sequences and depth exports and as the start
timecode. A gap in the numbering is an error unless ``fill_gaps='hold'`` (the frame before the gap
is repeated).

Decoding (all to (H, W, 3) RGB, uint8 or uint16 on the full 0..65535 scale):
- PNG/TIFF/JPEG through OpenCV (8/16-bit), TIFF falling back to FFmpeg for what OpenCV refuses;
- DPX through FFmpeg (8/10/12/16-bit, scaled to 16 bits);
- EXR (half/float, linear light) through the OpenEXR package when it is installed, else our own
  reader (:mod:`engine.media.exr`) and then FFmpeg's; the linear values are sRGB-encoded and clipped to
  [0, 1] for analysis (depth, shot detection and bars see a display-referred picture). An EXR output of an
  EXR plate renders from the stored values themselves (:func:`read_frame_scene`: the sRGB curve extended
  above 1 and below 0, :func:`srgb_encode_extended`) and :func:`linear_from_display` decodes the eyes back
  to linear light, so highlights above 1.0 and the plate's transfer are kept.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError, UsageError

SEQUENCE_EXTENSIONS = frozenset({".exr", ".dpx", ".png", ".tif", ".tiff", ".jpg", ".jpeg"})
"""Lower-case suffixes of the stills a sequence may be made of."""

FILL_GAPS = ("fail", "hold")
_PRINTF = re.compile(r"%(0?\d*)d")
_HASHES = re.compile(r"#+")
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<digits>\d+)(?P<suffix>\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class SequencePattern:
    """`folder/prefix<number>suffix`, the number zero-padded to `padding` digits (0 = not padded)."""

    folder: Path
    prefix: str
    padding: int
    suffix: str

    def name(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.padding}d}{self.suffix}" if self.padding else \
            f"{self.prefix}{number}{self.suffix}"

    def path(self, number: int) -> Path:
        return self.folder / self.name(number)

    @property
    def printf(self) -> str:
        """The pattern as printf text (`plate.%06d.exr`), for messages."""
        token = f"%0{self.padding}d" if self.padding else "%d"
        return str(self.folder / f"{self.prefix}{token}{self.suffix}")

    @property
    def stem(self) -> str:
        """A name for derived files: the prefix without trailing separators (`plate.` -> `plate`)."""
        return self.prefix.rstrip("._- ") or Path(self.suffix).stem or "sequence"

    def number_of(self, name: str) -> int | None:
        """The frame number a file name carries under this pattern, or None."""
        if not (name.startswith(self.prefix) and name.endswith(self.suffix)):
            return None
        digits = name[len(self.prefix):len(name) - len(self.suffix)]
        if not digits.isdigit() or not digits.isascii():
            return None
        if self.padding and len(digits) < self.padding:
            return None
        if len(digits) > max(self.padding, 1) and digits[0] == "0":
            return None  # '0001' is not frame 1 of an unpadded or 3-digit pattern
        return int(digits)


def parse_pattern(path: str | Path) -> SequencePattern | None:
    """The pattern in a path's file name (`%06d`, `%d` or `####`), or None when it has none.

    Raises:
        UsageError: more than one number placeholder in the name.
    """
    path = Path(path)
    name = path.name
    tokens = list(_PRINTF.finditer(name)) + list(_HASHES.finditer(name))
    if not tokens:
        return None
    if len(tokens) > 1:
        raise UsageError(f"{name!r} has more than one frame-number placeholder", path=path,
                         hint="Use one, e.g. plate.%06d.exr or plate.####.exr")
    token = tokens[0]
    text = token.group(0)
    padding = len(text) if text.startswith("#") else int(token.group(1) or 0)
    return SequencePattern(path.parent, name[:token.start()], padding, name[token.end():])


def is_sequence_path(path: str | Path) -> bool:
    """True for a pattern (`%06d`, `####`) or an existing folder (read as a sequence or a batch)."""
    path = Path(path)
    return bool(_PRINTF.search(path.name) or _HASHES.search(path.name)) or path.is_dir()


def source_stem(path: str | Path) -> str:
    """A stem for files derived from a source or output: `shot.mov` -> `shot`, `plate.%06d.exr` -> `plate`."""
    path = Path(path)
    try:
        pattern = parse_pattern(path)
    except UsageError:
        pattern = None
    if pattern is not None:
        return pattern.stem
    return path.name if path.is_dir() else path.stem


def _visible_files(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if not e.name.startswith(".") and e.is_file()]
    except FileNotFoundError as exc:
        raise MediaError("folder not found", path=folder, hint="Check the path") from exc
    except OSError as exc:
        raise MediaError(f"cannot list the folder: {exc.strerror}", path=folder,
                         hint="Check its permissions") from exc


def folder_run(folder: Path) -> SequencePattern | None:
    """The pattern of a folder whose visible files are all stills of one numbered run (at least two),
    else None (a folder of clips, mixed files or several runs: a batch)."""
    names = _visible_files(folder)
    if len(names) < 2:
        return None
    groups: set[tuple[str, str]] = set()
    lengths: set[int] = set()
    for name in names:
        match = _NUMBERED.match(name)
        if match is None or match["suffix"].lower() not in SEQUENCE_EXTENSIONS:
            return None
        groups.add((match["prefix"], match["suffix"]))
        lengths.add(len(match["digits"]))
        if len(groups) > 1:
            return None
    (prefix, suffix), = groups
    padding = lengths.pop() if len(lengths) == 1 else 0
    return SequencePattern(folder, prefix, padding, suffix)


def format_ranges(numbers: np.ndarray, limit: int = 5) -> str:
    """`1005-1007, 1010` for the sorted numbers given (at most `limit` runs, then '...')."""
    if numbers.size == 0:
        return ""
    breaks = np.flatnonzero(np.diff(numbers) != 1)
    starts = np.concatenate(([numbers[0]], numbers[breaks + 1]))
    ends = np.concatenate((numbers[breaks], [numbers[-1]]))
    runs = [f"{a}" if a == b else f"{a}-{b}" for a, b in zip(starts[:limit], ends[:limit], strict=True)]
    return ", ".join(runs) + (", ..." if len(starts) > limit else "")


@dataclass(frozen=True)
class ImageSequence:
    """An indexed sequence.

    Attributes:
        pattern: how frame numbers map to files.
        numbers: (N,) int64 sorted numbers of the files present.
        first, last: the first and last number (frame index i is number first + i).
        held: (M,) int64 numbers missing from the run, each shown as the frame before it.
    """

    pattern: SequencePattern
    numbers: np.ndarray
    first: int
    last: int
    held: np.ndarray

    def __len__(self) -> int:
        return self.last - self.first + 1

    def file(self, index: int) -> Path:
        """The file shown as frame `index` (0-based); for a held gap, the file before it."""
        number = self.first + int(index)
        k = int(np.searchsorted(self.numbers, number, side="right")) - 1
        return self.pattern.path(int(self.numbers[k]))

    def files(self) -> list[Path]:
        """Every file the sequence reads (the job's inputs)."""
        return [self.pattern.path(int(n)) for n in self.numbers]


def sequence_pattern(path: str | Path) -> SequencePattern:
    """The pattern of a sequence path: its placeholder, or the numbered run of a folder.

    Raises:
        MediaError: a folder that is not one numbered run of stills.
    """
    path = Path(path)
    pattern = parse_pattern(path)
    if pattern is not None:
        return pattern
    run = folder_run(path)
    if run is None:
        raise MediaError("this folder is not an image sequence (its files are not stills of one numbered run)",
                         path=path, hint="Give a pattern such as plate.%06d.exr, or convert it as a batch")
    return run


def scan_sequence(path: str | Path, fill_gaps: str = "fail") -> ImageSequence:
    """Index a sequence (one listing of its folder).

    Raises:
        MediaError: nothing matches, a folder that is not one run, or gaps while `fill_gaps` is 'fail'.
    """
    if fill_gaps not in FILL_GAPS:
        raise UsageError(f"unknown --fill-gaps {fill_gaps!r}", hint="Use fail or hold")
    pattern = sequence_pattern(path)
    if pattern.suffix.lower() not in SEQUENCE_EXTENSIONS:
        raise MediaError(f"{pattern.suffix or 'no extension'} is not an image format a sequence can be made of",
                         path=pattern.printf, hint="Use EXR, DPX, TIFF or PNG frames")
    found = [n for n in map(pattern.number_of, _visible_files(pattern.folder)) if n is not None]
    if not found:
        raise MediaError("the pattern matches no file", path=pattern.printf,
                         hint="Check the folder, the name and the number of digits (plate.%06d.exr = plate.000001.exr)")
    numbers = np.unique(np.asarray(found, np.int64))
    first, last = int(numbers[0]), int(numbers[-1])
    held = np.setdiff1d(np.arange(first, last + 1, dtype=np.int64), numbers, assume_unique=True)
    if held.size and fill_gaps == "fail":
        raise MediaError(f"{held.size} frame(s) missing from the sequence: {format_ranges(held)}",
                         path=pattern.printf,
                         hint="Render the missing frames, or pass --fill-gaps hold to repeat the frame before each gap")
    return ImageSequence(pattern, numbers, first, last, held)


# ------------------------------------------------------------------------------------------ decode


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] -> sRGB-encoded [0, 1] (IEC 61966-2-1), float32."""
    x = np.clip(np.nan_to_num(linear.astype(np.float32, copy=False)), 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded [0, 1] -> linear light, float32 (inverse of :func:`srgb_encode` on [0, 1])."""
    v = encoded.astype(np.float32, copy=False)
    return np.where(v <= 0.04045, v / 12.92, np.power((v + 0.055) / 1.055, 2.4)).astype(np.float32)


HALF_MAX = 65504.0
"""The largest finite half float: +-inf in a plate is held there (the encoding needs finite values)."""


def srgb_encode_extended(linear: np.ndarray) -> np.ndarray:
    """Scene-linear light -> sRGB-encoded float32 without clipping: the sRGB curve on [0, 1], continued
    above 1 (1.055 x^(1/2.4) - 0.055) and mirrored below 0 (scRGB-style extended sRGB), so a linear EXR
    plate's highlights and negative (out-of-gamut) values survive the render and come back exactly
    through :func:`srgb_decode_extended`. NaN -> 0; +-inf -> +-HALF_MAX.

    Args:
        linear: any shape, float.
    Returns:
        the same shape, float32 (equal to :func:`srgb_encode` on [0, 1]).
    """
    x = np.nan_to_num(np.asarray(linear, np.float32), nan=0.0, posinf=HALF_MAX, neginf=-HALF_MAX)
    a = np.abs(x)
    enc = np.where(a <= 0.0031308, a * 12.92, 1.055 * np.power(a, 1 / 2.4) - 0.055)
    return np.copysign(enc, x).astype(np.float32)


def srgb_decode_extended(encoded: np.ndarray) -> np.ndarray:
    """Inverse of :func:`srgb_encode_extended`: sRGB-encoded float32 (any range) -> scene-linear float32."""
    v = np.asarray(encoded, np.float32)
    a = np.abs(v)
    lin = np.where(a <= 0.04045, a / 12.92, np.power((a + 0.055) / 1.055, 2.4))
    return np.copysign(lin, v).astype(np.float32)


def linear_from_display(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint16/uint8 display-referred (sRGB) -> float32 linear light, for EXR outputs; a float32
    image is an extended sRGB encoding of scene values (:func:`srgb_encode_extended`) and is decoded as is."""
    if image.dtype == np.float32:
        return srgb_decode_extended(image)
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    return srgb_decode(image.astype(np.float32) / scale)


def display_from_linear(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float linear -> (H, W, 3) uint16 sRGB-encoded (clipped to [0, 1])."""
    return (srgb_encode(rgb) * 65535.0 + 0.5).astype(np.uint16)


def _exr_channels_openexr(path: Path) -> dict[str, np.ndarray] | None:
    """Every channel through the OpenEXR package (PIZ, DWA, tiled ...), or None when it is not installed."""
    try:
        import OpenEXR
    except ImportError:
        return None
    try:
        with OpenEXR.File(str(path), separate_channels=True) as exr:
            return {name: np.asarray(ch.pixels) for name, ch in exr.channels().items()}
    except Exception as exc:  # the binding raises bare RuntimeError/Exception for damaged files
        raise MediaError(f"not a readable EXR ({exc})", path=path, hint="Re-export the frame") from exc


def _exr_channels_native(path: Path) -> dict[str, np.ndarray] | None:
    from engine.media.exr import ExrFormatError, read_exr

    try:
        return read_exr(path)
    except ExrFormatError:
        return None  # tiled / PIZ / DWA ...: FFmpeg's decoder below
    except OSError as exc:
        raise MediaError(f"cannot read: {exc.strerror}", path=path, hint="Check the file's permissions") from exc


def exr_rgb(channels: dict[str, np.ndarray], path: Path) -> np.ndarray:
    """(H, W, 3) float32 linear RGB from EXR channels (R, G, B; or Y as grey).

    Raises:
        MediaError: no R/G/B (or Y) channels, naming the ones found.
    """
    if all(c in channels for c in "RGB"):
        return np.stack([np.asarray(channels[c], np.float32) for c in "RGB"], axis=-1)
    if "Y" in channels:
        return np.repeat(np.asarray(channels["Y"], np.float32)[..., None], 3, axis=2)
    found = ", ".join(sorted(channels)) or "none"
    raise MediaError(f"the EXR has no RGB channels (found: {found})", path=path,
                     hint="Export the beauty pass with R, G and B channels")


def _ffmpeg_decoded(path: Path) -> tuple[np.ndarray, int, bool]:
    """One image through FFmpeg (DPX, TIFF, EXR): (H, W, 3) RGB, its bit depth and whether it is float
    (then float32 as stored, linear for EXR), else uint8/uint16."""
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration, OSError) as exc:
        raise MediaError("not a readable image (damaged or unknown format)", path=path,
                         hint="Re-export the frame") from exc
    fmt = frame.format
    bits = max(c.bits for c in fmt.components)
    if fmt.name.startswith(("gbrpf", "gbrapf", "rgbf", "rgbaf", "grayf")):
        return frame.to_ndarray(format="gbrpf32le"), 16 if bits <= 16 else 32, True  # (H, W, 3) RGB
    if bits > 8:
        return frame.to_ndarray(format="rgb48le"), bits, False
    return frame.to_ndarray(format="rgb24"), 8, False


def _ffmpeg_image(path: Path) -> tuple[np.ndarray, int]:
    """(H, W, 3) uint8/uint16 RGB and the bit depth of one image through FFmpeg (float: sRGB-encoded, clipped)."""
    image, bits, is_float = _ffmpeg_decoded(path)
    return (display_from_linear(image) if is_float else image), bits


def read_exr_rgb(path: Path) -> tuple[np.ndarray, int]:
    """(H, W, 3) float32 linear RGB and the stored bit depth (16 half, 32 float) of an EXR frame."""
    channels = _exr_channels_openexr(path)
    if channels is None:
        channels = _exr_channels_native(path)
    if channels is None:
        image, bits, is_float = _ffmpeg_decoded(path)
        return (image.astype(np.float32) if is_float else linear_from_display(image)), bits
    rgb = exr_rgb(channels, path)
    bits = 16 if any(np.asarray(channels[c]).dtype == np.float16 for c in channels if c in "RGBY") else 32
    return rgb, bits


def read_frame_scene(path: Path) -> tuple[np.ndarray, np.ndarray | None, int]:
    """:func:`read_frame` plus, for an EXR, its linear values as stored ((H, W, 3) float32, unclipped;
    None for other formats): what an EXR output of an EXR plate renders from."""
    if path.suffix.lower() != ".exr" or not path.is_file():
        image, bits = read_frame(path)
        return image, None, bits
    rgb, bits = read_exr_rgb(path)
    return display_from_linear(rgb), rgb, bits


def read_frame(path: Path) -> tuple[np.ndarray, int]:
    """Decode one sequence frame: (H, W, 3) uint8/uint16 RGB and the file's bit depth (32 = float EXR).

    Raises:
        MediaError: missing, unreadable or undecodable file, or an EXR without RGB.
    """
    from engine.media.stills import read_still

    if not path.is_file():
        raise MediaError("frame file not found (removed during the job?)", path=path, hint="Check the sequence")
    suffix = path.suffix.lower()
    if suffix == ".exr":
        rgb, bits = read_exr_rgb(path)
        return display_from_linear(rgb), bits
    if suffix == ".dpx":
        return _ffmpeg_image(path)
    try:
        image = read_still(path)
    except MediaError:
        if suffix not in (".tif", ".tiff"):
            raise
        return _ffmpeg_image(path)  # 10/12-bit, float and packed TIFFs OpenCV does not take
    return image, 16 if image.dtype == np.uint16 else 8


__all__ = ["FILL_GAPS", "HALF_MAX", "SEQUENCE_EXTENSIONS", "ImageSequence", "SequencePattern", "display_from_linear",
           "exr_rgb", "folder_run", "format_ranges", "is_sequence_path", "linear_from_display", "parse_pattern",
           "read_frame", "read_frame_scene", "scan_sequence", "sequence_pattern", "source_stem", "srgb_decode",
           "srgb_decode_extended", "srgb_encode", "srgb_encode_extended"]


# ------------------------------------------------------------------------------------------- probe


def sequence_info(sequence: ImageSequence, fps, first_image: np.ndarray, bits: int):
    """MediaInfo of a sequence: frame i at i / fps, the first number as start_number and timecode.

    Args:
        fps: Fraction, > 0 (from --fps: a sequence has no rate of its own).
        first_image: the decoded first frame (its size is the sequence's).
        bits: the first frame's stored bit depth (32 = float EXR).
    """
    from engine.document.timecode import frames_to_timecode
    from engine.media.info import MediaInfo, VideoStreamInfo

    height, width = first_image.shape[:2]
    suffix = sequence.pattern.suffix.lower()
    codec = {".tif": "tiff", ".jpg": "mjpeg", ".jpeg": "mjpeg"}.get(suffix, suffix.lstrip("."))
    notes = []
    if sequence.held.size:
        notes.append(f"{sequence.held.size} missing frame(s) held from the frame before: "
                     f"{format_ranges(sequence.held)}")
    if codec == "exr":
        from engine.media.stills import EXR_NOTE

        notes.append(EXR_NOTE)
    video = VideoStreamInfo(
        index=0, codec=codec, width=width, height=height, coded_width=width, coded_height=height,
        fps=fps, time_base=1 / fps, is_vfr=False, frame_count=len(sequence),
        duration_s=float(len(sequence) / fps), rotation=0,
        pix_fmt="rgb48le" if first_image.dtype == np.uint16 else "rgb24", bit_depth=bits,
        color_primaries=None, color_trc=None, colorspace=None,
        color_range=None, start_timecode=frames_to_timecode(sequence.first, fps), start_number=sequence.first)
    return MediaInfo(path=sequence.pattern.printf, container="image2", is_still=False, video=video, audio=(),
                     dropped_streams=(), duration_s=video.duration_s, notes=tuple(notes))
