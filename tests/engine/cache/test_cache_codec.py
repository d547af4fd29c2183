"""engine.cache.codec: exact round trips after float16, overflow promotion, corruption detection, size."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.cache import codec
from engine.cache.codec import (
    CACHE_VERSION,
    GRAD_CODEC,
    GRAD_ZLIB_CODEC,
    ZLIB_CODEC,
    CorruptEntry,
    decode,
    encode,
    pack,
    peek_shape,
    prepare,
    roundtrip,
)

FIXTURES = Path(__file__).parent / "fixtures"


def smooth_depth(height: int = 120, width: int = 160) -> np.ndarray:
    """An estimated-depth-like map (float32, ~[0.2, 5]): ground ramp, backdrop, two objects, soft edges.

    Providers output continuous values with smooth edges (guided filter, network upsampling); the
    blur stands in for that.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    depth = np.where(yy > height * 0.5, 0.2 + 4.0 * (height - yy) / height, 4.8).astype(np.float32)
    depth[(np.abs(xx - width * 0.3) < width * 0.08) & (yy > height * 0.3)] = 0.7
    depth[(xx - width * 0.7) ** 2 + (yy - height * 0.4) ** 2 < (height * 0.15) ** 2] = 1.9
    return cv2.GaussianBlur(depth + 0.05 * xx / width, (0, 0), 2.0)


