"""engine.opencv: the engine's one way to OpenCV, single-threaded so renders are reproducible."""

from __future__ import annotations

import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def test_opencv_runs_single_threaded_once_the_engine_has_it():
    from engine.opencv import cv2

    assert cv2.getNumThreads() == 1


def test_no_engine_module_imports_cv2_but_through_engine_opencv():
    """A module importing cv2 itself would still run single-threaded only if engine.opencv happened to be
    imported first; every one goes through it."""
    direct = [f"{path.relative_to(ENGINE.parent)}:{n}"
              for path in ENGINE.rglob("*.py") if path.name != "opencv.py" or path.parent != ENGINE
              for n, line in enumerate(path.read_text().splitlines(), 1)
              if re.match(r"\s*(import cv2\b|from cv2\b)", line)]
    assert direct == []
