"""Imported depth: ``--depth PATH --depth-kind relative|inverse|metric|disparity-px --depth-scale S``.

PATH may be:

- a single image: PNG (8/16-bit), PGM/PPM, TIFF (integer or float), PFM, EXR
  (scanline, uncompressed or ZIP/ZIPS read here; other compressions through
  FFmpeg, which reads Y/RGB channels only), JPEG/BMP/WebP;
- an image sequence: a folder of images (natural sort order) or a printf / hash
  pattern such as ``depth.%06d.png`` or ``depth.######.png`` (files in number order);
- a video (its first channel / luma, decoded by :mod:`engine.media`);
- ``.npy`` holding (H, W) or (N, H, W) (memory-mapped), or ``.npz`` (key
  ``depth`` or ``disparity``, else the first array).

Multi-channel images give their first channel in RGB order (R; for EXR: Z, else Y, else R).
``--depth-scale S`` divides *integer* data (Middlebury stores d × 4, × 8 or × 16);
float data is used as stored (a note says so when S != 1).

Resizing (when the media differs in size but not in aspect ratio, within 1 %):
``disparity-px`` and any map with unknown pixels (NaN; for ``metric`` also Z <= 0)
use nearest-neighbour (edges stay crisp and unknowns stay unknown, never blended
into neighbours), and
``disparity-px`` values are multiplied by the width ratio; other maps use area
(shrinking) or bilinear (enlarging) interpolation.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engine.errors import DepthInputError, InputError, UsageError
from engine.media.exr import depth_channel
from engine.media.exr import read_exr as read_exr_channels
from engine.opencv import cv2
from engine.vocabulary import DEPTH_KINDS

IMAGE_EXTENSIONS = frozenset({".png", ".pgm", ".ppm", ".pnm", ".tif", ".tiff", ".pfm", ".exr",
                              ".jpg", ".jpeg", ".bmp", ".webp"})
ARRAY_EXTENSIONS = frozenset({".npy", ".npz"})
_PATTERN = re.compile(r"%0?(\d*)d|#+")
_ASPECT_TOLERANCE = 0.01


# ---------------------------------------------------------------------------------------------- EXR


def read_exr(path: Path) -> np.ndarray:
    """One channel of a scanline EXR (Z, else Y, else R, else the first), as float32 (H, W).

    The native reader lives in :mod:`engine.media.exr` (uncompressed, ZIPS and ZIP); anything
    else raises :class:`engine.media.exr.ExrFormatError` (a ValueError).
    """
    return depth_channel(read_exr_channels(path))


# ------------------------------------------------------------------------------------------ readers


def _first_channel(image: np.ndarray) -> np.ndarray:
    """cv2 (H, W) / (H, W, C) BGR(A) -> (H, W): the R channel (all equal for grey saved as colour)."""
    if image.ndim == 3:
        return image[..., 2] if image.shape[2] >= 3 else image[..., 0]
    return image


def read_depth_image(path: Path) -> np.ndarray:
    """(H, W) raw values of a depth image file, dtype as stored (uint8/uint16/float32 ...)."""
    if not path.is_file():
        raise DepthInputError("depth file not found", path=path, hint="Check the --depth path")
    if path.suffix.lower() == ".exr":
        return _read_exr_any(path)
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DepthInputError("not a readable depth image (damaged or unsupported format)", path=path,
                              hint="Save depth as 16-bit PNG, float TIFF, PFM, EXR or .npy")
    return _first_channel(image)


def _read_exr_any(path: Path) -> np.ndarray:
    """EXR through the native reader, else FFmpeg (which reads Y/RGB channels, any compression)."""
    try:
        return read_exr(path)
    except ValueError as native_error:  # ExrFormatError: not read natively
        try:
            import av

            with av.open(str(path)) as container:
                frame = next(container.decode(video=0))
            array = frame.to_ndarray()
        except Exception as exc:  # any decoder failure is the same problem for the user
            raise DepthInputError(f"cannot read this EXR ({native_error}; FFmpeg: {exc})", path=path,
                                  hint="Save it as a scanline EXR with ZIP or no compression, "
                                       "or as float TIFF / PFM / .npy") from exc
        return array[0] if array.ndim == 3 and array.shape[0] in (1, 3, 4) else array


def _natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _pattern_files(path: Path) -> list[Path]:
    """Files matching a printf (%06d) or hash (######) pattern, in number order."""
    match = _PATTERN.search(path.name)
    if match is None:
        raise DepthInputError("not a frame-number pattern", path=path, hint="Use e.g. depth.%06d.png")
    width = len(match.group(0)) if match.group(0).startswith("#") else int(match.group(1) or 0)
    digits = rf"\d{{{width},}}" if width else r"\d+"
    head, tail = re.escape(path.name[:match.start()]), re.escape(path.name[match.end():])
    regex = re.compile(f"{head}({digits}){tail}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DepthInputError("the folder of this depth pattern does not exist", path=path,
                              hint="Check the --depth path")
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := regex.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def _folder_files(path: Path) -> list[Path]:
    files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS | {".npy"}]
    return sorted(files, key=lambda p: _natural_key(p.name))


