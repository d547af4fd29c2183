"""Our own cut detectors (numpy + OpenCV): the default, so a plain ``pip install`` detects shots.

They follow PySceneDetect 0.7's ContentDetector and AdaptiveDetector (Castellano, BSD-3) step for
step, so either backend gives the same cuts on the same frames (tests hold them within one frame):

- **score** of frame t: the mean absolute difference of the H, S and V planes of the 8-bit HSV image
  (OpenCV's BGR2HSV) of frames t-1 and t, averaged over the three planes (0 for the first frame).
- ``content``: a cut where the score >= threshold (default 27); cuts closer than ``min_shot_frames``
  are merged (a run of high scores, e.g. a fast pan, becomes one cut where it ends).
- ``adaptive``: the score divided by the mean score of ``window`` (2) frames on each side; a cut
  when that ratio >= threshold (default 3) and the score >= 15, at least ``min_shot_frames`` after
  the previous one. It needs ``window`` frames of look-ahead: :meth:`finish` holds the last frame.

Each detector takes frames in order through :meth:`push` (source index, (h, w, 3) uint8 BGR) and
returns the cuts it can decide so far; :meth:`finish` returns the rest.
"""

from __future__ import annotations

import numpy as np

from engine.opencv import cv2

CONTENT_THRESHOLD = 27.0
ADAPTIVE_THRESHOLD = 3.0
ADAPTIVE_MIN_SCORE = 15.0
ADAPTIVE_WINDOW = 2


def hsv_planes(bgr: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 BGR -> (h, w, 3) int32 HSV (OpenCV's 8-bit scale: H 0..179, S and V 0..255)."""
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV).astype(np.int32)


def content_score(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean over H, S, V of the mean absolute plane difference of two (h, w, 3) int32 HSV images."""
    return float(np.abs(current - previous).mean(axis=(0, 1)).mean())


def adaptive_ratio(scores: list[float], window: int, min_score: float) -> float:
    """Score of the middle frame of `scores` (2·window + 1 long) over the mean of the others, capped at 255.

    A flat neighbourhood (mean ~0) gives 255 when the middle score reaches `min_score`, else 0.
    """
    target = scores[window]
    mean = (sum(scores) - target) / (2.0 * window)
    if abs(mean) < 1e-5:
        return 255.0 if target >= min_score else 0.0
    return min(target / mean, 255.0)


class _Scorer:
    """Frame-to-frame content scores of a stream."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None

    def score(self, bgr: np.ndarray) -> float:
        hsv = hsv_planes(bgr)
        previous, self._previous = self._previous, hsv
        return 0.0 if previous is None else content_score(previous, hsv)


class ContentCuts:
    """Fixed-threshold cuts, with PySceneDetect's merge filter for cuts closer than `min_shot_frames`."""

    def __init__(self, threshold: float | None = None, min_shot_frames: int = 8) -> None:
        self.threshold = CONTENT_THRESHOLD if threshold is None else float(threshold)
        self.min_frames = int(min_shot_frames)
        self._scorer = _Scorer()
        self._last_above: int | None = None
        self._merge_enabled = False
        self._merging = False
        self._merge_start = 0

    def push(self, index: int, bgr: np.ndarray) -> list[int]:
        """Score frame `index`; the cuts decided by it."""
        return self._filter(index, self._scorer.score(bgr) >= self.threshold)

    def _filter(self, index: int, above: bool) -> list[int]:
        if self._last_above is None:
            self._last_above = index
        long_enough = index - self._last_above >= self.min_frames
        if above:
            self._last_above = index
        if self._merging:
            if long_enough and not above and self._last_above - self._merge_start >= self.min_frames:
                self._merging = False
                return [self._last_above]
            return []
        if not above:
            return []
        if long_enough:
            self._merge_enabled = True
            return [index]
        if self._merge_enabled:
            self._merging, self._merge_start = True, index
        return []

    def finish(self, end: int, last_bgr: np.ndarray) -> list[int]:
        """No look-ahead: nothing is pending at the end of the range."""
        return []


class AdaptiveCuts:
    """Cuts where the score stands out from its neighbours (robust to steady fast motion)."""

    def __init__(self, threshold: float | None = None, min_shot_frames: int = 8,
                 window: int = ADAPTIVE_WINDOW, min_score: float = ADAPTIVE_MIN_SCORE) -> None:
        self.threshold = ADAPTIVE_THRESHOLD if threshold is None else float(threshold)
        self.min_frames, self.window, self.min_score = int(min_shot_frames), int(window), float(min_score)
        self._scorer = _Scorer()
        self._buffer: list[tuple[int, float]] = []
        self._last_cut: int | None = None

    def push(self, index: int, bgr: np.ndarray) -> list[int]:
        """Score frame `index`; a cut `window` frames back, if that frame was one."""
        if self._last_cut is None:
            self._last_cut = index
        self._buffer = [*self._buffer, (index, self._scorer.score(bgr))][-(2 * self.window + 1):]
        if len(self._buffer) < 2 * self.window + 1:
            return []
        target = self._buffer[self.window][0]
        ratio = adaptive_ratio([s for _, s in self._buffer], self.window, self.min_score)
        if ratio >= self.threshold and self._buffer[self.window][1] >= self.min_score \
                and target - self._last_cut >= self.min_frames:
            self._last_cut = target
            return [target]
        return []

    def finish(self, end: int, last_bgr: np.ndarray) -> list[int]:
        """Judge the last `window` frames by holding the last frame (zero difference) past the end."""
        found: list[int] = []
        for index in range(end, end + self.window):
            found += self.push(index, last_bgr)
        return [cut for cut in found if cut < end]
