"""The on-disk format of one cache entry: a small header and a compressed, lossless-after-float16 payload.

Layout of an entry file::

    b"SDCA" | uint16 LE format version | uint32 LE header length | header JSON | payload

The header names the shape, the stored dtype, the dtype handed back and the
payload size. Float arrays are stored as float16 (float32 when a finite value
would overflow float16, so nothing is silently clipped) and handed back as
float32; integer and bool arrays are stored and handed back exactly.

Two payload codecs, both exact on the stored bit patterns (wrapping integer arithmetic):

``grad-zigzag-bitpack8`` (format version 2) stores float16 arrays of two or more axes, i.e. every
depth map. Each pattern is predicted from its neighbours (left + up - up-left, the left one of the
same channel), the residual is zigzagged and the residuals are bit-packed in blocks of 8 at the width
of the block's largest one (``_codec_numba.pack_gradient_half``). One numba pass each way, no
temporaries: on the weights-free provider's 1080p maps encode 37 -> 9 ms CPU, decode 14 -> 8.5 ms and
entries 30 % smaller than the zlib codec's (bench/bench_cache.py --codecs). Where zlib level 1
shrinks a sample of the packed payload by a quarter (flat plateaus, repeated rows: synthetic or
ground-truth-like maps, which bit-packing alone leaves at >= 0.5 bit a value) the payload is also
deflated (``grad-zigzag-bitpack8-zlib1``), so such maps stay smaller than the zlib codec made them
too. The header records the packed payload's size and CRC-32, and decoding checks that the stream
ends where the shape says it should.

``delta0-shuffle-zlib1`` (format versions 1 and 2) stores everything else (float32, integers, masks,
1-d and empty arrays): patterns differenced along axis 0, bytes split into planes (all high bytes,
then all low bytes), zlib level 1; zlib's checksum and the recorded size detect damage. Such an entry
carries version 1, the oldest that reads it, so an older build still reads it; a version-1 build
reads a version-2 entry as corrupt (a miss: it drops and recomputes it). Its float16 -> float32
decode is one numba pass over the inflated planes (``_codec_numba.undelta_half``), bit-identical to
the numpy path.

No zlib setting comes near the gradient codec's cost (Z_RLE -5 %, Z_HUFFMAN_ONLY slower, levels 2-6
slower, other pre-transforms no cheaper: bench/results/cache_codecs.json): zlib's per-symbol work
dominates. Every version-1 entry on disk stays readable; nothing written changes what decodes.
:class:`CorruptEntry` reports a torn, damaged or foreign entry.
"""

from __future__ import annotations

import json
import struct
import zlib
from functools import cache

import numpy as np

CACHE_VERSION = 2  # the newest entry format version; every version in _CODECS is read
MAGIC = b"SDCA"
ZLIB_CODEC = "delta0-shuffle-zlib1"
GRAD_CODEC = "grad-zigzag-bitpack8"
GRAD_ZLIB_CODEC = "grad-zigzag-bitpack8-zlib1"  # the same payload, deflated: maps with flat plateaus
_GRAD_CODECS = (GRAD_CODEC, GRAD_ZLIB_CODEC)
_CODECS = {1: (ZLIB_CODEC,), 2: (ZLIB_CODEC, *_GRAD_CODECS)}  # the codecs an entry of each version may name
_WRITTEN_AS = {ZLIB_CODEC: 1, GRAD_CODEC: 2, GRAD_ZLIB_CODEC: 2}  # the version an entry carries: the oldest
# that reads it
_PROBE_CHUNK, _PROBE_CHUNKS, _PROBE_RATIO = 4096, 8, 0.75  # a gradient payload is deflated when zlib level 1
# shrinks _PROBE_CHUNKS chunks of it spread over its length to under _PROBE_RATIO of their size
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
def _kernels():
    """The engine.cache._codec_numba module (kernels compiled on first use, cached on disk), None without
    numba: then zlib-codec entries still decode (numpy path) and are the only ones written."""
    try:
        from engine.cache import _codec_numba
    except ImportError:  # numba is a dependency
        return None
    return _codec_numba


def _half_kernel():
    """engine.cache._codec_numba.undelta_half, None without numba."""
    kernels = _kernels()
    return None if kernels is None else kernels.undelta_half


