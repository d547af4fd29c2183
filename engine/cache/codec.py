"""The on-disk format of one cache entry: a small header and a compressed, lossless-after-float16 payload.

Layout of an entry file::

    b"SDCA" | uint16 LE format version | uint32 LE header length | header JSON | payload

The header names the shape, the stored dtype, the dtype handed back and the
payload size. Float arrays are stored as float16 (float32 when a finite value
would overflow float16, so nothing is silently clipped) and handed back as
float32; integer and bool arrays are stored and handed back exactly.

The payload codec (``delta0-shuffle-zlib1``) is chosen for smooth maps: the
element bit patterns are differenced along axis 0 (wrapping unsigned
arithmetic, so it is exact), their bytes are split into planes (all high bytes,
then all low bytes) and the result is zlib-compressed at level 1. On a 1080p
depth map this is about half the size of plain float16 + zlib and about as fast
(bench/bench_cache.py). zlib's own checksum and the recorded size detect a torn
or damaged entry (:class:`CorruptEntry`).

Decoding the common entry, a float16 map handed back as float32, is one numba pass over the
decompressed planes (``_codec_numba.undelta_half``: planes -> bit patterns -> running sum down axis 0 ->
float32 through a 65536-entry table of every float16 value), bit-identical to the numpy path it
replaces (byte-plane copies, cumsum, astype: three passes and two temporaries; 1080p δ 22 -> ~10 ms
CPU, most of it zlib's). The bytes on disk are unchanged, so every entry stays readable.
"""

from __future__ import annotations

import json
import struct
import zlib
from functools import cache

import numpy as np

CACHE_VERSION = 1
MAGIC = b"SDCA"
CODEC = "delta0-shuffle-zlib1"
_PREFIX = struct.Struct("<4sHI")  # magic, format version, header length
_STORED = {"<f2", "<f4", "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8"}
_OUT = _STORED | {"|b1"}
_FLOAT_STORAGE = ("float16", "float32")


class CorruptEntry(ValueError):
    """An entry's bytes are not a complete entry of this format version."""


def storage_dtypes(array: np.ndarray, float_storage: str = "float16") -> tuple[np.dtype, np.dtype]:
    """(stored dtype, returned dtype) for `array`: floats -> float16/float32 stored, float32 returned.

    Raises:
        ValueError: `float_storage` is not float16 or float32.
        TypeError: complex, object, string or other dtypes (not depth, flow or mask data).
    """
    if float_storage not in _FLOAT_STORAGE:
        raise ValueError(f"float_storage must be one of {_FLOAT_STORAGE}, not {float_storage!r}")
    kind = array.dtype.kind
    if kind == "f":
        stored = np.dtype(float_storage).newbyteorder("<")
        return stored, np.dtype("<f4")
    if kind == "b":
        return np.dtype("|u1"), np.dtype("|b1")
    if kind in "iu":
        stored = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
        return stored, stored
    raise TypeError(f"cannot cache arrays of dtype {array.dtype} (float, int, uint or bool only)")


def _to_stored(array: np.ndarray, stored: np.dtype) -> np.ndarray:
    """`array` cast to `stored`; float16 overflow of a finite value promotes to float32 instead."""
    if stored == np.dtype("<f2"):
        with np.errstate(over="ignore", invalid="ignore"):
            half = array.astype(stored)
        if np.isinf(half).any() and (np.isinf(half) != np.isinf(array)).any():
            return array.astype("<f4")
        return half
    return array.astype(stored, copy=False)


def _unsigned(itemsize: int) -> np.dtype:
    return np.dtype(f"<u{itemsize}") if itemsize > 1 else np.dtype("|u1")


def _delta_shuffle(values: np.ndarray) -> bytes:
    """Difference `values` (N, ...) along axis 0 as unsigned ints, then split the bytes into planes."""
    bits = values.view(_unsigned(values.dtype.itemsize))
    delta = np.empty_like(bits)
    delta[:1] = bits[:1]
    np.subtract(bits[1:], bits[:-1], out=delta[1:])
    size = values.dtype.itemsize
    return delta.tobytes() if size == 1 else delta.view(np.uint8).reshape(-1, size).T.tobytes()


