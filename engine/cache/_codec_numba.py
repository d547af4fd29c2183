"""CPU kernels (numba) of :mod:`engine.cache.codec`.

``round_half`` is float32 -> float16 as numpy casts it (checked against numpy on all 2^32 float32
patterns: bench/half_cast_exhaustive.py), fused with the overflow check and the float32 read-back;
``undelta_half`` decodes ``delta0-shuffle-zlib1`` payloads (codec's numpy path is its reference);
``pack_gradient_half`` / ``unpack_gradient_half`` are the ``grad-zigzag-bitpack8`` codec itself (its
reference is the round trip and the committed entries in tests/engine/cache/fixtures).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _half_bits(f):
    """The float16 pattern numpy casts float32 pattern `f` (int64) to: npy_floatbits_to_halfbits, i.e. round
    to nearest even, overflow to signed infinity, NaN kept NaN with its payload's top bits."""
    sign = (f & 0x80000000) >> 16
    exp = f & 0x7F800000
    if exp >= 0x47800000:  # overflow, infinity or NaN
        sig = f & 0x007FFFFF
        if exp == 0x7F800000 and sig != 0:
            nan = 0x7C00 + (sig >> 13)
            return sign + (nan + 1 if nan == 0x7C00 else nan)
        return sign + 0x7C00
    if exp <= 0x38000000:  # float16 subnormal or signed zero
        if exp < 0x33000000:
            return sign
        sig = (0x00800000 + (f & 0x007FFFFF)) >> (113 - (exp >> 23))
        if (sig & 0x3FFF) != 0x1000 or (f & 0x7FF) != 0:
            sig += 0x1000
        return sign + (sig >> 13)
    sig = f & 0x007FFFFF
    if (sig & 0x3FFF) != 0x1000:
        sig += 0x1000
    return sign + ((exp - 0x38000000) >> 13) + (sig >> 13)  # a carry out of sig steps the exponent: right


@njit(cache=True, nogil=True)
def round_half(bits, table, half, rounded):
    """float32 patterns -> float16 patterns and their float32 values, in one pass.

    Args:
        bits: (N,) uint32, float32 patterns.
        table: (65536,) float32, the value of every float16 pattern.
        half: (N,) uint16, receives the float16 patterns (numpy's cast, bit for bit).
        rounded: (N,) float32 receives table[half], or (0,) to skip it.
    Returns:
        True as soon as a finite value overflows float16 (then `half` and `rounded` are incomplete).
    """
    keep = rounded.size > 0
    for i in range(bits.size):
        f = np.int64(bits[i])
        h = _half_bits(f)
        if (h & 0x7FFF) == 0x7C00 and (f & 0x7F800000) != 0x7F800000:
            return True
        half[i] = h
        if keep:
            rounded[i] = table[h]
    return False


@njit(cache=True, nogil=True)
def undelta_half(planes, rows, cols, table, out):
    """Row-differenced, byte-split float16 patterns -> float32 values, in one pass.

    Args:
        planes: (2 · rows · cols,) uint8: every pattern's low byte, then every high byte.
        rows, cols: the array's first axis (the one differenced) and the product of the others.
        table: (65536,) float32, the value of every float16 pattern.
        out: (rows, cols) float32, receives table[running sum of the patterns down the rows, mod 2^16].
    """
    n = rows * cols
    acc = np.zeros(cols, np.int64)
    for r in range(rows):
        base = r * cols
        for c in range(cols):
            i = base + c
            v = (acc[c] + planes[i] + (np.int64(planes[n + i]) << 8)) & 0xFFFF
            acc[c] = v
            out[r, c] = table[v]


BLOCK = 8  # residuals per bit-width nibble in the grad-zigzag-bitpack8 codec


@njit(cache=True, nogil=True, inline="always")
def _width(bits_or):
    """The nibble for a block whose residuals OR to `bits_or`: its bit length, 15 standing for 15 and 16."""
    width = 0
    while bits_or >> width:
        width += 1
    return min(width, 15)


@njit(cache=True, nogil=True, inline="always")
def _put_block(buf, k, bits_or, block, out, pos, acc, filled):
    """Write block `block`'s nibble and its `k` values; returns the stream's (pos, acc, filled)."""
    width = _width(bits_or)
    out[block >> 1] |= np.uint8(width << ((block & 1) * 4))
    nbits = np.uint64(16 if width == 15 else width)
    for j in range(k):
        acc |= buf[j] << filled
        filled += nbits
        if filled >= 32:
            for _ in range(4):
                out[pos] = np.uint8(acc & np.uint64(0xFF))
                pos += 1
                acc >>= np.uint64(8)
            filled -= np.uint64(32)
    return pos, acc, filled


