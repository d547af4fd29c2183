"""Shot-cut detection on frames from our own reader: our built-in detectors, or PySceneDetect's.

The frames come from :class:`engine.media.MediaReader`, so cut positions are exactly our source-frame
indices. Each frame is downscaled to `analysis_width`, turned into 8-bit BGR and pushed to the
detector. The default backend, :mod:`engine.shots.builtin` (numpy + OpenCV), implements PySceneDetect's
``ContentDetector`` / ``AdaptiveDetector`` algorithms, so a plain ``pip install`` needs no PySceneDetect;
``backend="pyscenedetect"`` runs PySceneDetect itself when it is installed (tests hold the two within a
frame of each other on our test clips and real footage).

Conventions: a **cut at frame k** is a boundary between frames k-1 and k (frame k opens the new
shot); cuts lie strictly inside the analysed range (start, end); shots are half-open [start, end).

What the detectors do (measured on the synthetic clips in tests/engine/shots and on real footage):
- ``content``: HSV frame difference against a fixed threshold (default 27). Hard cuts are found
  exactly; slow drift and brightness ramps are ignored. A fast pan over detailed texture scores
  above the threshold on every frame: with min_shot_frames 1 that is a cut per frame; with a longer
  minimum, PySceneDetect's merge filter folds the run into one cut where it ends, right when a cut
  ends the pan, but a false cut at the start and the end of a pan that stays inside one shot.
- ``adaptive`` (default): the same score divided by the mean score of `window_width` (2) frames on
  each side; a cut when the ratio >= threshold (default 3.0) and the score >= 15. Steady fast motion
  gives no cut. It needs `window_width` frames of look-ahead; past the end of the range the last frame
  is held (zero difference), so cuts in the last frames are judged against the frames before them.
  It misses a cut into or out of a shot whose motion alone scores over about a third of the cut's
  score (e.g. a 12 px/frame pan over ~12 px detail at 160 px wide).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import SpatialDreamerError, UsageError
from engine.opencv import cv2
from engine.progress import CancelToken, Progress
from engine.shots.builtin import AdaptiveCuts, ContentCuts
from engine.shots.ranges import cuts_to_ranges, enforce_min_length
from engine.vocabulary import SHOT_DETECTORS as DETECTORS

if TYPE_CHECKING:
    from engine.media import MediaReader

STAGE = "shots"
BACKENDS = ("builtin", "pyscenedetect")


@dataclass(frozen=True)
class ShotDetectConfig:
    """How to look for cuts.

    Attributes:
        detector: 'content' (fixed threshold) or 'adaptive' (threshold relative to nearby frames).
        threshold: content: score threshold (PySceneDetect default 27.0); adaptive: ratio threshold
            (default 3.0). None uses the detector's default.
        min_shot_frames: shortest shot kept, in frames (PySceneDetect's own default is 15; ours is
            explicit and also applies to the first and the last shot).
        analysis_width: frames wider than this are downscaled (area filter) before scoring.
        backend: 'builtin' (ours, the default) or 'pyscenedetect' (needs PySceneDetect installed).
    """

    detector: str = "adaptive"
    threshold: float | None = None
    min_shot_frames: int = 8
    analysis_width: int = 320
    backend: str = "builtin"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if self.detector not in DETECTORS:
            raise ValueError(f"detector {self.detector!r} is not one of {', '.join(DETECTORS)}")
        if self.threshold is not None and not self.threshold > 0:
            raise ValueError(f"threshold must be positive, not {self.threshold}")
        if self.min_shot_frames < 1:
            raise ValueError(f"min_shot_frames must be at least 1, not {self.min_shot_frames}")
        if self.analysis_width < 16:
            raise ValueError(f"analysis_width must be at least 16 pixels, not {self.analysis_width}")


def analysis_frame(image: np.ndarray, width: int) -> np.ndarray:
    """The small 8-bit BGR image the detectors score.

    Args:
        image: (H, W, 3) RGB, uint8, or uint16 on the full 0..65535 scale.
        width: target width; narrower frames keep their size.
    Returns:
        (h, w, 3) uint8 BGR, contiguous; w = min(W, width), aspect kept.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {image.shape}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 or uint16, got {image.dtype}")
    h, w = image.shape[:2]
    if w > width:
        image = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def _require_scenedetect() -> None:
    """PySceneDetect is optional; say how to get it (or to use ours) when it is asked for and missing."""
    try:
        import scenedetect  # noqa: F401
    except ImportError as exc:
        raise SpatialDreamerError(
            "the pyscenedetect shot backend needs PySceneDetect, which is not installed",
            hint="pip install --no-deps scenedetect==0.7.2, or use the built-in detector (the default)") from exc


