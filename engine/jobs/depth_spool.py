"""A per-job scratch store for raw depth maps between the depth pass and the render pass.

Per-shot normalisation (CONVENTIONS.md) needs every frame's depth before the
first frame can be graded, so the depth pass spools raw maps to disk
(float16, zlib level 1 — depth is smooth and compresses well) and the render
pass reads them back. Memory stays flat; the folder is removed on close.
"""

from __future__ import annotations

import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np


class DepthSpool:
    """Write-once, read-back store of (H, W) float32 maps keyed by source frame."""

    def __init__(self, parent: Path | None = None) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="spatialdreamer-depth-", dir=parent))
        self._shapes: dict[int, tuple[int, int]] = {}

    def put(self, index: int, depth: np.ndarray) -> None:
        """Store `depth` (H, W) for `index` as compressed float16 (finite range of float16 kept)."""
        data = np.nan_to_num(depth, nan=np.nan, posinf=65504.0, neginf=-65504.0)
        half = np.clip(data, -65504.0, 65504.0).astype(np.float16)
        (self._dir / f"{index:08d}.z").write_bytes(zlib.compress(half.tobytes(), 1))
        self._shapes[index] = depth.shape

    def get(self, index: int) -> np.ndarray:
        """The map stored for `index`, as (H, W) float32."""
        raw = zlib.decompress((self._dir / f"{index:08d}.z").read_bytes())
        return np.frombuffer(raw, dtype=np.float16).reshape(self._shapes[index]).astype(np.float32)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> DepthSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