@njit(cache=True, nogil=True)
def pack_gradient_half(bits, rows, cols, step, out):
    """float16 patterns -> gradient-predicted, zigzagged, block-bit-packed bytes; returns the length.

    The prediction of an element is left + up - up-left (left = `step` elements back along the row,
    so interleaved channels predict from their own channel; outside the array counts as 0). The
    residual, taken mod 2^16 as a signed 16-bit number, is zigzagged (0, -1, 1, -2 .. -> 0, 1, 2, 3 ..).
    Residuals are packed in row-major blocks of BLOCK (the last one shorter), each at the bit width of
    its largest value: first one nibble per block (low nibble first; 15 means 16 bits), then every
    block's values, least significant bit first, as one bit stream.

    Args:
        bits: (rows · cols,) uint16, the patterns in row-major order.
        rows, cols: the array's first axis and the product of the others; step: the product of all
            axes after the second (1 for an (H, W) map).
        out: (≥ (blocks + 1) // 2 + 2 · rows · cols + 8,) uint8, receives the payload.
    """
    blocks = (rows * cols + BLOCK - 1) // BLOCK
    pos = (blocks + 1) // 2
    out[:pos] = 0
    prev = np.zeros(cols + step, np.int32)  # the row above, `step` zeros in front
    cur = np.zeros(cols + step, np.int32)
    buf = np.empty(BLOCK, np.uint64)
    acc = np.uint64(0)
    filled = np.uint64(0)
    block = 0
    k = 0
    bits_or = 0
    for r in range(rows):
        base = r * cols
        for c in range(cols):
            x = np.int32(bits[base + c])
            cur[c + step] = x
            d = (x - cur[c] - prev[c + step] + prev[c]) & 0xFFFF
            d = (d ^ 0x8000) - 0x8000
            z = (d << 1) ^ (d >> 31)
            buf[k] = z
            bits_or |= z
            k += 1
            if k == BLOCK:
                pos, acc, filled = _put_block(buf, k, bits_or, block, out, pos, acc, filled)
                block += 1
                k = 0
                bits_or = 0
        prev, cur = cur, prev
    if k:
        pos, acc, filled = _put_block(buf, k, bits_or, block, out, pos, acc, filled)
    while filled > 0:
        out[pos] = np.uint8(acc & np.uint64(0xFF))
        pos += 1
        acc >>= np.uint64(8)
        filled = filled - np.uint64(8) if filled > 8 else np.uint64(0)
    return pos


@njit(cache=True, nogil=True)
def unpack_gradient_half(data, rows, cols, step, table, out):
    """Inverse of :func:`pack_gradient_half`, the patterns handed back as float32 through `table`.

    Returns the number of bits the values took (a whole payload is its nibbles and that many bits,
    rounded up to bytes). Reads no byte past `data`: a damaged stream decodes to garbage, never out
    of bounds (callers check the payload's checksum first).

    Args:
        data: (≥ (blocks + 1) // 2,) uint8, the payload.
        table: (65536,) float32, the value of every float16 pattern.
        out: (rows, cols) float32, receives the values.
    """
    n = rows * cols
    blocks = (n + BLOCK - 1) // BLOCK
    pos = (blocks + 1) // 2
    end = data.size
    prev = np.zeros(cols + step, np.int32)
    cur = np.zeros(cols + step, np.int32)
    acc = np.uint64(0)
    filled = np.uint64(0)
    nbits = np.uint64(0)
    mask = np.uint64(0)
    block = 0
    k = BLOCK
    used = 0
    for r in range(rows):
        for c in range(cols):
            if k == BLOCK:
                width = (data[block >> 1] >> ((block & 1) * 4)) & 15
                nbits = np.uint64(16 if width == 15 else width)
                mask = (np.uint64(1) << nbits) - np.uint64(1)
                used += (min(BLOCK, n - block * BLOCK)) * (16 if width == 15 else width)
                block += 1
                k = 0
            if filled < nbits:
                for _ in range(4):
                    if pos < end:
                        acc |= np.uint64(data[pos]) << filled
                    pos += 1
                    filled += np.uint64(8)
            z = np.int32(acc & mask)
            acc >>= nbits
            filled -= nbits
            k += 1
            v = (cur[c] + prev[c + step] - prev[c] + ((z >> 1) ^ -(z & 1))) & 0xFFFF
            cur[c + step] = v
            out[r, c] = table[v]
        prev, cur = cur, prev
    return used