def _gradient_layout(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(rows, cols, step) of an array of `shape` (≥ 2 axes) for the gradient codec's kernels."""
    rows, cols = shape[0], int(np.prod(shape[1:], dtype=np.int64))
    return rows, cols, int(np.prod(shape[2:], dtype=np.int64))


def _gradient_nibble_bytes(count: int) -> int:
    """Bytes of the width nibbles in front of a gradient payload of `count` values."""
    blocks = -(-count // _kernels().BLOCK)
    return (blocks + 1) // 2


def _pack_gradient(values: np.ndarray) -> bytes:
    """The grad-zigzag-bitpack8 payload of float16 `values` (≥ 2 axes, not empty, C-contiguous)."""
    rows, cols, step = _gradient_layout(values.shape)
    out = np.empty(_gradient_nibble_bytes(values.size) + 2 * values.size + 8, np.uint8)
    length = _kernels().pack_gradient_half(values.reshape(-1).view(np.uint16), rows, cols, step, out)
    return out[:length].tobytes()


def _worth_deflating(packed: bytes) -> bool:
    """True when zlib level 1 pays on a gradient payload: it shrinks a sample of it by a quarter.

    Provider maps with sensor-like noise pack to ~2.8 bits per value that zlib shrinks by ~16 % at
    2.5x the packing's CPU: left alone. Maps with flat plateaus or repeated rows (synthetic, ground
    truth, quantised) leave long runs that zlib shrinks 3-5x, cheaply since the payload is small.
    """
    stride = len(packed) // _PROBE_CHUNKS
    if stride <= 2 * _PROBE_CHUNK:
        sample = packed
    else:
        sample = b"".join(packed[i * stride:i * stride + _PROBE_CHUNK] for i in range(_PROBE_CHUNKS))
    return len(zlib.compress(sample, 1)) < _PROBE_RATIO * len(sample)


def _gradient_payload(values: np.ndarray) -> tuple[bytes, dict]:
    """(payload, its header fields) of float16 `values` in the gradient codec, deflated when that pays."""
    packed = _pack_gradient(values)
    fields = {"codec": GRAD_CODEC, "nbytes": int(values.nbytes), "size": len(packed), "crc32": zlib.crc32(packed)}
    if _worth_deflating(packed):
        return zlib.compress(packed, 1), fields | {"codec": GRAD_ZLIB_CODEC}
    return packed, fields


def _unpack_gradient(payload: memoryview, header: dict, shape: tuple[int, ...]) -> np.ndarray:
    """float32 values of a gradient-codec `payload`; CorruptEntry when it is not whole."""
    kernels = _kernels()
    if kernels is None:
        raise CorruptEntry(f"{header['codec']} entries need numba to decode")
    if header["codec"] == GRAD_ZLIB_CODEC:
        inflate = zlib.decompressobj()
        try:
            payload = memoryview(inflate.decompress(payload))
        except zlib.error as exc:
            raise CorruptEntry(f"payload does not decompress ({exc})") from exc
        if not inflate.eof or inflate.unused_data:
            raise CorruptEntry("the deflated payload is cut short or followed by other bytes")
    count = int(np.prod(shape, dtype=np.int64))
    if len(payload) != header["size"] or zlib.crc32(payload) != header["crc32"]:
        raise CorruptEntry(f"payload is {len(payload)} bytes or its CRC-32 differs from the header's")
    if header["nbytes"] != 2 * count or len(payload) < _gradient_nibble_bytes(count):
        raise CorruptEntry(f"payload does not hold {count} values")
    rows, cols, step = _gradient_layout(shape)
    out = np.empty((rows, cols), np.float32)
    used = kernels.unpack_gradient_half(np.frombuffer(payload, np.uint8), rows, cols, step, _half_table(), out)
    if _gradient_nibble_bytes(count) + (used + 7) // 8 != len(payload):
        raise CorruptEntry(f"the bit stream does not end where {count} values end")
    return out.reshape(shape)


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


def _fused_half(array: np.ndarray, rounded: bool) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(float16 values or, on a finite overflow, float32 ones; their float32 read-back when `rounded`) of a
    float32 `array` in one numba pass (``_codec_numba.round_half``), None where that does not apply
    (other dtypes: float64 must round once, straight to float16, as numpy does; empty; no numba)."""
    kernels = _kernels()
    if array.dtype != np.dtype("<f4") or array.size == 0 or kernels is None:
        return None
    bits = np.ascontiguousarray(array).reshape(-1).view(np.uint32)
    half = np.empty(array.shape, "<f2")
    back = np.empty(array.shape if rounded else 0, np.float32)
    if kernels.round_half(bits, _half_table(), half.reshape(-1).view(np.uint16), back.reshape(-1)):
        values = np.array(array, "<f4", order="C")  # a finite value beyond float16: stored as float32
        return values, (values.copy() if rounded else None)
    return half, (back if rounded else None)


def prepare(array: np.ndarray, float_storage: str = "float16") -> tuple[np.ndarray, np.dtype]:
    """(values as stored, contiguous; the dtype they are handed back as) for `array`."""
    array = np.asarray(array)
    stored, out = storage_dtypes(array, float_storage)
    fused = _fused_half(array, rounded=False) if stored == np.dtype("<f2") else None
    values = fused[0] if fused is not None else _to_stored(array, stored)
    return (values if values.flags.c_contiguous else values.copy(order="C")), out  # keeps 0-d arrays 0-d


def prepare_rounded(array: np.ndarray, float_storage: str = "float16") -> tuple[np.ndarray, np.dtype, np.ndarray]:
    """(values, out) as :func:`prepare` gives them, and ``values.astype(out)``: what :func:`decode` will hand
    back, made in the same pass for float32 maps (one read of the map, no float16 temporary read twice)."""
    array = np.asarray(array)
    stored, out = storage_dtypes(array, float_storage)
    fused = _fused_half(array, rounded=True) if stored == np.dtype("<f2") else None
    if fused is not None:
        return fused[0], out, fused[1]
    values, out = prepare(array, float_storage)
    return values, out, values.astype(out)


def _uses_gradient(values: np.ndarray) -> bool:
    """True when :func:`pack` stores `values` with the gradient codec: float16, ≥ 2 axes, not empty."""
    return values.dtype == np.dtype("<f2") and values.ndim >= 2 and values.size > 0 and _kernels() is not None


def pack(values: np.ndarray, out: np.dtype, *, zlib_only: bool = False) -> bytes:
    """Entry bytes for already-:func:`prepare`-d `values` (any shape) handed back as `out`.

    Args:
        zlib_only: store with ``delta0-shuffle-zlib1`` whatever the values (a version-1 entry, as
            builds before the gradient codec wrote it; for tests and benchmarks).
    """
    work = values.reshape(values.shape or (1,))
    header = {"shape": list(values.shape), "stored": values.dtype.str, "out": np.dtype(out).str}
    if not zlib_only and _uses_gradient(values):
        payload, fields = _gradient_payload(values)
        header |= fields
    else:
        payload = zlib.compress(_delta_shuffle(work), 1)
        header |= {"codec": ZLIB_CODEC, "nbytes": int(work.nbytes)}
    head = json.dumps(header, separators=(",", ":")).encode("ascii")
    return _PREFIX.pack(MAGIC, _WRITTEN_AS[header["codec"]], len(head)) + head + payload


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
    if magic != MAGIC or version not in _CODECS:
        raise CorruptEntry(f"not a cache entry of format version {', '.join(map(str, _CODECS))}")
    end = _PREFIX.size + head_len
    try:
        header = json.loads(bytes(data[_PREFIX.size:end]).decode("ascii"))
        valid = (header["codec"] in _CODECS[version] and header["stored"] in _STORED and header["out"] in _OUT
                 and all(isinstance(n, int) and n >= 0 for n in header["shape"]))
        if valid and header["codec"] in _GRAD_CODECS:
            valid = (header["stored"] == "<f2" and header["out"] == "<f4" and len(header["shape"]) >= 2
                     and all(isinstance(header[k], int) for k in ("size", "crc32", "nbytes")))
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
    if header["codec"] in _GRAD_CODECS:
        return _unpack_gradient(view[start:], header, shape)
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
    return prepare_rounded(array, float_storage)[2]
