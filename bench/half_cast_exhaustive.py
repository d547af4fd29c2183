"""Check engine.cache's fused float32 -> float16 cast against numpy on all 2^32 float32 patterns.

    python bench/half_cast_exhaustive.py      # ~2-9 minutes on 2 cores; prints the mismatch count

tests/engine/cache/test_cache_codec.py checks the ~5 million patterns around every rounding case;
this is the exhaustive check behind the claim that the fused cast is numpy's, bit for bit.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.cache import codec  # noqa: E402

CHUNK = 1 << 26


def main() -> int:
    kernels, table = codec._kernels(), codec._half_table()
    half = np.empty(CHUNK, np.uint16)
    mismatches, overflowed, start = 0, 0, time.perf_counter()
    for k in range((1 << 32) // CHUNK):
        bits = np.arange(k * CHUNK, (k + 1) * CHUNK, dtype=np.uint64).astype(np.uint32)
        with np.errstate(all="ignore"):
            expected = bits.view(np.float32).astype(np.float16).view(np.uint16)
        floats = bits.view(np.float32)
        fits = ~(np.isfinite(floats) & (np.abs(floats) >= 65520))  # finite overflow stops the kernel
        overflowed += int(fits.size - np.count_nonzero(fits))
        chunk = np.ascontiguousarray(bits[fits])
        out = half[:chunk.size]
        if kernels.round_half(chunk, table, out, np.empty(0, np.float32)):
            raise SystemExit("overflow reported on values that fit float16")
        mismatches += int(np.count_nonzero(out != expected[fits]))
    print(f"{mismatches} mismatches over {(1 << 32) - overflowed} patterns "
          f"({overflowed} finite overflows left to the float32 fallback), {time.perf_counter() - start:.0f} s")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