CASES = {
    "depth-f32": smooth_depth(),
    "depth-f64": smooth_depth().astype(np.float64),
    "flow-hw2": np.random.default_rng(0).normal(0, 20, (30, 40, 2)).astype(np.float32),
    "mask-bool": np.random.default_rng(1).random((33, 17)) > 0.5,
    "mask-u8": np.random.default_rng(2).integers(0, 256, (9, 11), dtype=np.uint8),
    "big-endian-i4": np.arange(-12, 12, dtype=">i4").reshape(2, 3, 4),
    "u16": np.random.default_rng(3).integers(0, 2**16, (5, 7), dtype=np.uint16),
    "u64": np.random.default_rng(4).integers(0, 2**63, (5, 7), dtype=np.uint64),
    "scalar": np.array(3.25),
    "empty": np.zeros((0, 5), np.float32),
    "non-contiguous": smooth_depth()[::2, ::3],
    "transposed": smooth_depth().T,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_decode_returns_exactly_the_roundtrip(name):
    array = CASES[name]
    back = decode(encode(array))
    expected = roundtrip(array)
    assert back.shape == array.shape
    assert back.dtype == expected.dtype
    np.testing.assert_array_equal(back, expected)
    if array.dtype.kind == "f":
        assert back.dtype == np.float32
        np.testing.assert_allclose(back, array, rtol=1e-3, atol=1e-6)  # float16's 11-bit mantissa
    else:
        assert back.dtype == array.dtype.newbyteorder("=")
        np.testing.assert_array_equal(back, array)


def test_nan_and_inf_survive_and_overflow_promotes_to_float32():
    special = np.array([1.0, np.nan, np.inf, -np.inf, 0.0, -2.5], np.float32)
    back = decode(encode(special))
    np.testing.assert_array_equal(back, special)  # NaN == NaN in assert_array_equal
    metric_mm = np.array([[1500.0, 80000.0], [123456.0, np.nan]], np.float32)  # beyond float16's 65504
    back = decode(encode(metric_mm))
    np.testing.assert_array_equal(back, metric_mm)  # stored as float32, not clipped or turned into inf
    assert np.isfinite(roundtrip(metric_mm)[:, 0]).all()


def test_float32_storage_is_exact():
    array = np.random.default_rng(5).normal(0, 300, (20, 30, 2)).astype(np.float32)
    np.testing.assert_array_equal(decode(encode(array, "float32")), array)
    assert not np.array_equal(decode(encode(array)), array)  # float16 does round these
    with pytest.raises(ValueError, match="float_storage"):
        encode(array, "bfloat16")


def test_unsupported_dtypes_are_refused():
    with pytest.raises(TypeError, match="complex64"):
        encode(np.zeros(3, np.complex64))
    with pytest.raises(TypeError, match="dtype"):
        encode(np.array(["a", "b"]))


def test_corrupt_entries_are_detected():
    data = encode(smooth_depth())
    assert peek_shape(data) == (120, 160)
    flipped = bytearray(data)
    flipped[-40] ^= 0xFF
    bad = {
        "truncated": data[: len(data) // 2],
        "flipped payload byte": bytes(flipped),
        "empty": b"",
        "other magic": b"NOPE" + data[4:],
        "other version": data[:4] + (CACHE_VERSION + 1).to_bytes(2, "little") + data[6:],
        "broken header": data[:11] + b"#" + data[12:],
    }
    for name, blob in bad.items():
        with pytest.raises(CorruptEntry):
            decode(blob)
            pytest.fail(f"{name} decoded")


@pytest.mark.parametrize(("dtype", "message"), [(np.uint16, "expected"), (np.float32, "payload is")])
def test_payload_size_that_does_not_match_the_header_is_corrupt(dtype, message):
    header_end = encode(np.zeros((4, 4), dtype)).index(b"}") + 1
    other = encode(np.zeros((4, 5), dtype))
    spliced = encode(np.zeros((4, 4), dtype))[:header_end] + other[other.index(b"}") + 1:]
    with pytest.raises(CorruptEntry, match=message):
        decode(spliced)


def test_smooth_depth_compresses_better_than_plain_float16_zlib():
    """On estimated depth the codec beats the depth spool's format (measured 0.41x on weights-free 1080p
    output; on integer-quantised ground-truth disparity with flat plateaus the two are about even)."""
    depth = smooth_depth(540, 960)
    plain = zlib.compress(depth.astype(np.float16).tobytes(), 1)  # what the depth spool stores
    ours = encode(depth)
    assert len(ours) < 0.75 * len(plain)
    assert len(ours) < depth.astype(np.float16).nbytes / 4


@pytest.mark.parametrize("shape", [(37, 53), (4, 9, 11), (17,)])
def test_float16_fast_decode_is_bit_identical_to_the_numpy_path(shape, monkeypatch):
    """The numba decoder of float16 entries gives the numpy path's float32 bits exactly, specials included."""
    rng = np.random.default_rng(3)
    values = rng.standard_normal(shape).astype(np.float32)
    flat = values.reshape(-1)
    flat[:6] = [np.nan, np.inf, -np.inf, -0.0, 1e-7, 65504.0]  # NaN, infinities, signed zero, subnormal, max
    blob = pack(*prepare(values), zlib_only=True)  # a version-1 entry (2-d float16 is now gradient-coded)
    assert header_of(blob)[1]["codec"] == ZLIB_CODEC
    assert codec._half_kernel() is not None
    fast = codec.decode(blob)
    monkeypatch.setattr(codec, "_half_kernel", lambda: None)
    slow = codec.decode(blob)
    assert fast.dtype == slow.dtype == np.float32 and fast.shape == slow.shape == shape
    assert np.array_equal(fast.view(np.uint32), slow.view(np.uint32))


def header_of(data: bytes) -> tuple[int, dict]:
    """(format version, header dict) of entry bytes."""
    _, version, length = struct.unpack_from("<4sHI", data)
    return version, json.loads(data[10:10 + length])


def reference_decode(data: bytes) -> np.ndarray:
    """A plain-Python reading of a grad-zigzag-bitpack8 entry, as the codec's docstring describes it:
    (rows, cols, step) from the shape, nibbles (low first, 15 = 16 bits), LSB-first bit stream of zigzagged
    residuals of left + up - up-left (0 outside), mod 2^16."""
    _, header = header_of(data)
    payload = data[-header["size"]:]
    shape = header["shape"]
    rows, cols, step = shape[0], int(np.prod(shape[1:])), int(np.prod(shape[2:]))
    n = rows * cols
    blocks = (n + 7) // 8
    stream = int.from_bytes(payload[(blocks + 1) // 2:], "little")
    bits = np.zeros((rows, cols), np.int64)
    offset = 0
    for i in range(n):
        nibble = payload[i // 16] >> (4 * (i // 8 % 2)) & 15
        width = 16 if nibble == 15 else nibble
        z = stream >> offset & ((1 << width) - 1)
        offset += width
        r, c = divmod(i, cols)
        left = bits[r, c - step] if c >= step else 0
        up = bits[r - 1, c] if r else 0
        up_left = bits[r - 1, c - step] if r and c >= step else 0
        bits[r, c] = (left + up - up_left + ((z >> 1) ^ -(z & 1))) % 65536
    return bits.astype(np.uint16).view(np.float16).astype(np.float32).reshape(shape)


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and bit patterns (NaN payloads and signed zeros included)."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def all_half_patterns(shape: tuple[int, ...]) -> np.ndarray:
    """float32 values of float16 patterns, each of the 65536 at least once, shuffled into `shape`."""
    count = int(np.prod(shape))
    patterns = np.resize(np.arange(65536, dtype=np.uint32).astype(np.uint16), count)
    np.random.default_rng(11).shuffle(patterns)
    return patterns.view(np.float16).astype(np.float32).reshape(shape)


@pytest.mark.parametrize("shape", [(256, 256), (1, 9), (9, 1), (3, 5), (7, 13, 2), (4, 3, 5, 2), (2, 8)])
def test_gradient_codec_round_trips_every_float16_pattern_exactly(shape):
    """Noise up to width 16, specials (NaN payloads, infinities, -0, subnormals), lengths not a multiple
    of the block, channels: decode gives roundtrip's bits, and the same as the plain-Python reading."""
    values = all_half_patterns(shape)
    data = encode(values)
    version, header = header_of(data)
    assert (version, header["codec"]) == (2, GRAD_CODEC)
    back = decode(data)
    assert bits_equal(back, roundtrip(values))
    if values.size <= 1000:
        assert bits_equal(reference_decode(data), back)


def test_flat_maps_are_deflated_and_round_trip():
    """Plateaus and ramps (synthetic or ground-truth-like maps) pack to long runs that zlib shrinks: the
    deflated variant is chosen, stays exact and is smaller than the version-1 entry."""
    depth = smooth_depth(540, 960)
    data = encode(depth)
    assert header_of(data) == (2, header_of(data)[1]) and header_of(data)[1]["codec"] == GRAD_ZLIB_CODEC
    assert bits_equal(decode(data), roundtrip(depth))
    assert len(data) < len(pack(*prepare(depth), zlib_only=True))
    tiny = np.full((3, 4), 0.5, np.float32)
    assert bits_equal(decode(encode(tiny)), roundtrip(tiny))


def test_noisy_provider_like_maps_are_smaller_than_version_1():
    """Smooth depth plus sensor-like noise (what the weights-free provider gives, ~2.8 bits a value):
    bit-packed without zlib, smaller than the zlib codec (0.67-0.78x on weights-free output)."""
    rng = np.random.default_rng(7)
    depth = smooth_depth(270, 480) + rng.normal(0, 2e-3, (270, 480)).astype(np.float32)
    data = encode(depth)
    assert header_of(data)[1]["codec"] == GRAD_CODEC
    assert bits_equal(decode(data), roundtrip(depth))
    assert len(data) < 0.9 * len(pack(*prepare(depth), zlib_only=True))


def test_what_keeps_the_zlib_codec_is_written_as_version_1():
    """float32, integers, masks, 1-d and empty arrays are stored as before, as version-1 entries."""
    for name in ("depth-f32", "mask-bool", "u16", "scalar", "empty"):
        array = CASES[name]
        data = encode(array, "float32") if name == "depth-f32" else encode(array)
        assert header_of(data) == (1, header_of(data)[1]) and header_of(data)[1]["codec"] == ZLIB_CODEC, name
    assert header_of(encode(np.zeros(17, np.float32)))[1]["codec"] == ZLIB_CODEC


@pytest.mark.parametrize("name", ["depth_f16", "depth_f32_overflow", "flow_f16", "mask_bool"])
def test_entries_written_before_the_gradient_codec_still_decode(name):
    """Version-1 entries committed from the build before this codec decode to what that build gave."""
    data = (FIXTURES / f"v1_{name}.sdc").read_bytes()
    assert header_of(data) == (1, header_of(data)[1]) and header_of(data)[1]["codec"] == ZLIB_CODEC
    expected = np.load(FIXTURES / "v1_expected.npz")[name]
    assert bits_equal(decode(data), expected)
    assert bits_equal(decode(pack(*prepare(expected), zlib_only=True)), expected)


@pytest.mark.parametrize("name", ["depth_f16", "flow_f16"])
def test_gradient_entries_are_stable_and_match_the_plain_python_reading(name):
    """The committed version-2 entries of the v1 fixtures' values: encoding them again gives the same
    bytes (the format does not drift), and decoding gives the values and the reference reading."""
    data = (FIXTURES / f"v2_{name}.sdc").read_bytes()
    expected = np.load(FIXTURES / "v1_expected.npz")[name]
    assert encode(expected) == data
    assert bits_equal(decode(data), expected)
    assert bits_equal(reference_decode(data), expected)


@pytest.mark.parametrize("kind", ["plain", "deflated"])
def test_damaged_gradient_entries_are_corrupt(kind):
    flat = np.repeat(smooth_depth(60, 80)[::4], 4, axis=0)  # repeated rows: runs that zlib shrinks
    depth = flat if kind == "deflated" else all_half_patterns((60, 80))
    data = encode(depth)
    version, header = header_of(data)
    assert header["codec"] == (GRAD_ZLIB_CODEC if kind == "deflated" else GRAD_CODEC)
    start = 10 + struct.unpack_from("<I", data, 6)[0]

    def with_header(**changes: object) -> bytes:
        head = json.dumps(header | changes, separators=(",", ":")).encode("ascii")
        return struct.pack("<4sHI", b"SDCA", version, len(head)) + head + data[start:]

    flipped = bytearray(data)
    flipped[start + (len(data) - start) // 2] ^= 0x10
    bad = {
        "truncated": data[:-3], "flipped": bytes(flipped), "one byte more": data + b"\0",
        "other crc": with_header(crc32=header["crc32"] ^ 1), "other size": with_header(size=header["size"] + 1),
        "more rows": with_header(shape=[61, 80], nbytes=2 * 61 * 80),
        "fewer rows": with_header(shape=[59, 80], nbytes=2 * 59 * 80),
        "wrong nbytes": with_header(nbytes=header["nbytes"] + 2),
        "float32 stored": with_header(stored="<f4"), "1-d": with_header(shape=[4800]),
        "as version 1": struct.pack("<4sHI", b"SDCA", 1, start - 10) + data[10:],
    }
    for name, blob in bad.items():
        with pytest.raises(CorruptEntry):
            decode(blob)
            pytest.fail(f"{name} decoded")


def rounding_critical_floats() -> np.ndarray:
    """float32 patterns covering every case of the float16 cast: each sign, exponent and top 10 mantissa bits
    (2^19 combinations) with low 13 bits at and around the tie (0x1000) and the sticky bits subnormals
    shift out, i.e. normals, subnormals, underflow to zero, overflow, infinities and NaN payloads."""
    top = np.arange(1 << 19, dtype=np.uint32) << 13
    low = np.array([0, 1, 0x7FF, 0x800, 0xFFF, 0x1000, 0x1001, 0x17FF, 0x1800, 0x1FFF], np.uint32)
    return (top[:, None] | low[None, :]).reshape(-1).view(np.float32)


def test_fused_float16_cast_is_numpys_bit_for_bit():
    """_codec_numba.round_half casts as numpy does (all 2^32 patterns: bench/half_cast_exhaustive.py), and
    hands back table[half] as the float32 read-back; a finite overflow stops it (reported)."""
    kernels = codec._kernels()
    floats = rounding_critical_floats()
    finite = floats[np.isfinite(floats) & (np.abs(floats) < 65520)]  # 65520 and up overflow float16
    with np.errstate(all="ignore"):
        for sample in (finite, floats[~np.isfinite(floats)]):
            half = np.empty(sample.size, np.uint16)
            back = np.empty(sample.size, np.float32)
            assert not kernels.round_half(sample.view(np.uint32), codec._half_table(), half, back)
            expected = sample.astype(np.float16)
            assert half.tobytes() == expected.tobytes()
            assert back.tobytes() == expected.astype(np.float32).tobytes()
    overflow = np.array([1.0, 65520.0, np.nan], np.float32)
    assert kernels.round_half(overflow.view(np.uint32), codec._half_table(), np.empty(3, np.uint16),
                              np.empty(0, np.float32))


@pytest.mark.parametrize("name", sorted(CASES))
def test_prepare_rounded_is_prepare_and_its_read_back(name, monkeypatch):
    """The fused path (float32 maps) and the numpy path give the same stored values and read-back."""
    array = CASES[name]
    values, out, rounded = codec.prepare_rounded(array)
    monkeypatch.setattr(codec, "_kernels", lambda: None)
    slow_values, slow_out = codec.prepare(array)
    assert values.dtype == slow_values.dtype and values.shape == slow_values.shape and out == slow_out
    assert values.tobytes() == slow_values.tobytes() and values.flags.c_contiguous
    assert bits_equal(rounded, slow_values.astype(slow_out))


def test_fused_prepare_promotes_overflow_and_keeps_specials():
    metric_mm = np.array([[1500.0, 80000.0], [np.nan, -np.inf]], np.float32)
    values, out, rounded = codec.prepare_rounded(metric_mm)
    assert values.dtype == np.dtype("<f4") and bits_equal(rounded, metric_mm)
    assert rounded is not values and values is not metric_mm
    special = np.array([[np.nan, np.inf, -0.0, 1e-7, 65504.0, -65519.0]], np.float32)
    values, _, rounded = codec.prepare_rounded(special)
    assert values.dtype == np.dtype("<f2") and bits_equal(rounded, special.astype(np.float16).astype(np.float32))