class SceneDetectCuts:
    """PySceneDetect's own detector behind the built-in detectors' push/finish interface."""

    def __init__(self, config: ShotDetectConfig, fps: Fraction) -> None:
        _require_scenedetect()
        from scenedetect.detectors import AdaptiveDetector, ContentDetector

        self.fps = fps
        if config.detector == "content":
            extra = {} if config.threshold is None else {"threshold": float(config.threshold)}
            self._detector = ContentDetector(min_scene_len=config.min_shot_frames, **extra)
            self._lookahead = 0
        else:
            extra = {} if config.threshold is None else {"adaptive_threshold": float(config.threshold)}
            self._detector = AdaptiveDetector(min_scene_len=config.min_shot_frames, **extra)
            self._lookahead = self._detector.window_width

    def push(self, index: int, bgr: np.ndarray) -> list[int]:
        from scenedetect import FrameTimecode

        return [tc.frame_num for tc in self._detector.process_frame(FrameTimecode(index, self.fps), bgr)]

    def finish(self, end: int, last_bgr: np.ndarray) -> list[int]:
        """Hold the last frame for the look-ahead window, then post-process."""
        from scenedetect import FrameTimecode

        found: list[int] = []
        for index in range(end, end + self._lookahead):
            found += self.push(index, last_bgr)
        found += [tc.frame_num for tc in self._detector.post_process(FrameTimecode(end + self._lookahead, self.fps))]
        return [cut for cut in found if cut < end]


Detector = ContentCuts | AdaptiveCuts | SceneDetectCuts


def make_detector(config: ShotDetectConfig, fps: Fraction = Fraction(24)) -> Detector:
    """A fresh detector for `config` (one per pass: detectors keep state)."""
    if config.backend == "pyscenedetect":
        return SceneDetectCuts(config, fps)
    if config.detector == "content":
        return ContentCuts(config.threshold, config.min_shot_frames)
    return AdaptiveCuts(config.threshold, config.min_shot_frames)


def resolve_range(frame_count: int, start: int, end: int | None) -> tuple[int, int]:
    """[start, end) clipped to the media; UsageError when empty."""
    end = frame_count if end is None else min(int(end), frame_count)
    if not 0 <= start < end:
        raise UsageError(f"frame range [{start}, {end}) is empty or outside the media (0..{frame_count})")
    return int(start), end


def detect_cuts(reader: MediaReader, config: ShotDetectConfig = ShotDetectConfig(), start: int = 0,
                end: int | None = None, cancel: CancelToken | None = None,
                ) -> Generator[Progress, None, list[int]]:
    """Find cuts in source frames [start, end) of `reader`.

    A generator yielding ``Progress("shots", done, total)`` once per analysed frame and checking
    `cancel` between frames; its return value (``StopIteration.value``) is the sorted list of cut
    frames, each strictly inside (start, end), no shot shorter than ``config.min_shot_frames``.

    Args:
        reader: an open media reader (frames are read sequentially, once).
        start, end: the range to analyse; `end` None means to the last frame.
    """
    start, end = resolve_range(len(reader), start, end)
    detector = make_detector(config, Fraction(reader.info.video.fps))
    cuts: list[int] = []
    bgr = np.zeros((1, 1, 3), np.uint8)
    for frame in reader.frames(start, end):
        if cancel is not None:
            cancel.check()
        bgr = analysis_frame(frame.image, config.analysis_width)
        cuts += detector.push(frame.index, bgr)
        yield Progress(STAGE, frame.index - start + 1, end - start)
    cuts += detector.finish(end, bgr)
    return enforce_min_length(cuts, start, end, config.min_shot_frames)


def detect_shots(reader: MediaReader, config: ShotDetectConfig = ShotDetectConfig(), start: int = 0,
                 end: int | None = None, cancel: CancelToken | None = None) -> list[tuple[int, int]]:
    """Run :func:`detect_cuts` to the end; half-open source-frame ranges covering [start, end)."""
    start, end = resolve_range(len(reader), start, end)
    job = detect_cuts(reader, config, start, end, cancel)
    while True:
        try:
            next(job)
        except StopIteration as stop:
            return cuts_to_ranges(stop.value, start, end)
