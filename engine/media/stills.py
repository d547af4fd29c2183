"""Still images in and out: PNG, JPEG, TIFF, BMP, WebP (OpenCV codecs) and single OpenEXR frames.

Read: (H, W, 3) RGB, uint8, or uint16 for 16-bit PNG/TIFF; grey is expanded to three channels,
alpha is dropped, EXIF orientation is applied (OpenCV does it while decoding), float TIFFs are
taken as [0, 1] and stored as uint16. Write: by extension, 16-bit PNG/TIFF for uint16 input,
atomically (temp file + rename). JPEG/BMP/WebP are 8-bit formats: uint16 input is rounded to 8 bits.

EXR (one file, not a numbered sequence) is linear light, as in a sequence (engine.media.sequence):
:func:`read_still` gives its display picture (sRGB-encoded, clipped, uint16) and
:func:`read_exr_still` the stored values too ((H, W, 3) float32, unclipped), which an EXR output
renders from. :func:`write_still` writes an EXR linear: a uint8/uint16 display picture decoded from
sRGB, a float32 image (extended sRGB of scene values) without clipping, so values above 1.0 and
below 0 come back as they were; half or float by `exr_bits`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.errors import MediaError, OutputError
from engine.media.atomic import write_bytes_atomic
from engine.media.info import MediaInfo, VideoStreamInfo
from engine.media.still_header import check_declared_size

STILL_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".exr"})
"""Lower-case file suffixes (with the dot, as Path.suffix) handled as still images."""

_SIXTEEN_BIT = frozenset({".png", ".tif", ".tiff"})
_CONTAINER_NAMES = {".jpg": "jpeg", ".jpeg": "jpeg", ".tif": "tiff", ".tiff": "tiff"}
EXR_NOTE = ("EXR frames are linear light: depth and shot detection see them sRGB-encoded and clipped to [0, 1]; "
            "an EXR output renders from the plate's own values (above 1.0 and below 0 kept, half or float as "
            "stored) and is written back linear; a video or PNG/TIFF/DPX output is display-referred sRGB, "
            "clipped to [0, 1]")


def is_still_path(path: str | Path) -> bool:
    """True when the suffix names a still-image format."""
    return Path(path).suffix.lower() in STILL_EXTENSIONS


def read_still(path: str | Path) -> np.ndarray:
    """Decode a still image.

    Returns:
        (H, W, 3) RGB, uint8 or uint16 (16-bit PNG/TIFF, full 0..65535 scale).
    Raises:
        MediaError: missing, unreadable or undecodable file.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError("file not found", path=path, hint="Check the path")
    if path.suffix.lower() == ".exr":
        return read_exr_still(path)[0]
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise MediaError(
            f"cannot read: {exc.strerror}", path=path, hint="Check the file's permissions"
        ) from exc
    check_declared_size(data[:65536].tobytes(), path)  # before decoding: a header may claim gigapixels
    # ANYDEPTH keeps 16 bits, COLOR gives 3 channels and applies EXIF orientation. (OpenCV 5's
    # IMREAD_COLOR_RGB mis-decodes 16-bit TIFF, so decode BGR and swap.)
    from engine.opencv import cv2  # here, not at import: `probe` of a video never needs OpenCV (start-up, issue #16)

    try:
        image = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as exc:  # OpenCV's own limits (e.g. CV_IO_MAX_IMAGE_PIXELS) and decoder failures
        raise MediaError("the image cannot be decoded (damaged, or larger than OpenCV allows)", path=path,
                         hint="Re-export it as PNG, JPEG or TIFF at a normal size") from exc
    if image is None:
        raise MediaError(
            "not a readable image (damaged or unknown format)",
            path=path,
            hint="Re-export it as PNG, JPEG or TIFF",
        )
    return _to_rgb_dtype(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), path)


def read_exr_still(path: str | Path) -> tuple[np.ndarray, np.ndarray, int]:
    """One EXR file: (display picture (H, W, 3) uint16 sRGB-encoded and clipped, stored linear values
    (H, W, 3) float32 unclipped, stored bit depth 16 (half) or 32 (float)).

    Raises:
        MediaError: missing, unreadable or damaged file, or one without RGB (or Y) channels.
    """
    from engine.media.sequence import display_from_linear, read_exr_rgb

    path = Path(path)
    if not path.is_file():
        raise MediaError("file not found", path=path, hint="Check the path")
    rgb, bits = read_exr_rgb(path)
    return display_from_linear(rgb), rgb, bits


