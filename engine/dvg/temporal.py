"""Sliding-window DVG renderer: temporally consistent stereo for one shot at a time.

Per pushed frame t (source view + graded disparity): each synthesised eye is splatted
(:func:`engine.ops.splat_with_disparity`), its own holes grown by ``halo_px`` into their background side
(:func:`engine.ops.edges.background_halo`), its background disparity computed, the frame shrunk
to the flow's working size, and DIS flow computed with frame t-1 in both directions (with its
forward-backward confidence; a pair with too little consistent flow is treated as a cut).
Frame t is *completed* once t+K has arrived (lag K), or at :meth:`TemporalStereo.flush`:

1. flows t -> k for k = t±1 .. t±K, chained from pair flows, stopping at a cut (a pair matched by
   flow on fewer than ``min_confident_fraction`` of its pixels, or on less than ``cut_drop`` of the
   shot's typical share) or where the chained flow's confident fraction drops below
   ``min_confident_fraction``;
2. per eye, those flows carried into the target view (:mod:`engine.dvg.fields`);
3. the occlusion mask propagated from t-1 and t+1 (:mod:`engine.dvg.propagate`);
4. the holes filled from the neighbours' real content, the previous frame's final result, then — where
   the flow's forward-backward test failed but it is brightness-constant — t±1's real content and the
   previous result again, then spatially (:mod:`engine.dvg.inpaint`);
5. the emitted eyes' layer boundaries softened (``edge_blend``, :func:`engine.ops.edges.soften_edges`, as the
   per-frame render does), on a copy: the window keeps the unsoftened fill for the frames that carry it.

Memory: at most 2K+1 frames (their eyes, small grey images and disparities) and the 2K pair
flows between them; nothing grows with shot length. An eye keeps its splat, holes and background
disparity (its target disparity is rebuilt from them when it is emitted), and the integral image of
its holes only while a frame left to complete reads it (t-1 and t+1 of the one completing).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from engine.dvg.config import DvgConfig
from engine.dvg.fields import PairFlow, carry_to_target, pair_flow, source_motion
from engine.dvg.inpaint import Candidate, background_disparity, spatial_fill, temporal_fill
from engine.dvg.propagate import hole_integral, propagate_guided
from engine.errors import UsageError
from engine.flow import FlowEstimator, chain_flows, to_gray, working_size
from engine.opencv import cv2
from engine.ops import SYNTHESIZE_MODES, StereoViews, splat_with_disparity
from engine.ops._splat_numba import use_numba
from engine.ops.edges import background_halo, soften_edges

CUT_HISTORY = 8  # pairs of the shot whose matched fractions give its typical level (cut_drop)
EYE_SCALES = {"both": (("left", -0.5), ("right", 0.5)), "right": (("right", 1.0),), "left": (("left", -1.0),)}


@dataclass
class _Eye:
    """One synthesised eye of a frame in the window.

    Its target disparity (NaN in holes) is not held: it equals `background` outside the holes, and
    :attr:`disparity` rebuilds it when the frame is emitted (8 MB an eye at 1080p, × 2K+1 frames).
    """

    scale: float
    view: Tensor  # (1, 3, H, W) float32 splat; filled in place when the frame completes
    holes: Tensor  # (1, 1, H, W) bool own disocclusions
    background: Tensor  # (1, 1, H, W) float32 target disparity, holes given their background-side disparity
    integral: np.ndarray | None = None  # (H + 1, W + 1) int32 integral image of holes, while a neighbour needs it

    @property
    def disparity(self) -> Tensor:
        """(1, 1, H, W) float32 target disparity, NaN in holes (a new tensor)."""
        return self.background.masked_fill(self.holes, float("nan"))

    def hole_integral(self) -> np.ndarray:
        """:func:`hole_integral` of the own holes, made at the first call and kept until :meth:`release`."""
        if self.integral is None:
            self.integral = hole_integral(self.holes)
        return self.integral

    def release(self) -> None:
        """Drop the integral image (no frame left to complete reads this eye's holes through it)."""
        self.integral = None


@dataclass
class _Frame:
    index: int
    image: Tensor | None  # kept only when a source eye is output
    disparity: Tensor | None
    gray: np.ndarray  # (h, w) uint8 at working size
    disp_small: np.ndarray  # (h, w) float32 working px
    eyes: dict[str, _Eye]

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the frame's eyes."""
        return tuple(next(iter(self.eyes.values())).view.shape[-2:])


@dataclass(frozen=True)
class StagedFrame:
    """A frame after :meth:`TemporalStereo.stage`, ready for :meth:`TemporalStereo.push_staged`.

    Attributes:
        frame: its splatted eyes, small grey and disparity.
        pair: flows between the previously staged frame and this one (None at the start of a shot).
        previous: that previous frame's index (None at the start of a shot).
    """

    frame: _Frame
    pair: PairFlow | None
    previous: int | None


class TemporalStereo:
    """Sliding-window DVG renderer for one shot. Lag: K frames.

    Call :meth:`push` per frame in order, :meth:`flush` at the end of a shot (it also resets),
    :meth:`reset` at a cut to drop everything. Returned tensors may be shared with the window
    (the previous frame's unsoftened result is the next frame's carried fill candidate; with
    ``edge_blend`` 0 it is the emitted eye itself): treat them as read-only.

    Attributes:
        notes: human-readable notes for verbose output (cuts found, spatial-only frames);
            they accumulate over shots, clear the list when read.
    """

    def __init__(
        self,
        config: DvgConfig,
        synthesize: str = "both",
        device: torch.device | None = None,
        *,
        backend: str = "auto",
    ) -> None:
        if synthesize not in SYNTHESIZE_MODES:
            raise UsageError(
                f"unknown synthesize mode {synthesize!r}", hint=f"use one of {', '.join(SYNTHESIZE_MODES)}"
            )
        self.config = config
        self.synthesize = synthesize
        self.device = device
        self.backend = backend
        self.notes: list[str] = []
        self._estimator = FlowEstimator(config.flow)
        self.reset()

    @property
    def lag(self) -> int:
        """Frames between a push and the emission of the frame it completes."""
        return self.config.neighbours

    @property
    def window_length(self) -> int:
        """Frames held now (never more than 2K + 1)."""
        return len(self._frames)

    def reset(self) -> None:
        """Forget the shot: pending frames are dropped, no content crosses to the next push."""
        self._frames: deque[_Frame] = deque()
        self._pairs: dict[int, PairFlow] = {}
        self._cuts: set[int] = set()  # j: frames j and j+1 are treated as a cut
        self._levels: deque[float] = deque(maxlen=CUT_HISTORY)  # matched fractions since the last cut
        self._next: int | None = None
        self._size: tuple[int, int] | None = None

    @property
    def last_pushed(self) -> int | None:
        """Source index of the newest frame in the window (None when empty)."""
        return self._frames[-1].index if self._frames else None

    def snapshot(self) -> dict:
        """Everything the next push depends on — the window (eyes filled so far), the pair flows and the
        cut guard — as plain picklable data, so a chunked render continues exactly where this one stopped
        (:meth:`restore`). The objects are the window's own: save them before pushing again."""
        return {"version": 2, "frames": list(self._frames), "pairs": dict(self._pairs), "cuts": sorted(self._cuts),
                "levels": list(self._levels), "next": self._next, "size": self._size}

    def restore(self, state: dict) -> None:
        """Continue from a :meth:`snapshot` (same config and synthesize mode); the next push follows it."""
        if state.get("version") != 2:
            raise UsageError(f"unknown DVG state version {state.get('version')!r}")
        self.reset()
        self._frames = deque(state["frames"])
        self._pairs = dict(state["pairs"])
        self._cuts = set(state["cuts"])
        self._levels = deque(state["levels"], maxlen=CUT_HISTORY)
        self._next, self._size = state["next"], state["size"]

    def push(self, index: int, image: Tensor, disparity: Tensor) -> list[tuple[int, StereoViews]]:
        """Add frame `index` of the shot; return the frames completed by it, in order.

        Args:
            index: source frame index, consecutive within a shot.
            image: (1, 3, H, W) float in [0, 1], the source view.
            disparity: (1, 1, H, W) graded disparity in px (x_R = x_L - d; non-finite = unknown).
        Returns:
            [(index, views)] of completed frames: filled eyes, the propagated occlusion masks
            as holes (see :meth:`_views`), target disparities.
        """
        previous = self._frames[-1] if self._frames else None
        return self.push_staged(self.stage(index, image, disparity, previous, self._estimator))

    def stage(self, index: int, image: Tensor, disparity: Tensor, previous: _Frame | StagedFrame | None,
              estimator: FlowEstimator) -> StagedFrame:
        """The per-frame work of :meth:`push` that needs no window state: splats, small grey, pair flow.

        Safe to run in another thread than :meth:`push_staged` (a pipeline stage ahead of completion),
        given its own `estimator` (``FlowEstimator(config.flow)``; DIS instances are not thread-safe).

        Args:
            previous: the frame staged before this one in the same shot (its pair flow is computed),
                or None at the start of a shot.
        """
        image, disparity = self._checked_tensors(index, image, disparity)
        frame = self._prepare(index, image, disparity)
        if isinstance(previous, StagedFrame):
            previous = previous.frame
        pair = None
        if previous is not None and previous.gray.shape == frame.gray.shape:
            c = self.config
            pair = pair_flow(estimator, previous.gray, frame.gray, c.alpha, c.beta, c.soft_confidence)
        return StagedFrame(frame, pair, None if previous is None else previous.index)

    def push_staged(self, staged: StagedFrame) -> list[tuple[int, StereoViews]]:
        """:meth:`push` for a frame from :meth:`stage`: the window's checks, cut test and completion."""
        frame = staged.frame
        self._check_order(frame.index, frame.size)
        if self._frames:
            prev = self._frames[-1]
            if staged.pair is None or staged.previous != prev.index:
                raise UsageError(f"frame {frame.index} was staged after frame {staged.previous}, "
                                 f"but the window holds frame {prev.index}",
                                 hint="stage a shot's frames in order, each with the one before it")
            self._add_pair(prev, frame, staged.pair)
        else:
            self._next = frame.index
        self._frames.append(frame)
        done = []
        while self._next is not None and frame.index - self._next >= self.config.neighbours:
            done.append(self._complete(self._next))
        return done

    def flush(self) -> list[tuple[int, StereoViews]]:
        """End of shot: complete every pending frame, then reset."""
        done = []
        while self._frames and self._next is not None and self._next <= self._frames[-1].index:
            done.append(self._complete(self._next))
        self.reset()
        return done

    # -- per pushed frame -------------------------------------------------------------------

    def _prepare(self, index: int, image: Tensor, disparity: Tensor) -> _Frame:
        big_h, big_w = image.shape[-2:]
        w, h = working_size(big_w, big_h, self.config.flow.working_width)
        eyes = {}
        for name, scale in EYE_SCALES[self.synthesize]:
            view, holes, disp = splat_with_disparity(image, disparity, scale, backend=self.backend)
            if self.config.halo_px:
                holes, disp = background_halo(holes, disp, scale, self.config.halo_px, backend=self.backend)
            eyes[name] = _Eye(scale, view.contiguous(), holes, background_disparity(disp, holes, scale,
                                                                                    backend=self.backend))
        keep = self.synthesize != "both"
        return _Frame(index, image if keep else None, disparity if keep else None,
                      _gray_small(image, w, h), _disparity_small(disparity, w, h), eyes)

    def _checked_tensors(self, index: int, image: Tensor, disparity: Tensor) -> tuple[Tensor, Tensor]:
        """The frame's tensors checked for shape and moved to the renderer's device (no window state)."""
        if image.ndim != 4 or image.shape[:2] != (1, 3) or not image.is_floating_point():
            raise UsageError(
                f"frame {index}: image must be a (1, 3, H, W) float tensor, got {tuple(image.shape)}"
            )
        if tuple(disparity.shape) != (1, 1, *image.shape[-2:]):
            raise UsageError(f"frame {index}: disparity must be (1, 1, H, W) like the image, "
                             f"got {tuple(disparity.shape)} for {tuple(image.shape)}")
        device = self.device or image.device
        return image.to(device, torch.float32).contiguous(), disparity.to(device, torch.float32).contiguous()

    def _check_order(self, index: int, size: tuple[int, int]) -> None:
        """Frames of a shot come consecutively and keep one size."""
        if self._frames and index != self._frames[-1].index + 1:
            raise UsageError(f"frame {index} pushed after frame {self._frames[-1].index}",
                             hint="push a shot's frames consecutively; call flush() or reset() between shots")
        if self._size is not None and size != self._size:
            raise UsageError(
                f"frame {index} is {size[1]}x{size[0]} but the shot is {self._size[1]}x{self._size[0]}",
                hint="call flush() or reset() before a shot of another size",
            )
        self._size = size

    def _add_pair(self, prev: _Frame, frame: _Frame, pair: PairFlow) -> None:
        """Record the pair flow prev -> frame and test it for a cut."""
        c = self.config
        self._pairs[prev.index] = pair
        matched = pair.matched_fraction
        typical = float(np.median(self._levels)) if self._levels else None
        if matched < c.min_confident_fraction:
            why = f"(< {c.min_confident_fraction:.0%})"
        elif typical is not None and matched < c.cut_drop * typical:
            why = f"(< {c.cut_drop:.0%} of the {typical:.0%} typical of this shot so far)"
        else:
            self._levels.append(matched)
            return
        self._cuts.add(prev.index)
        self._levels.clear()
        self.notes.append(f"frames {prev.index}-{frame.index}: only {matched:.0%} of the pixels match by flow "
                          f"{why}: treated as a cut, no temporal content crosses")

    # -- completion -------------------------------------------------------------------------

    def _complete(self, c: int) -> tuple[int, StereoViews]:
        frame = self._frame(c)
        usable = self._neighbours(c)
        if not usable:
            self.notes.append(f"frame {c}: single-frame shot: spatial fill only" if len(self._frames) == 1
                              else f"frame {c}: no neighbour with consistent flow (cut or very fast motion): "
                                   "spatial fill only")
        nbs = [self._frame(k) for k, _ in usable]
        motion = source_motion([flow for _, flow in usable], frame.disp_small, [nb.disp_small for nb in nbs],
                               frame.gray, [nb.gray for nb in nbs]) if usable else None
        masks = {name: self._complete_eye(frame, name, usable, motion) for name in frame.eyes}
        views = self._views(frame, masks)
        if self._frames[0].index <= c - 1:  # frame c-1's holes are read by no frame left to complete
            for eye in self._frame(c - 1).eyes.values():
                eye.release()
        self._next = c + 1
        while self._frames and self._frames[0].index < self._next - self.config.neighbours:
            gone = self._frames.popleft().index
            self._pairs.pop(gone, None)
            self._cuts.discard(gone)
        return c, views

    def _complete_eye(self, frame: _Frame, name: str, usable: list[tuple[int, tuple]],
                      motion: np.ndarray | None) -> Tensor:
        """Propagate the mask and fill the holes of one eye of `frame`; return the propagated mask."""
        eye = frame.eyes[name]
        tol = self.config.depth_tolerance_px
        if not usable:
            spatial_fill(eye.view, eye.holes, eye.background, eye.scale, backend=self.backend)
            return eye.holes.clone()
        rx = frame.disp_small.shape[1] / eye.view.shape[-1]
        carried = carry_to_target(motion, frame.disp_small, eye.scale, tol * rx)
        device = eye.view.device
        fields, guide = carried.fill.to(device), carried.guide.to(device)
        nb_eyes = [self._frame(k).eyes[name] for k, _ in usable]
        adjacent = [i for i, (k, _) in enumerate(usable) if abs(k - frame.index) == 1]
        mask = propagate_guided(
            eye.holes, [nb_eyes[i].holes for i in adjacent], carried.propagate(adjacent).to(device), guide,
            eye.background, tol, backend=self.backend,
            integrals=[nb_eyes[i].hole_integral() for i in adjacent] if use_numba(device, self.backend) else None,
        )
        candidates = [Candidate(e.view, e.holes, e.background, fields[i]) for i, e in enumerate(nb_eyes)]
        previous = [i for i in adjacent if usable[i][0] == frame.index - 1]
        if previous:  # its final result, for holes no frame saw (filled in place when it completed)
            e = nb_eyes[previous[0]]
            candidates.append(Candidate(e.view, e.holes, e.background, fields[previous[0]], carried=True))
        # where the forward-backward test failed but the flow is brightness-constant: t±1's real content,
        # then the previous frame's fill, rather than a spatial fill redone (and flickering) every frame
        constant = {i: carried.brightness_constant(i).to(device) for i in adjacent}
        candidates += [Candidate(nb_eyes[i].view, nb_eyes[i].holes, nb_eyes[i].background, constant[i])
                       for i in adjacent]
        if previous:
            e = nb_eyes[previous[0]]
            candidates.append(Candidate(e.view, e.holes, e.background, constant[previous[0]], carried=True))
        temporal_fill(eye.view, eye.holes, eye.background, guide, candidates, eye.scale, tol,
                      backend=self.backend)
        return mask

    def _neighbours(self, c: int) -> list[tuple[int, tuple[np.ndarray, np.ndarray]]]:
        """Usable neighbours of frame c as (k, (flow c -> k, confidence)), ordered c-1, c+1, c-2, c+2, ..."""
        found = []
        for step in (-1, 1):
            chain = None
            for dist in range(1, self.config.neighbours + 1):
                k = c + step * dist
                pair = self._pairs.get(min(k, k - step))
                if pair is None or min(k, k - step) in self._cuts:
                    break
                link = (pair.forward, pair.conf_forward) if step > 0 else (pair.backward, pair.conf_backward)
                chain = link if chain is None else chain_flows(chain, link)
                if float(np.mean(chain[1] >= 0.5)) < self.config.min_confident_fraction:
                    break
                found.append((dist, step, k, chain))
        found.sort(key=lambda item: (item[0], item[1]))
        return [(k, chain) for _, _, k, chain in found]

    def _frame(self, index: int) -> _Frame:
        return self._frames[index - self._frames[0].index]

    def _views(self, frame: _Frame, masks: dict[str, Tensor]) -> StereoViews:
        """StereoViews of a completed frame.

        A synthesised eye's holes are its *propagated* occlusion mask (the paper's m^t: its own
        disocclusions plus those carried from t±1 where the flow is confident) — the region a
        refiner should regenerate consistently. Only the own disocclusions were filled; the
        extra pixels keep their rendered content. Its image is the filled view with its layer
        boundaries softened by ``edge_blend`` (a copy; the window keeps the unsoftened view).
        A source eye is the pushed tensor itself.
        """
        parts = {}
        blend = self.config.edge_blend
        for name in ("left", "right"):
            eye = frame.eyes.get(name)
            if eye is None:
                no_holes = torch.zeros_like(frame.disparity, dtype=torch.bool)
                parts[name] = (frame.image, no_holes, frame.disparity)
            else:
                view = eye.view if blend <= 0.0 else soften_edges(eye.view, eye.background, eye.scale, blend,
                                                                   backend=self.backend)
                parts[name] = (view, masks[name], eye.disparity)
        (left, lh, ld), (right, rh, rd) = parts["left"], parts["right"]
        return StereoViews(left, right, lh, rh, ld, rd)


def _gray_small(image: Tensor, w: int, h: int) -> np.ndarray:
    """(1, 3, H, W) float [0, 1] -> (h, w) uint8 grey at working size (area filter)."""
    big_h, big_w = image.shape[-2:]
    if image.device.type != "cpu":
        small = F.interpolate(image, size=(h, w), mode="area") if (w, h) != (big_w, big_h) else image
        return to_gray(small[0].permute(1, 2, 0).cpu().numpy())
    planes = image[0].numpy()
    if (w, h) != (big_w, big_h):
        planes = [cv2.resize(p, (w, h), interpolation=cv2.INTER_AREA) for p in planes]
    return to_gray(np.stack(planes, axis=-1))


def _disparity_small(disparity: Tensor, w: int, h: int) -> np.ndarray:
    """(1, 1, H, W) px -> (h, w) float32 working px, nearest sample (no blending across depth edges).

    Sample (i, j) is full pixel (floor((i + 0.5) H / h), floor((j + 0.5) W / w)).
    """
    big_h, big_w = disparity.shape[-2:]
    d = disparity[0, 0]
    if (w, h) == (big_w, big_h):
        return np.ascontiguousarray(d.cpu().numpy(), dtype=np.float32)
    iy = np.minimum(((np.arange(h) + 0.5) * (big_h / h)).astype(np.int64), big_h - 1)
    ix = np.minimum(((np.arange(w) + 0.5) * (big_w / w)).astype(np.int64), big_w - 1)
    if d.device.type == "cpu":
        small = d.numpy()[np.ix_(iy, ix)]
    else:
        small = d[torch.from_numpy(iy).to(d.device)][:, torch.from_numpy(ix).to(d.device)].cpu().numpy()
    return np.ascontiguousarray(small * np.float32(w / big_w), dtype=np.float32)
