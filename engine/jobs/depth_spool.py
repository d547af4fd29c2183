"""A per-job scratch store for raw depth maps between the depth pass and the render pass.

Used when the depth cache is off (``--no-cache`` or an unwritable cache
folder): per-shot normalisation (CONVENTIONS.md) needs every frame's depth
before the first frame is graded, so the depth pass spools raw maps to disk in
the cache's own entry format (float16, compressed) and the render pass reads
them back. Memory stays flat; the folder is removed on close.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from engine.cache import decode, encode, pack


class DepthSpool:
    """Write-once, read-back store of (H, W) float32 maps keyed by source frame."""

    float_storage = "float16"

    def __init__(self, parent: Path | None = None) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="spatialdreamer-depth-", dir=parent))

    def put(self, index: int, depth: np.ndarray) -> None:
        """Store `depth` (H, W) for `index` (read back exactly as :func:`engine.cache.roundtrip` gives it)."""
        (self._dir / f"{index:08d}.sdc").write_bytes(encode(depth))

    def put_prepared(self, index: int, values: np.ndarray, out: np.dtype) -> None:
        """Store values already :func:`engine.cache.prepare`-d (float16, handed back as `out`) for `index`."""
        (self._dir / f"{index:08d}.sdc").write_bytes(pack(values, out))

    def get(self, index: int) -> np.ndarray:
        """The map stored for `index`, as (H, W) float32."""
        return decode((self._dir / f"{index:08d}.sdc").read_bytes())

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> DepthSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
