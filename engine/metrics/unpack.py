"""Unpacking a delivered stereo frame back into its two eyes (the inverse of engine.ops.pack).

A packed frame may carry 1 px of edge padding on the right / bottom (4:2:0 codecs need even
sizes; engine.jobs.plan adds it). Half layouts were squeezed with an area filter; here each eye is
stretched back to its full size with bilinear interpolation, so scores of a half-layout master
include that round trip's loss. Anaglyphs mix the eyes and cannot be unpacked.
"""

from __future__ import annotations

import numpy as np

from engine.errors import UsageError
from engine.opencv import cv2

UNPACK_LAYOUTS = ("sbs-full", "sbs-half", "tb-full", "tb-half", "pair")
HALF_LAYOUTS = ("sbs-half", "tb-half")


def check_layout(layout: str) -> None:
    """Raise UsageError for a layout that cannot be unpacked (anaglyphs, unknown names)."""
    if layout in ("anaglyph", "anaglyph-half-colour"):
        raise UsageError(f"an {layout} master mixes the eyes and cannot be scored",
                         hint="Evaluate an sbs / tb / pair render of the same shot")
    if layout not in UNPACK_LAYOUTS:
        raise UsageError(f"unknown stereo layout {layout!r}", hint=f"Use one of {', '.join(UNPACK_LAYOUTS)}")


def packed_extent(eye_size: tuple[int, int], layout: str) -> tuple[int, int]:
    """(width, height) of the packed frame (one eye's file for pair) before padding.

    Args:
        eye_size: (width, height) of one eye.
        layout: one of :data:`UNPACK_LAYOUTS`.
    """
    check_layout(layout)
    w, h = eye_size
    return {"sbs-full": (2 * w, h), "sbs-half": (2 * ((w + 1) // 2), h), "tb-full": (w, 2 * h),
            "tb-half": (w, 2 * ((h + 1) // 2))}.get(layout, (w, h))


def _fits(frame_size: tuple[int, int], eye_size: tuple[int, int], layout: str) -> bool:
    """The frame is the packed size plus 0 or 1 px of padding on each axis."""
    pw, ph = packed_extent(eye_size, layout)
    return 0 <= frame_size[0] - pw <= 1 and 0 <= frame_size[1] - ph <= 1


def _width_candidates(frame_width: int, layout: str) -> list[int]:
    if layout == "sbs-full":
        return [frame_width // 2]
    if layout == "sbs-half":
        return [2 * (frame_width // 2), 2 * (frame_width // 2) - 1]
    return [frame_width, frame_width - 1]


def infer_eye_size(frame_size: tuple[int, int], layout: str,
                   source_size: tuple[int, int]) -> tuple[int, int] | None:
    """One eye's (width, height) in a packed frame rendered from a source of `source_size`.

    The source's own size first; else a width read off the frame and the height that keeps the
    source's aspect (as `--max-width` scales: max(2, round(h · w' / w))).

    Args:
        frame_size: (width, height) of the decoded packed frame (of one file for pair).
        layout: one of :data:`UNPACK_LAYOUTS`.
        source_size: (width, height) of the source.
    Returns:
        (width, height), or None when no eye size fits the frame.
    """
    check_layout(layout)
    if _fits(frame_size, source_size, layout):
        return source_size
    sw, sh = source_size
    for w in _width_candidates(frame_size[0], layout):
        eye = (w, max(2, round(sh * w / sw)))
        if 0 < w < sw and _fits(frame_size, eye, layout):
            return eye
    return None


def _stretch(half: np.ndarray, eye_size: tuple[int, int]) -> np.ndarray:
    if (half.shape[1], half.shape[0]) == eye_size:
        return half
    return cv2.resize(half, eye_size, interpolation=cv2.INTER_LINEAR)


def unpack(frame: np.ndarray, layout: str, eye_size: tuple[int, int],
           swap_eyes: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Split one packed frame into (left, right) eyes of `eye_size`.

    Args:
        frame: (H, W, C) packed frame (padding, if any, on the right / bottom). For "pair" pass
            the left file's frame here and use :func:`crop_eye` on the right file's.
        layout: sbs-full | sbs-half | tb-full | tb-half.
        eye_size: (width, height) of one eye (see :func:`infer_eye_size`).
        swap_eyes: the master has the right eye first (left / top).
    Returns:
        left, right: (height, width, C) each, the frame's dtype (half layouts stretched back
        bilinearly: pass float frames to avoid rounding twice).
    """
    check_layout(layout)
    if layout == "pair":
        raise ValueError("a pair master has one file per eye: crop each with crop_eye()")
    pw, ph = packed_extent(eye_size, layout)
    if not _fits((frame.shape[1], frame.shape[0]), eye_size, layout):
        raise ValueError(f"a {frame.shape[1]}x{frame.shape[0]} frame does not hold two {eye_size[0]}x"
                         f"{eye_size[1]} eyes as {layout}")
    packed = frame[:ph, :pw]
    if layout.startswith("sbs"):
        first, second = packed[:, : pw // 2], packed[:, pw // 2 :]
    else:
        first, second = packed[: ph // 2], packed[ph // 2 :]
    if layout in HALF_LAYOUTS:
        first, second = (_stretch(np.ascontiguousarray(x), eye_size) for x in (first, second))
    return (second, first) if swap_eyes else (first, second)


def crop_eye(frame: np.ndarray, eye_size: tuple[int, int]) -> np.ndarray:
    """One eye's file of a pair master with its padding removed: (height, width, C)."""
    if not _fits((frame.shape[1], frame.shape[0]), eye_size, "pair"):
        raise ValueError(f"a {frame.shape[1]}x{frame.shape[0]} frame is not a {eye_size[0]}x{eye_size[1]} "
                         "eye (with at most 1 px of padding)")
    return frame[: eye_size[1], : eye_size[0]]


def resize_area(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) image resized to size = (width, height) with an area filter (no-op at that size)."""
    if (image.shape[1], image.shape[0]) == size:
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
