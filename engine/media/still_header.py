"""Declared sizes of still images, read from their headers before any pixel is decoded.

A header can claim any size (a 100 KB PNG may say 100000 x 100000); decoding it would try to allocate
tens of gigabytes. :func:`declared_size` reads the size PNG, JPEG, BMP, WebP and TIFF files state;
:func:`check_declared_size` refuses one over :data:`MAX_STILL_PIXELS` with the size and the limit.
"""

from __future__ import annotations

import struct
from pathlib import Path

from engine.errors import MediaError

MAX_STILL_SIDE = 32_768
MAX_STILL_PIXELS = 16_384 * 16_384
"""268 Mpixel (a 16K square): beyond any plate we render, and ~1.6 GB as 16-bit RGB."""

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _png(head: bytes) -> tuple[int, int] | None:
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    return None


def _bmp(head: bytes) -> tuple[int, int] | None:
    if head[:2] == b"BM" and len(head) >= 26:
        width, height = struct.unpack("<ii", head[18:26])
        return abs(width), abs(height)
    return None


def _webp(head: bytes) -> tuple[int, int] | None:
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP" or len(head) < 30:
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    """The frame size of the first SOF marker (segments walked from the start)."""
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 9 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        pos += 2 + length
    return None


def _tiff(data: bytes) -> tuple[int, int] | None:
    """ImageWidth (256) and ImageLength (257) of the first IFD."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 8 or struct.unpack(order + "H", data[2:4])[0] != 42:
        return None
    ifd = struct.unpack(order + "I", data[4:8])[0]
    if ifd + 2 > len(data):
        return None
    count = struct.unpack(order + "H", data[ifd:ifd + 2])[0]
    size: dict[int, int] = {}
    for k in range(count):
        entry = data[ifd + 2 + 12 * k: ifd + 14 + 12 * k]
        if len(entry) < 12:
            break
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (256, 257):
            size[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), entry[8:10] if kind == 3 else entry[8:12])[0]
    return (size[256], size[257]) if len(size) == 2 else None


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) the file's header states, or None when the format or header is not recognised."""
    for reader in (_png, _bmp, _webp, _jpeg, _tiff):
        size = reader(data)
        if size is not None:
            return size
    return None


def check_declared_size(data: bytes, path: Path) -> None:
    """MediaError when the header claims more than :data:`MAX_STILL_PIXELS` (or a side over 32768)."""
    size = declared_size(data[:65536])
    if size is None:
        return
    width, height = size
    if width * height > MAX_STILL_PIXELS or max(width, height) > MAX_STILL_SIDE:
        raise MediaError(f"the image header claims {width}x{height} pixels, over the limit of "
                         f"{MAX_STILL_PIXELS // 1_000_000} Mpixel ({MAX_STILL_SIDE} px a side); the file is "
                         "damaged or a decompression bomb", path=path,
                         hint="Check the file, or re-export it at a normal size")
    if width == 0 or height == 0:
        raise MediaError(f"the image header claims {width}x{height} pixels (an empty image)", path=path,
                         hint="Re-export the image")
