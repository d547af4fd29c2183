"""SpatialDreamer engine: monocular video to stereo 3D, headless (never imports Qt)."""

__version__ = "0.1.0"
