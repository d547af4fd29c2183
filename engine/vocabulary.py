"""The closed sets of names that cross the engine's boundaries (flags, project files, menus, JSON).

Pure Python, no imports: front ends (the CLI's parser, the studio's menus) read these without
starting torch, PyAV or OpenCV. Each is defined here once; the modules that act on the names
(``engine.ops.pack`` for layouts, ``engine.depth`` for kinds and models ...) import them from here.
"""

LAYOUTS = ("sbs-full", "sbs-half", "tb-full", "tb-half", "anaglyph", "anaglyph-half-colour", "pair")
"""Frame packings of a stereo master (CONVENTIONS.md "Files")."""

SYNTHESIZE_MODES = ("both", "right", "left")
"""Which eye(s) are synthesised: both (each half the shift), or keep the source as the left/right eye."""

DEPTH_KINDS = ("relative", "inverse", "metric", "disparity-px")
"""Meanings of raw depth values (CONVENTIONS.md "Depth kinds on import")."""

MODEL_NAMES = ("auto", "weights-free", "da2-small", "da2-base", "da2-large", "marigold")
"""``--depth-model`` values; each learned one is a sub-folder of the models folder."""

STABILISE_MODES = ("align", "ema", "off")
"""Temporal depth stabilisation within a shot."""

SHOT_DETECTORS = ("content", "adaptive")
"""Cut detectors: fixed threshold, or threshold relative to nearby frames."""

CODECS = ("h264", "hevc", "prores", "ffv1", "h264_nvenc", "hevc_nvenc")
"""Video codecs a master can be written with. The ``*_nvenc`` ones are NVIDIA's hardware encoders: usable
only where FFmpeg can open them (an NVIDIA GPU and driver); elsewhere they are refused before any work."""

HARDWARE_CODECS = {"h264_nvenc": "h264", "hevc_nvenc": "hevc"}
"""Hardware encoders and the format (a software codec of :data:`CODECS`) their streams are."""

DEPTH_EXPORT_FORMATS = ("png16", "exr", "npy")
"""``--export-depth-format`` values."""

DISPARITY_EXPORT_FORMATS = ("exr", "npy")
"""``--export-disparity-format`` values."""

EVAL_EYES = ("left", "right")
"""The eye `eval` scores against a ground truth and hole masks."""

PROGRESS_MODES = ("bar", "json", "none")
"""How a front end reports progress on a terminal."""

SCREEN_NAMES = ("tv65", "cinema", "desktop", "headset")
"""Screen presets of QC (CONVENTIONS.md "Screens and comfort budgets"); engine.grading.qc_screens defines them."""

QC_MASTER_LAYOUTS = ("sbs-full", "sbs-half", "tb-full", "tb-half")
"""Packings `qc --layout` can measure from a master's pixels."""