class _Sequence:
    """One file per frame."""

    def __init__(self, path: Path, files: list[Path]) -> None:
        if not files:
            raise DepthInputError("no depth images found", path=path,
                                  hint="Give a folder of depth images or a pattern like depth.%06d.png")
        self.files = files
        first = self._load(files[0])
        self.count, self.size = len(files), (first.shape[1], first.shape[0])

    @staticmethod
    def _load(file: Path) -> np.ndarray:
        if file.suffix.lower() == ".npy":
            return _ArrayFile(file).raw(0)
        return read_depth_image(file)

    def raw(self, index: int) -> np.ndarray:
        image = self._load(self.files[index])
        if (image.shape[1], image.shape[0]) != self.size:
            raise DepthInputError(f"this depth image is {image.shape[1]}x{image.shape[0]}, the first one of "
                                  f"the sequence is {self.size[0]}x{self.size[1]}", path=self.files[index],
                                  hint="Give every depth map of a sequence the same size")
        return image

    def close(self) -> None:
        """Nothing held open."""


class _Single:
    """A single depth image: one frame."""

    def __init__(self, path: Path) -> None:
        self.image = read_depth_image(path)
        self.count, self.size = 1, (self.image.shape[1], self.image.shape[0])

    def raw(self, index: int) -> np.ndarray:
        return self.image

    def close(self) -> None:
        """Nothing held open."""


class _ArrayFile:
    """.npy (memory-mapped) or .npz: (H, W) or (N, H, W)."""

    def __init__(self, path: Path) -> None:
        try:
            if path.suffix.lower() == ".npz":
                with np.load(path, allow_pickle=False) as archive:
                    key = next((k for k in ("depth", "disparity") if k in archive.files), None)
                    if key is None and not archive.files:
                        raise ValueError("the archive holds no arrays")
                    array = archive[key or archive.files[0]]
            else:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            if "pickle" in str(exc):
                raise DepthInputError("this array file holds Python objects (a pickled array), not depth values; "
                                      "it is not loaded, for safety", path=path,
                                      hint="Save a numeric array: numpy.save(path, depth.astype('float32'))") from exc
            raise DepthInputError(f"cannot read this array file: {exc}", path=path,
                                  hint="Save depth with numpy.save as (H, W) or (N, H, W)") from exc
        if array.ndim == 4 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim not in (2, 3) or array.dtype.kind not in "iuf":
            raise DepthInputError(f"expected a numeric (H, W) or (N, H, W) array, got {array.dtype} "
                                  f"{tuple(array.shape)}", path=path, hint="Save one depth map per frame")
        self.array = array if array.ndim == 3 else array[None]
        self.count, self.size = self.array.shape[0], (self.array.shape[2], self.array.shape[1])

    def raw(self, index: int) -> np.ndarray:
        return np.asarray(self.array[index])

    def close(self) -> None:
        self.array = self.array[:0]


class _Video:
    """A depth video: the first (R) channel of each decoded RGB frame."""

    def __init__(self, path: Path) -> None:
        from engine.media import open_media

        try:
            self.reader = open_media(path)
        except InputError as exc:
            raise DepthInputError(f"cannot open this depth video: {exc.message}", path=path,
                                  hint="Give a video, an image, an image sequence or a .npy/.npz file"
                                  ) from exc
        video = self.reader.info.video
        self.count, self.size = len(self.reader), (video.width, video.height)

    def raw(self, index: int) -> np.ndarray:
        return self.reader.frame(index).image[..., 0]

    def close(self) -> None:
        self.reader.close()


def depth_source_files(path: str | Path) -> list[Path]:
    """Every file an import of `path` reads: a sequence's frames, else the file itself (none if missing)."""
    path = Path(path)
    try:
        if _PATTERN.search(path.name) and not path.exists():
            return _pattern_files(path)
        if path.is_dir():
            return _folder_files(path)
    except (DepthInputError, OSError):
        return []
    return [path] if path.exists() else []


def _open_source(path: Path) -> _Sequence | _Single | _ArrayFile | _Video:
    if _PATTERN.search(path.name) and not path.exists():
        return _Sequence(path, _pattern_files(path))
    if any(c in path.name for c in "*?[") and not path.exists():
        raise DepthInputError("wildcard patterns are not read (the shell did not expand it, or nothing matched)",
                              path=path, hint="Use a frame-number pattern like depth.%06d.png, or the folder")
    if path.is_dir():
        return _Sequence(path, _folder_files(path))
    if not path.exists():
        raise DepthInputError("depth file not found", path=path, hint="Check the --depth path")
    suffix = path.suffix.lower()
    if suffix in ARRAY_EXTENSIONS:
        return _ArrayFile(path)
    if suffix in IMAGE_EXTENSIONS:
        return _Single(path)
    return _Video(path)


