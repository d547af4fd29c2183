"""Viewer modes and the per-frame view state shared by the GL viewer and its CPU fallback."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.document import DEFAULT_CONVERGENCE, DEFAULT_DIVERGENCE, StereoParams

#: (name, label, shader id) in menu order; the id is compose.frag's u_mode.
MODES = (
    ("anaglyph", "Anaglyph (Dubois)", 0),
    ("sbs", "Side by side", 1),
    ("tb", "Top / bottom", 2),
    ("left", "Left eye", 3),
    ("right", "Right eye", 4),
    ("blend", "50 % blend", 5),
    ("difference", "Difference", 6),
    ("depth", "Depth (grey)", 7),
    ("depth-colour", "Depth (colour map)", 8),
    ("heatmap", "Parallax heatmap", 9),
    ("source", "Source (before)", 10),
)
MODE_IDS = {name: mode_id for name, _, mode_id in MODES}
MODE_LABELS = {name: label for name, label, _ in MODES}
#: Modes that need the two eyes (the others read only the frame and its depth).
EYE_MODES = frozenset({"anaglyph", "sbs", "tb", "left", "right", "blend", "difference"})


def content_size(mode: str, width: int, height: int) -> tuple[int, int]:
    """Size in source pixels of what `mode` shows for an eye of `width` × `height`."""
    if mode not in MODE_IDS:
        raise ValueError(f"unknown viewer mode {mode!r}; modes are {', '.join(MODE_IDS)}")
    if mode == "sbs":
        return 2 * width, height
    if mode == "tb":
        return width, 2 * height
    return width, height


@dataclass(frozen=True)
class LiveGrade:
    """The five numbers the shaders take as uniforms: D (%), c and the depth curve (near, far, gamma)."""

    divergence: float = DEFAULT_DIVERGENCE
    convergence: float = DEFAULT_CONVERGENCE
    near: float = 0.0
    far: float = 1.0
    gamma: float = 1.0

    @classmethod
    def of(cls, params) -> LiveGrade:
        """From a document StereoParams (its depth curve, when it has one)."""
        curve = getattr(params, "curve", None)
        if curve is None:
            return cls(params.divergence, params.convergence)
        return cls(params.divergence, params.convergence, curve.near, curve.far, curve.gamma)


@dataclass(frozen=True)
class Budget:
    """A screen's comfort budget as the heatmap marks it: parallax in % of image width."""

    name: str = "tv65"
    low: float = -1.0
    high: float = 2.0
    divergence_limit: float = 4.5  # positive parallax wider than the eyes' 65 mm on that screen


@dataclass(frozen=True)
class ViewState:
    """Everything a redraw needs besides the frame: grade, mode, eyes, budget and the before/after flag."""

    params: StereoParams = field(default_factory=StereoParams)
    mode: str = "anaglyph"
    before: bool = False
    swap_eyes: bool = False
    budget: Budget = field(default_factory=Budget)
    show_master: bool = False

    @property
    def grade(self) -> LiveGrade:
        return LiveGrade.of(self.params)

    @property
    def shown_mode(self) -> str:
        """The mode actually drawn (the source while 'before' is held)."""
        return "source" if self.before else self.mode


@dataclass(frozen=True)
class FrameData:
    """One frame as the viewer draws it.

    Attributes:
        index: source frame number.
        rgb: (H, W, 3) uint8 or uint16 sRGB frame.
        delta: (h, w) float32 normalised depth δ (after edits, before the curve), any size.
        timecode: the frame's timecode text (HH:MM:SS:FF).
        provisional: the depth is a fast provisional map (shot not analysed yet).
        delta_range: (min, max) of δ's finite values, worked out in the worker that fetched the
            frame (None: the viewer works it out itself).
        bars: the letterbox / pillarbox bars of the frame's shot (engine Bars, the session's own
            detection) or None: the viewer keeps them at d = 0, as the master does.
    """

    index: int
    rgb: object
    delta: object
    timecode: str = ""
    provisional: bool = False
    delta_range: tuple[float, float] | None = None
    bars: object = None


def delta_range(delta) -> tuple[float, float]:
    """(min, max) of the finite values of δ (h, w); (0, 1) when none is finite."""
    import numpy as np

    delta = np.asarray(delta)
    flat = delta.ravel()
    if flat.size == 0:
        return 0.0, 1.0
    lo, hi = float(np.fmin.reduce(flat)), float(np.fmax.reduce(flat))  # NaN-skipping, no masked copy
    if np.isfinite(lo) and np.isfinite(hi):
        return lo, hi
    finite = delta[np.isfinite(delta)]  # all NaN, or ±inf present
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
