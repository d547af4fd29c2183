"""SpatialDreamer engine: monocular video to stereo 3D, headless (never imports Qt)."""

import os

__version__ = "0.1.0"

# numba's and torch's OpenMP pools both spin-wait by default; on a busy 2-core machine they starve each
# other (DVG at 1080p: 663 ms a frame spinning vs 236 ms passive; no cost when the machine is quiet).
# Must be set before either runtime starts; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# OpenCV's own "[ WARN:...]" lines (e.g. a damaged image) would reach the user's terminal beside our one-line
# errors, which already say what went wrong in our words. Read by OpenCV when it loads; a user's setting wins.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
