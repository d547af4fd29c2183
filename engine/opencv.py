"""OpenCV as the engine uses it: single-threaded, so a render is the same bits on every run and machine.

Every engine module imports ``cv2`` from here. OpenCV's own parallel loops made a convert's master differ
from run to run: in one process of about twelve, one frame of an 8-frame test clip came out one level
off (tests/engine/jobs/test_gpu_fallback.py compares two renders bit for bit; with OpenCV at one thread
it held in 50 of 50 runs). The thread count also changes some results (the weights-free depth by ~1e-6,
enough to tip a later decision), so a pool sized by the machine's cores gave different masters on
different machines, which a render farm cannot have. The engine's parallelism is its pipeline: decode,
depth, render and encode run as threads of their own (engine.jobs.stream), and numba's and torch's
kernels keep their pools.
"""

from __future__ import annotations

import cv2

cv2.setNumThreads(1)

__all__ = ["cv2"]