def _to_rgb_dtype(image: np.ndarray, path: Path) -> np.ndarray:
    """(H, W, 3) any dtype -> uint8/uint16 with the same look."""
    if image.dtype in (np.uint8, np.uint16):
        return image
    if image.dtype.kind == "f":
        return (np.clip(np.nan_to_num(image), 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    raise MediaError(f"unsupported sample type {image.dtype}", path=path, hint="Re-export as 8- or 16-bit")


def write_still(path: str | Path, image: np.ndarray, *, overwrite: bool = False, exr_bits: int = 16) -> None:
    """Encode `image` by the path's extension and write it atomically.

    Args:
        path: target file (.png, .jpg/.jpeg, .tif/.tiff, .bmp, .webp, .exr).
        image: (H, W, 3) RGB uint8, or uint16 (kept 16-bit in PNG/TIFF, rounded to 8 bits otherwise);
            for .exr also float32, the extended sRGB encoding of scene values (engine.jobs.frame.FLOAT_IMAGE).
        overwrite: replace an existing file.
        exr_bits: 16 (half) or 32 (float) channels of an EXR.
    Raises:
        OutputError: unknown extension, bad image, target exists, unwritable folder, disk full.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in STILL_EXTENSIONS:
        raise OutputError(
            f"unknown still-image extension {suffix or '(none)'!r}",
            path=path,
            hint="Use .png, .jpg, .tif, .bmp or .webp",
        )
    if suffix == ".exr" and image.ndim == 3 and image.shape[2] == 3:
        write_bytes_atomic(path, exr_still_bytes(image, exr_bits), overwrite)
        return
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype not in (np.uint8, np.uint16):
        raise OutputError(
            f"expected an (H, W, 3) uint8/uint16 image, got {image.shape} {image.dtype}", path=path
        )
    if image.dtype == np.uint16 and suffix not in _SIXTEEN_BIT:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    from engine.opencv import cv2  # see read_still

    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise OutputError(f"OpenCV could not encode a {suffix} image", path=path)
    write_bytes_atomic(path, encoded.tobytes(), overwrite)


def exr_still_bytes(image: np.ndarray, bits: int = 16) -> bytes:
    """(H, W, 3) uint8/uint16 display picture or float32 extended sRGB -> EXR bytes (linear RGB, ZIP),
    HALF channels for `bits` 16, FLOAT for 32."""
    from engine.media.exr import encode_exr
    from engine.media.sequence import linear_from_display

    if image.dtype not in (np.uint8, np.uint16, np.float32):
        raise OutputError(f"expected an (H, W, 3) uint8/uint16/float32 image, got {image.shape} {image.dtype}")
    linear = linear_from_display(image)
    dtype = np.float32 if bits > 16 else np.float16
    return encode_exr({c: linear[..., k].astype(dtype) for k, c in enumerate("RGB")}, "zip")


def still_info(path: str | Path, image: np.ndarray | None = None, bits: int | None = None) -> MediaInfo:
    """MediaInfo of a still: a one-frame video at 1 fps, 1 s long (an EXR: codec 'exr', transfer
    'linear', its stored bit depth `bits`, read from the file when not given)."""
    path = Path(path)
    exr = path.suffix.lower() == ".exr"
    if exr and (image is None or bits is None):
        image, _, bits = read_exr_still(path)
    if image is None:
        image = read_still(path)
    height, width = image.shape[:2]
    deep = image.dtype == np.uint16
    container = _CONTAINER_NAMES.get(path.suffix.lower(), path.suffix.lower().lstrip("."))
    video = VideoStreamInfo(
        index=0,
        codec=container,
        width=width,
        height=height,
        coded_width=width,
        coded_height=height,
        fps=Fraction(1),
        time_base=Fraction(1),
        is_vfr=False,
        frame_count=1,
        duration_s=1.0,
        rotation=0,
        pix_fmt="rgb48le" if deep else "rgb24",
        bit_depth=bits if exr else 16 if deep else 8,
        color_primaries=None,
        color_trc="linear" if exr else None,
        colorspace=None,
        color_range=None,
        start_timecode=None,
    )
    return MediaInfo(
        path=str(path),
        container=container,
        is_still=True,
        video=video,
        audio=(),
        dropped_streams=(),
        duration_s=1.0,
        notes=(EXR_NOTE,) if exr else (),
    )
