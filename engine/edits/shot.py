"""A shot's depth edits: its document strokes rasterised, carried across the shot and applied to δ.

:class:`ShotEdits` is what a render (convert, the session, the farm) asks per frame: the strokes'
weights on frame t (each rasterised at the size of δ on its painted frame k, snapped to frame k's
edges when edge-aware, carried to t by flow, blended by temporal distance with strokes of the same
kind painted on other frames) and δ after them. Everything it reads comes through what it is handed:
pair flows (a :data:`engine.edits.propagate.PairSource`) and the painted frames' images.

Carried maps are memoised per stroke (``memo``, shareable between instances), so adding a stroke
carries only that stroke and a δ change (a new depth model, new stabilisation) re-applies the edits to
the new δ without carrying anything again: weights depend on the images and the strokes, never on δ.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Protocol

import numpy as np

from engine.document import Stroke
from engine.edits.apply import Edit, apply_edits
from engine.edits.edge import snap_to_edges
from engine.edits.propagate import Carried, PairSource, carry, temporal_blend
from engine.edits.raster import Weight, stroke_weight

ImageSource = Callable[[int], np.ndarray]  # source frame -> (H, W, 3) image at the size of δ


class MatteSource(Protocol):
    """Where an imported matte's images come from (the render's I/O side supplies it)."""

    def count(self, stroke: Stroke) -> int:
        """How many matte images the stroke's matte has (0 when none can be read)."""

    def weight(self, stroke: Stroke, index: int, shape: tuple[int, int]) -> np.ndarray:
        """(H, W) float32 in [0, 1]: matte image `index` (0 = the stroke's frame) at `shape`."""


def painted_weight(stroke: Stroke, source_size: tuple[int, int], shape: tuple[int, int],
                   image: np.ndarray | None = None) -> Weight:
    """The stroke's weight on its painted frame at `shape` (snapped to `image`'s edges when edge-aware).

    Args:
        source_size: (W_s, H_s) of the full-resolution source. shape: (H, W) of δ.
        image: (H, W, 3) the painted frame at `shape` (needed for an edge-aware stroke; else ignored).
    """
    weight = stroke_weight(stroke.points, stroke.radius, stroke.softness, source_size, shape)
    if stroke.edge_aware and image is not None and not weight.is_empty:
        scale = shape[1] / source_size[0]
        weight = snap_to_edges(weight, image, max(stroke.radius, stroke.softness, 1.0) * scale)
    return weight


def blur_radius(stroke: Stroke, source_size: tuple[int, int], shape: tuple[int, int]) -> int:
    """smooth: the guided filter's radius in pixels of δ, half the brush radius (at least 1)."""
    return max(1, round(0.5 * stroke.radius * shape[1] / source_size[0]))


def stroke_problem(stroke: Stroke, start: int, end: int, weight: Weight) -> str | None:
    """Why a stroke changes nothing on this shot (one line), or None when it applies."""
    if stroke.matte and weight.is_empty:
        return f"stroke {stroke.id}: its matte {stroke.matte} is empty or unreadable: ignored"
    if stroke.radius <= 0 and not stroke.matte:
        return f"stroke {stroke.id} has zero radius: ignored"
    if not start <= stroke.frame < end:
        return f"stroke {stroke.id} was painted on frame {stroke.frame}, outside the shot [{start}, {end}): ignored"
    if weight.is_empty:
        return f"stroke {stroke.id} lies outside the frame: ignored"
    return None


