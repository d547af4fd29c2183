"""Occlusion-order fixtures: hand-annotated "A covers B" point pairs on real footage, and their scoring.

A fixture (schema ``OrdinalPairs.1``, ``tests/fixtures/*_ordinal.json``) names a clip under
``../shared/data``, the pixel size its points were placed at, and pairs (frame, near, far): at
``near`` lies a surface that visibly covers the one at ``far`` (or ``far`` is sky). A depth map
gets a pair right when its nearness at ``near`` is strictly greater than at ``far``, each read as
the median of the 3 × 3 pixels around the point scaled to the map's size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.support.data import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DAVIS_ORDINAL = FIXTURES / "davis_rollercoaster_ordinal.json"


@dataclass(frozen=True)
class OrdinalPair:
    """One annotated pair: at `near` (x, y) a surface covers the one at `far`, in frame `frame`."""

    frame: int
    near: tuple[float, float]
    far: tuple[float, float]
    what: str


@dataclass(frozen=True)
class OrdinalFixture:
    """A clip's annotated pairs; `size` = (width, height) the points were placed at."""

    media: Path
    size: tuple[int, int]
    pairs: tuple[OrdinalPair, ...]

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(sorted({p.frame for p in self.pairs}))


def load_ordinal(path: Path = DAVIS_ORDINAL) -> OrdinalFixture:
    """Read an ``OrdinalPairs.1`` fixture (its media path resolved under the shared data folder)."""
    doc = json.loads(Path(path).read_text())
    if doc.get("schema") != "OrdinalPairs.1":
        raise ValueError(f"{path}: not an OrdinalPairs.1 fixture")
    pairs = tuple(OrdinalPair(int(p["frame"]), tuple(p["near"]), tuple(p["far"]), p["what"]) for p in doc["pairs"])
    return OrdinalFixture(SHARED_DATA / doc["media"], tuple(doc["size"]), pairs)


def nearness_at(nearness: np.ndarray, xy: tuple[float, float], size: tuple[int, int]) -> float:
    """Median of the 3 × 3 pixels of (H, W) `nearness` around `xy` given at `size` = (width, height)."""
    h, w = nearness.shape
    x = int(round(xy[0] * w / size[0]))
    y = int(round(xy[1] * h / size[1]))
    x, y = min(max(x, 1), w - 2), min(max(y, 1), h - 2)
    return float(np.median(nearness[y - 1 : y + 2, x - 1 : x + 2]))


def ordinal_correct(fixture: OrdinalFixture, nearness: Mapping[int, np.ndarray]) -> list[bool]:
    """Per pair: nearness (any (H, W) map per frame, larger = nearer) at `near` > at `far`."""
    return [nearness_at(nearness[p.frame], p.near, fixture.size) > nearness_at(nearness[p.frame], p.far, fixture.size)
            for p in fixture.pairs]
