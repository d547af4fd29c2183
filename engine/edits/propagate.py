"""A stroke's weight carried from the frame it was painted on to the rest of its shot by optical flow.

Flows are the DVG's pair flows (:func:`engine.dvg.fields.pair_flow`: DIS at the working resolution,
soft forward-backward confidence). A stroke painted on frame k reaches frame t through the chained
flow t -> k (never a direct long-range flow), built one step at a time outwards from k:

    forward (t > k):  F_{t->k} = F_{t->t-1} ∘ F_{t-1->k}        backward (t < k):  F_{t->k} = F_{t->t+1} ∘ F_{t+1->k}

(:func:`chain`: x + F_{t->k}(x) is where frame t's pixel x was on frame k; the chained confidence is
the least confident link's — a product would decay geometrically with distance even for good flow:
on DAVIS rollercoaster 20 soft links kept 18 % of a stroke's mass under a product). The weight is
then *pulled* once from the painted map, so it is resampled once however far it travels:

    w_t(x) = w_k(x + F_{t->k}(x)) · C_{t->k}(x)

It fades where the chained confidence drops (occlusion, the frame border, flow failure) and stops
where it has faded away (the carried weight's mass under ``MIN_MASS`` of the painted mass) or at a
pair of frames that does not match (a cut the shot list missed: ``CUT_MATCHED`` as DVG's guard).

Maps are sparse (:class:`engine.edits.raster.Weight` crops) at the size of δ; flows stay at the
working size and are sampled only inside the crop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from engine.dvg.fields import PairFlow
from engine.edits.raster import Weight
from engine.flow import sample_grid
from engine.opencv import cv2

MIN_MASS = 0.05  # carried weight below 5 % of the painted stroke's: faded away, stop carrying
CUT_MATCHED = 0.2  # a pair with fewer matched pixels than this is unrelated frames (a cut)

PairSource = Callable[[int], PairFlow]  # j -> flows between source frames j and j + 1


@dataclass(frozen=True)
class Carried:
    """A stroke's weight on every frame of its shot it reaches.

    Attributes:
        frame: the painted frame k.
        weights: source frame -> :class:`Weight` (k itself included); frames not in it get nothing.
        first, last: the frames the stroke reaches, inclusive (first <= frame <= last).
        notes: why carrying stopped before a shot end, one line each (empty when it reached both ends).
    """

    frame: int
    weights: dict[int, Weight]
    first: int
    last: int
    notes: tuple[str, ...] = field(default=())

    def at(self, source_frame: int, shape: tuple[int, int]) -> Weight:
        return self.weights.get(source_frame) or Weight.empty(shape)


def chain(step: tuple[np.ndarray, np.ndarray], rest: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Chain a one-frame step t -> t∓1 with the flow t∓1 -> k into t -> k.

    Args:
        step: flow (h, w, 2) float32 and its confidence (h, w), one frame.
        rest: the chained flow and confidence from the next frame to k.
    Returns:
        flow t -> k = step + rest(x + step(x)) (bilinear) and confidence min(step, rest(x + step(x)))
        (nearest; 0 outside the frame). The *least* confident link decides: a flow that is good but
        not perfect at every step keeps its confidence instead of decaying geometrically with distance.
    """
    flow, conf = step
    map_x, map_y = sample_grid(flow)
    f2 = cv2.remap(rest[0], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    c2 = cv2.remap(rest[1], map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return flow + f2, np.minimum(conf, c2)


def pull_weight(weight: Weight, flow: np.ndarray, conf: np.ndarray) -> Weight:
    """w_t(x) = w_k(x + F(x)) · C(x): the painted weight pulled along a (chained) flow t -> k.

    Args:
        weight: the weight on frame k at the size of δ, (H, W).
        flow: (h, w, 2) float32 flow t -> k at the working size, working pixels.
        conf: (h, w) float32 its confidence in [0, 1].
    Returns:
        :class:`Weight` on frame t, same (H, W).
    """
    if weight.is_empty:
        return weight
    (big_h, big_w), (h, w) = weight.shape, flow.shape[:2]
    sx, sy = big_w / w, big_h / h
    rows, cols = weight.slices
    # The crop's box in working pixels (one pixel of slack for bilinear sampling).
    bx0, bx1 = (cols.start + 0.5) / sx - 1.5, (cols.stop - 0.5) / sx + 0.5
    by0, by1 = (rows.start + 0.5) / sy - 1.5, (rows.stop - 0.5) / sy + 0.5
    tx = flow[..., 0] + np.arange(w, dtype=np.float32)[None, :]
    ty = flow[..., 1] + np.arange(h, dtype=np.float32)[:, None]
    hit = (tx >= bx0) & (tx <= bx1) & (ty >= by0) & (ty <= by1) & (conf > 0)
    hit_rows, hit_cols = np.nonzero(hit.any(axis=1))[0], np.nonzero(hit.any(axis=0))[0]
    if hit_rows.size == 0:
        return Weight.empty(weight.shape)
    y0, y1 = max(int(np.floor((hit_rows[0] - 1) * sy)), 0), min(int(np.ceil((hit_rows[-1] + 2) * sy)), big_h)
    x0, x1 = max(int(np.floor((hit_cols[0] - 1) * sx)), 0), min(int(np.ceil((hit_cols[-1] + 2) * sx)), big_w)
    xs = np.arange(x0, x1, dtype=np.float32)
    ys = np.arange(y0, y1, dtype=np.float32)
    map_x = np.broadcast_to(((xs + 0.5) / sx - 0.5)[None, :], (ys.size, xs.size)).astype(np.float32)
    map_y = np.broadcast_to(((ys + 0.5) / sy - 0.5)[:, None], (ys.size, xs.size)).astype(np.float32)
    f = cv2.remap(flow, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    c = cv2.remap(conf, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    src_x = (xs[None, :] + f[..., 0] * sx - cols.start).astype(np.float32)
    src_y = (ys[:, None] + f[..., 1] * sy - rows.start).astype(np.float32)
    pulled = cv2.remap(weight.crop, src_x, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    dense = np.clip(pulled * c, 0.0, 1.0).astype(np.float32)
    local = Weight.from_dense(dense)
    if local.is_empty:
        return Weight.empty(weight.shape)
    return Weight(weight.shape, y0 + local.y0, x0 + local.x0, local.crop)


def _side(weight: Weight, k: int, stop: int, step: int, pairs: PairSource,
          cancel: Callable[[], None] | None) -> Iterator[tuple[int, Weight | None, str]]:
    """Carry outwards from k one frame at a time towards `stop` (exclusive), `step` = +1 or -1.

    Yields (t, weight, "") per frame reached, then (t, None, why) at the frame where it stops early.
    """
    chained: tuple[np.ndarray, np.ndarray] | None = None
    painted = max(weight.mass, 1e-12)
    for t in range(k + step, stop, step):
        if cancel is not None:
            cancel()
        pair = pairs(min(t, t - step))
        if pair.matched_fraction < CUT_MATCHED:
            yield t, None, f"frames {min(t, t - step)} and {max(t, t - step)} do not match (a cut?)"
            return
        step_flow = (pair.backward, pair.conf_backward) if step > 0 else (pair.forward, pair.conf_forward)
        chained = step_flow if chained is None else chain(step_flow, chained)
        carried = pull_weight(weight, *chained)
        if carried.mass < MIN_MASS * painted:
            yield t, None, f"flow confidence collapsed at frame {t}"
            return
        yield t, carried, ""


def carry(weight: Weight, frame: int, start: int, end: int, pairs: PairSource,
          cancel: Callable[[], None] | None = None) -> Carried:
    """Carry a stroke painted on `frame` across the shot [start, end).

    Args:
        weight: the stroke's weight on `frame`, at the size of δ.
        frame: the painted source frame k, start <= k < end.
        start, end: the shot's source-frame range (half-open).
        pairs: j -> :class:`PairFlow` between frames j and j + 1 (at the working size), for start <= j < end - 1.
        cancel: called once per frame (raises to cancel, e.g. ``CancelToken.check``).
    Returns:
        :class:`Carried`.
    """
    if not start <= frame < end:
        raise ValueError(f"stroke frame {frame} is outside the shot [{start}, {end})")
    weights, notes, reach = {frame: weight}, [], {1: frame, -1: frame}
    if weight.is_empty:
        return Carried(frame, weights, frame, frame)
    for step, stop in ((1, end), (-1, start - 1)):
        for t, carried, why in _side(weight, frame, stop, step, pairs, cancel):
            if carried is None:
                notes.append(f"stroke painted on frame {frame} stops before frame {t}: {why}")
                break
            weights[t], reach[step] = carried, t
    return Carried(frame, weights, reach[-1], reach[1], tuple(notes))


def temporal_blend(frames: list[int], weights: list[Weight], t: int) -> list[Weight]:
    """Blend by temporal distance the weights on frame t of strokes of one kind painted on several frames.

    Per pixel, among the strokes whose weight there is > 0: those painted on the nearest frame at or
    before t (k_a) and at or after t (k_b) share it linearly — (k_b - t)/(k_b - k_a) and
    (t - k_a)/(k_b - k_a) — and farther ones get nothing; with strokes on one side only, the nearest
    frame's strokes apply fully. Strokes painted on one frame add up as painted. A pixel covered by
    one stroke only keeps its weight.

    Args:
        frames: painted frame of each stroke. weights: each stroke's weight on frame t (one (H, W)).
        t: the frame the weights are on.
    Returns:
        The blended weights, in the same order.
    """
    live = [i for i, w in enumerate(weights) if not w.is_empty]
    if len({frames[i] for i in live}) < 2:
        return list(weights)
    shape = weights[live[0]].shape
    y0 = min(weights[i].y0 for i in live)
    x0 = min(weights[i].x0 for i in live)
    y1 = max(weights[i].slices[0].stop for i in live)
    x1 = max(weights[i].slices[1].stop for i in live)
    stack = np.zeros((len(live), y1 - y0, x1 - x0), np.float32)
    for n, i in enumerate(live):
        rows, cols = weights[i].slices
        stack[n, rows.start - y0: rows.stop - y0, cols.start - x0: cols.stop - x0] = weights[i].crop
    k = np.asarray([frames[i] for i in live], np.float64)[:, None, None]
    on = stack > 0
    before = np.where(on & (k <= t), k, -np.inf).max(axis=0)
    after = np.where(on & (k >= t), k, np.inf).min(axis=0)
    span = np.where(np.isfinite(before) & np.isfinite(after) & (after > before), after - before, 1.0)
    share_a = np.where(np.isfinite(after) & (after > before), (after - t) / span, 1.0)
    share_b = np.where(np.isfinite(before) & (after > before), (t - before) / span, 1.0)
    factor = np.where(k == before, share_a, 0.0) + np.where((k == after) & (after != before), share_b, 0.0)
    out = list(weights)
    for n, i in enumerate(live):
        blended = Weight.from_dense(stack[n] * factor[n].astype(np.float32))
        out[i] = Weight(shape, y0 + blended.y0, x0 + blended.x0, blended.crop) if not blended.is_empty \
            else Weight.empty(shape)
    return out
