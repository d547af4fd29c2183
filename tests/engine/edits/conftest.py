"""A synthetic moving-object clip for the propagation tests: a textured square slides over a textured
background and passes behind an opaque bar; the truth (where the object's pixels are) is known."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from engine.dvg.fields import PairFlow, pair_flow
from engine.flow import FlowConfig, FlowEstimator


@dataclass
class MovingClip:
    frames: list[np.ndarray]  # (H, W) uint8 grey
    visible: list[np.ndarray]  # (H, W) bool: object pixels not behind the bar
    step: tuple[int, int]  # object motion (dx, dy) per frame
    origin: tuple[int, int]  # object's top-left (x, y) on frame 0
    size: int
    bar: tuple[int, int]  # occluder columns [x0, x1)
    pairs_made: list[int]

    @property
    def shape(self) -> tuple[int, int]:
        return self.frames[0].shape

    def pairs(self, estimator: FlowEstimator, cache: dict[int, PairFlow]):
        def get(j: int) -> PairFlow:
            if j not in cache:
                self.pairs_made.append(j)
                cache[j] = pair_flow(estimator, self.frames[j], self.frames[j + 1], 0.01, 0.5, True)
            return cache[j]
        return get

    def object_xy(self, t: int) -> tuple[int, int]:
        return self.origin[0] + self.step[0] * t, self.origin[1] + self.step[1] * t


def make_clip(n: int = 30, h: int = 180, w: int = 320) -> MovingClip:
    rng = np.random.default_rng(1)
    bg = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), 2) * 0.5
    size = 60
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 1.5) * 0.6 + 100
    step, origin, bar = (6, 1), (20, 60), (200, 230)
    frames, visible = [], []
    for t in range(n):
        img, box = bg.copy(), np.zeros((h, w), bool)
        x, y = origin[0] + step[0] * t, origin[1] + step[1] * t
        img[y:y + size, x:x + size] = tex
        box[y:y + size, x:x + size] = True
        img[:, bar[0]:bar[1]] = 30
        box[:, bar[0]:bar[1]] = False
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
        visible.append(box)
    return MovingClip(frames, visible, step, origin, size, bar, [])


@pytest.fixture(scope="session")
def moving_clip() -> MovingClip:
    return make_clip()


@pytest.fixture(scope="session")
def moving_pairs(moving_clip):
    """Pair flows of the clip, computed once for the session."""
    return moving_clip.pairs(FlowEstimator(FlowConfig("medium", 480)), {})
