"""CPU kernel (numba) of :mod:`engine.cache.codec`'s decoder; codec's numpy path is the reference."""

from __future__ import annotations

import numpy as np
from numba import njit


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