class ShotEdits:
    """The strokes of one shot [start, end), carried and applied at the size of δ.

    Args:
        start, end: the shot's source-frame range.
        strokes: the shot's strokes in creation order (``Shot.strokes``).
        source_size: (W_s, H_s) full-resolution source size (stroke coordinates).
        shape: (H, W) of δ (an eye, a preview).
        pairs: pair flows of the shot's frames (None: no propagation; strokes apply on their own frame).
        image_at: the painted frames' images at `shape` (edge-aware strokes), or None.
        memo: carried maps by (start, end, shape, stroke), shared with other instances.
        mattes: the images of imported-matte strokes (None: such strokes are ignored, with a note).

    Hidden strokes (``visible`` False) are left out: they change nothing and carry nothing.
    """

    def __init__(self, start: int, end: int, strokes: Sequence[Stroke], source_size: tuple[int, int],
                 shape: tuple[int, int], pairs: PairSource | None = None, image_at: ImageSource | None = None,
                 memo: MutableMapping | None = None, mattes: MatteSource | None = None) -> None:
        self.start, self.end = int(start), int(end)
        self.strokes = tuple(s for s in strokes if s.visible)
        self.mattes = mattes
        self.source_size = (int(source_size[0]), int(source_size[1]))
        self.shape = (int(shape[0]), int(shape[1]))
        self.pairs = pairs
        self.image_at = image_at
        self.memo: MutableMapping = {} if memo is None else memo
        self.problems: dict[str, str] = {}

    def painted(self, stroke: Stroke) -> tuple[Weight, str | None]:
        """The stroke's weight on its painted frame and why it is ignored (None when it applies); memoised."""
        key = ("painted", self.start, self.end, self.shape, stroke)
        hit = self.memo.get(key)
        if hit is None:
            if stroke.matte:
                weight = self._matte_weight(stroke, 0)
            else:
                image = self.image_at(stroke.frame) if stroke.edge_aware and self.image_at is not None \
                    and self.start <= stroke.frame < self.end else None
                weight = painted_weight(stroke, self.source_size, self.shape, image)
            hit = self.memo[key] = (weight, stroke_problem(stroke, self.start, self.end, weight))
        return hit

    def _matte_weight(self, stroke: Stroke, index: int) -> Weight:
        if self.mattes is None or index >= self.mattes.count(stroke):
            return Weight.empty(self.shape)
        return Weight.from_dense(np.clip(self.mattes.weight(stroke, index, self.shape), 0.0, 1.0))

    def _matte_sequence(self, stroke: Stroke, weight: Weight) -> Carried:
        """A matte sequence: file j is the weight of frame `stroke.frame + j` (inside the shot), no flow."""
        count = self.mattes.count(stroke)
        last = min(self.end - 1, stroke.frame + count - 1)
        weights = {stroke.frame: weight}
        for t in range(stroke.frame + 1, last + 1):
            w = self._matte_weight(stroke, t - stroke.frame)
            if not w.is_empty:
                weights[t] = w
        notes = ()
        if stroke.frame > self.start or last < self.end - 1:
            notes = (f"stroke {stroke.id}: its matte covers frames {stroke.frame}-{last} of the shot "
                     f"[{self.start}, {self.end})",)
        return Carried(stroke.frame, weights, stroke.frame, last, notes)

    def carried(self, stroke: Stroke, cancel: Callable[[], None] | None = None) -> Carried:
        """The stroke's weight on every frame of the shot it reaches (memoised)."""
        key = (self.start, self.end, self.shape, stroke)
        hit = self.memo.get(key)
        if hit is not None:
            return hit
        weight, problem = self.painted(stroke)
        if problem is not None:
            result = Carried(stroke.frame, {}, stroke.frame, stroke.frame - 1, (problem,))
        elif stroke.matte and self.mattes.count(stroke) > 1:
            result = self._matte_sequence(stroke, weight)
        elif self.pairs is None or self.end - self.start < 2:
            why = "the shot is one frame long" if self.end - self.start < 2 else "no flow is available"
            result = Carried(stroke.frame, {stroke.frame: weight}, stroke.frame, stroke.frame,
                             (f"stroke {stroke.id} applies on frame {stroke.frame} only: {why}",))
        else:
            result = carry(weight, stroke.frame, self.start, self.end, self.pairs, cancel)
        self.memo[key] = result
        return result

    def is_carried(self, stroke: Stroke) -> bool:
        """Whether the stroke has been carried across the shot already (else only its painted frame is known)."""
        return (self.start, self.end, self.shape, stroke) in self.memo

    def weight_on(self, stroke: Stroke, t: int) -> Weight:
        """The stroke's (unblended) weight on frame t. On its painted frame this never waits for the carry,
        so a new stroke shows at once where it was painted while a worker carries it (:meth:`carried`)."""
        if t == stroke.frame and not self.is_carried(stroke):
            weight, problem = self.painted(stroke)
            return weight if problem is None else Weight.empty(self.shape)
        return self.carried(stroke).at(t, self.shape)

    def notes(self, wait: bool = True) -> list[str]:
        """One line per stroke that is ignored or does not reach the whole shot (`wait` False: only the
        strokes carried already, so nothing is computed)."""
        return [note for stroke in self.strokes if wait or self.is_carried(stroke)
                for note in self.carried(stroke).notes]

    def weights_at(self, t: int, wait: bool = True) -> list[Weight]:
        """Each stroke's weight on frame t, in creation order, blended by kind across painted frames
        (`wait` False: a stroke not carried yet counts only on its painted frame — nothing is carried)."""
        raw = [self.weight_on(s, t) if wait or t == s.frame or self.is_carried(s) else Weight.empty(self.shape)
               for s in self.strokes]
        out = list(raw)
        for kind in {s.kind for s in self.strokes}:
            idx = [i for i, s in enumerate(self.strokes) if s.kind == kind]
            blended = temporal_blend([self.strokes[i].frame for i in idx], [raw[i] for i in idx], t)
            for i, weight in zip(idx, blended, strict=True):
                out[i] = weight
        return out

    def edits_at(self, t: int) -> list[Edit]:
        """The edits on frame t, in creation order (strokes that do not reach t left out)."""
        edits = []
        for stroke, weight in zip(self.strokes, self.weights_at(t), strict=True):
            if not weight.is_empty:
                edits.append(Edit(stroke.kind, weight, stroke.amount, stroke.value,
                                  blur_radius(stroke, self.source_size, self.shape)))
        return edits

    def apply(self, delta: np.ndarray, t: int, image: np.ndarray | None = None) -> np.ndarray:
        """δ of frame t after the shot's edits (CONVENTIONS.md order), clamped on the footprints.

        Args:
            delta: (H, W) float32 δ of frame t, H, W = `shape`.
            image: (H, W, 3) frame t at `shape` (smooth's edge guide), or None.
        """
        if delta.shape != self.shape:
            raise ValueError(f"delta {delta.shape} is not the edit size {self.shape}")
        if not self.start <= t < self.end or not self.strokes:
            return delta
        return apply_edits(delta, self.edits_at(t), image)

    def overlay(self, t: int, wait: bool = True) -> np.ndarray:
        """(H, W) float32: the largest stroke weight at each pixel of frame t (the viewer's overlay;
        `wait` as in :meth:`weights_at`)."""
        out = np.zeros(self.shape, np.float32)
        for weight in self.weights_at(t, wait):
            if not weight.is_empty:
                rows, cols = weight.slices
                np.maximum(out[rows, cols], weight.crop, out=out[rows, cols])
        return out

    def reach(self, stroke: Stroke) -> tuple[int, int]:
        """(first, last) frames the stroke reaches (last < first when it is ignored)."""
        c = self.carried(stroke)
        return c.first, c.last