def _unshuffle_undelta(raw: bytes, stored: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`_delta_shuffle`: byte planes -> elements -> cumulative sum along axis 0."""
    size = stored.itemsize
    planes = np.frombuffer(raw, dtype=np.uint8)
    interleaved = np.empty(planes.size, np.uint8)
    count = planes.size // size
    for plane in range(size):  # strided plane copies: several times faster than a transposed copy
        interleaved[plane::size] = planes[plane * count:(plane + 1) * count]
    bits = interleaved.view(_unsigned(size)).reshape(shape)
    np.cumsum(bits, axis=0, dtype=bits.dtype, out=bits)
    return bits.view(stored)


@cache
def _half_table() -> np.ndarray:
    """(65536,) float32: every float16 bit pattern's value (NaN payloads and signed zeros included)."""
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


@cache
def _half_kernel():
    """engine.cache._codec_numba.undelta_half (compiled on first use, cached on disk), None without numba."""
    try:
        from engine.cache import _codec_numba
    except ImportError:  # numba is a dependency; the numpy path still decodes without it
        return None
    return _codec_numba.undelta_half


def _undelta_half(raw: bytes, shape: tuple[int, ...]) -> np.ndarray | None:
    """:func:`_unshuffle_undelta` of float16 values, as float32 (H, ...) in one pass; None without numba."""
    kernel = _half_kernel()
    if kernel is None or len(shape) == 0:
        return None
    rows = shape[0]
    cols = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
    out = np.empty((rows, cols), np.float32)
    kernel(np.frombuffer(raw, dtype=np.uint8), rows, cols, _half_table(), out)
    return out.reshape(shape)


def prepare(array: np.ndarray, float_storage: str = "float16") -> tuple[np.ndarray, np.dtype]:
    """(values as stored, contiguous; the dtype they are handed back as) for `array`."""
    array = np.asarray(array)
    stored, out = storage_dtypes(array, float_storage)
    values = _to_stored(array, stored)
    return (values if values.flags.c_contiguous else values.copy(order="C")), out  # keeps 0-d arrays 0-d


def pack(values: np.ndarray, out: np.dtype) -> bytes:
    """Entry bytes for already-:func:`prepare`-d `values` (any shape) handed back as `out`."""
    work = values.reshape(values.shape or (1,))
    payload = zlib.compress(_delta_shuffle(work), 1)
    header = {"shape": list(values.shape), "stored": values.dtype.str, "out": np.dtype(out).str,
              "codec": CODEC, "nbytes": int(work.nbytes)}
    head = json.dumps(header, separators=(",", ":")).encode("ascii")
    return _PREFIX.pack(MAGIC, CACHE_VERSION, len(head)) + head + payload


def encode(array: np.ndarray, float_storage: str = "float16") -> bytes:
    """The entry bytes for `array` (see the module docstring for the format).

    Args:
        array: (...) float, int, uint or bool.
        float_storage: ``float16`` (default) or ``float32`` for float arrays.
    """
    return pack(*prepare(array, float_storage))


def _read_header(data: memoryview) -> tuple[dict, int]:
    """(header dict, payload offset); CorruptEntry on a wrong magic, version or header."""
    if len(data) < _PREFIX.size:
        raise CorruptEntry("shorter than the entry prefix")
    magic, version, head_len = _PREFIX.unpack_from(data)
    if magic != MAGIC or version != CACHE_VERSION:
        raise CorruptEntry(f"not a version-{CACHE_VERSION} cache entry")
    end = _PREFIX.size + head_len
    try:
        header = json.loads(bytes(data[_PREFIX.size:end]).decode("ascii"))
        valid = (header["codec"] == CODEC and header["stored"] in _STORED and header["out"] in _OUT
                 and all(isinstance(n, int) and n >= 0 for n in header["shape"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntry(f"unreadable header ({exc})") from exc
    if not valid:
        raise CorruptEntry("header names an unknown codec, dtype or shape")
    return header, end


def peek_shape(data: bytes | memoryview) -> tuple[int, ...]:
    """The shape recorded in an entry's header (cheap: the payload is not decompressed)."""
    header, _ = _read_header(memoryview(data))
    return tuple(header["shape"])


def decode(data: bytes | memoryview) -> np.ndarray:
    """The array stored in entry bytes `data` (floats as float32; ints and bools exactly).

    Raises:
        CorruptEntry: truncated, damaged, from another format version, or inconsistent.
    """
    view = memoryview(data)
    header, start = _read_header(view)
    stored, shape = np.dtype(header["stored"]), tuple(header["shape"])
    work_shape = shape or (1,)
    expected = int(np.prod(work_shape, dtype=np.int64)) * stored.itemsize
    try:
        raw = zlib.decompress(view[start:])
    except zlib.error as exc:
        raise CorruptEntry(f"payload does not decompress ({exc})") from exc
    if len(raw) != expected or header["nbytes"] != expected:
        raise CorruptEntry(f"payload is {len(raw)} bytes, expected {expected}")
    out = np.dtype(header["out"])
    if stored == np.dtype("<f2") and out == np.dtype("<f4"):
        fast = _undelta_half(raw, work_shape)
        if fast is not None:
            return fast.reshape(shape)
    values = _unshuffle_undelta(raw, stored, work_shape).reshape(shape)
    return values.astype(out, copy=False)


def roundtrip(array: np.ndarray, float_storage: str = "float16") -> np.ndarray:
    """What :func:`decode` returns for ``encode(array)``, without compressing (float16 rounding etc.).

    Used so that a computed value and a cached one are bit-identical: a cold and a
    warm render give the same output.
    """
    values, out = prepare(array, float_storage)
    return values.astype(out)