# ------------------------------------------------------------------------------------------ public


class ImportedDepth:
    """Depth maps supplied by the user, one per media frame (or one for a still).

    Attributes:
        path: the ``--depth`` argument.
        kind: one of :data:`engine.depth.protocol.DEPTH_KINDS`.
        scale: divides integer data.
        frame_count: number of depth maps.
        size: (width, height) of the depth maps.
        notes: things a front end should tell the user (resizing, an ignored scale).
    """

    def __init__(self, path: str | Path, kind: str, scale: float = 1.0) -> None:
        if kind not in DEPTH_KINDS:
            raise UsageError(f"unknown --depth-kind '{kind}'",
                             hint=f"choose one of: {', '.join(DEPTH_KINDS)}")
        if not (np.isfinite(scale) and scale > 0):
            raise UsageError(f"--depth-scale must be a positive number, got {scale}")
        self.path, self.kind, self.scale = Path(path), kind, float(scale)
        self._source = _open_source(self.path)
        self.frame_count: int = self._source.count
        self.size: tuple[int, int] = self._source.size
        self.notes: list[str] = []
        self._scale_noted = False

    def __enter__(self) -> ImportedDepth:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release open files."""
        self._source.close()

    def validate(self, media_path: str | Path, frame_count: int, width: int, height: int) -> None:
        """Check the depth fits the media; raise DepthInputError naming the depth file when it does not.

        Same size: fine. Same aspect ratio within 1 %: maps are resized by :meth:`read`
        (noted in :attr:`notes`). Otherwise, or when the frame counts differ, an error.
        """
        media = Path(media_path).name
        if self.frame_count != frame_count:
            s = "" if self.frame_count == 1 else "s"
            raise DepthInputError(
                f"depth has {self.frame_count} frame{s}, media has {frame_count} ({media})",
                path=self.path, hint="Give one depth map per frame, or a single image for a still")
        w, h = self.size
        if (w, h) == (width, height):
            return
        if abs((w / h) / (width / height) - 1.0) > _ASPECT_TOLERANCE:
            raise DepthInputError(f"depth is {w}x{h} but the media ({media}) is {width}x{height}, "
                                  "a different aspect ratio", path=self.path,
                                  hint=f"Export the depth at {width}x{height} (or the same aspect ratio)")
        note = f"depth {w}x{h} resized to the media's {width}x{height}"
        if self.kind == "disparity-px":
            note += f" (disparities scaled by {width / w:.4g})"
        if note not in self.notes:
            self.notes.append(note)

    def read(self, index: int, width: int, height: int) -> np.ndarray:
        """Depth map `index` as (height, width) float32 raw values of :attr:`kind`.

        Integer data is divided by :attr:`scale`. Non-finite values are NaN; for
        ``disparity-px`` 0 is unknown too and becomes NaN. Resized to (width, height)
        when needed (see the module notes).
        """
        if not 0 <= index < self.frame_count:
            raise DepthInputError(f"depth frame {index} is out of range (0..{self.frame_count - 1})",
                                  path=self.path, hint="Give one depth map per frame")
        raw = self._source.raw(index)
        values = self._to_float(raw)
        if self.kind == "disparity-px":
            values[values == 0] = np.nan
        if not np.isfinite(values).any():
            unknown = "NaN, infinite or 0" if self.kind == "disparity-px" else "NaN or infinite"
            raise DepthInputError(f"depth frame {index} holds no usable value (every pixel is {unknown}): "
                                  "nothing would be shifted", path=self.path,
                                  hint="Check the depth export; unknown pixels are fine, a whole unknown map is not")
        return self._resize(values, width, height)

    def _to_float(self, raw: np.ndarray) -> np.ndarray:
        if raw.dtype.kind in "iub":
            return (raw.astype(np.float32) / np.float32(self.scale)).astype(np.float32)
        if self.scale != 1.0 and not self._scale_noted:
            self.notes.append(f"--depth-scale {self.scale:g} ignored: {self.path.name} holds float values")
            self._scale_noted = True
        values = np.array(raw, dtype=np.float32)
        values[~np.isfinite(values)] = np.nan
        return values

    def _resize(self, values: np.ndarray, width: int, height: int) -> np.ndarray:
        h, w = values.shape
        if (w, h) == (width, height):
            return values
        unknown = np.isnan(values) | (values <= 0) if self.kind == "metric" else np.isnan(values)
        if self.kind == "disparity-px" or unknown.any():
            interpolation = cv2.INTER_NEAREST
        else:
            interpolation = cv2.INTER_AREA if width < w else cv2.INTER_LINEAR
        out = cv2.resize(values, (width, height), interpolation=interpolation)
        if self.kind == "disparity-px":
            out *= np.float32(width / w)
        return out.astype(np.float32)
