"""Where the tests' real data lives (../shared/data beside the checkout) and the bundled demo clip."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()
DEMO_CLIP = ROOT / "resources" / "demo" / "demo.mp4"
DEMO_DEPTH = ROOT / "tests" / "fixtures" / "demo_depth.npz"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test (saying which path) when the data is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not found: {path}")
    return path
