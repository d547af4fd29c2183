"""The per-frame render assembly: ONE path that convert, `spatialdreamer frame`, the studio session
and the farm all use, so a preview is the master's frame.

    raw depth → stabilise → per-shot δ            (DepthStage: provider, cache, normalisers)
            → depth edits (hook)                   (:class:`DepthEditor`; the painting issue fills it)
            → depth curve → grade → disparity      (engine.grading.render.graded_disparity)
            → splat + fill (per-frame) or DVG      (make_stereo_renderer)
            → [refiner]                            (engine.jobs.refine.RefineStage, `--refiner`)
            → pack → image                         (pack, to_image)

:class:`FrameAssembly` holds the stereo renderer (DVG keeps temporal state across the frames of a
shot, so frames go in order and come out when complete) and the edit hook; the conversions between
decoded arrays and tensors live here too.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from torch import Tensor

from engine.document import StereoParams
from engine.dvg import TemporalStereo
from engine.flow import FlowEstimator
from engine.grading.floating_window import apply_floating_windows
from engine.grading.render import graded_disparity, render_graded
from engine.jobs.request import ConvertRequest
from engine.opencv import cv2
from engine.ops import StereoViews, _image_numba, pack
from engine.progress import Progress

if TYPE_CHECKING:
    from engine.jobs.refine import RefineStage
from engine.ops.fisheye import FisheyeCircle, FisheyePacker
from engine.ops.vr180 import Vr180Packer, vr180_size_for_eye


def eye_image(image: np.ndarray, eye_size: tuple[int, int]) -> np.ndarray:
    """Resize a decoded (H, W, 3) frame to the eye size with an area filter (no-op at full size)."""
    if (image.shape[1], image.shape[0]) == eye_size:
        return image
    return cv2.resize(image, eye_size, interpolation=cv2.INTER_AREA)


def source_image(frame, eye_size: tuple[int, int]) -> np.ndarray:
    """The picture a frame's eyes are rendered from, at eye size: the decoded (H, W, 3) uint8/uint16 frame,
    or — for an EXR plate read with its linear values (`Frame.scene`, an EXR output) — those values on the
    sRGB curve extended past [0, 1] (float32; engine.media.sequence.srgb_encode_extended), so highlights
    above 1.0 go through the render and come back exactly. Depth and analysis always use `frame.image`."""
    if getattr(frame, "scene", None) is None:
        return eye_image(frame.image, eye_size)
    from engine.media.sequence import srgb_encode_extended

    return eye_image(srgb_encode_extended(frame.scene), eye_size)


def to_tensor(image: np.ndarray, device: torch.device) -> Tensor:
    """(H, W, 3) uint8/uint16 -> (1, 3, H, W) float32 in [0, 1] on `device`; float32 (extended sRGB of an
    EXR plate, :func:`source_image`) is taken as it is. On the CPU one numba pass (engine.ops._image_numba),
    bit-identical to the torch path."""
    if image.dtype != np.float32 and torch.device(device).type == "cpu" and image.ndim == 3:
        h, w, c = image.shape
        out = torch.empty((1, c, h, w), dtype=torch.float32)
        _image_numba.hwc_to_chw(np.ascontiguousarray(image), _full_scale(image.dtype), out[0].numpy())
        return out
    t = torch.from_numpy(np.ascontiguousarray(image)).to(device)
    t = t.permute(2, 0, 1).unsqueeze(0)
    if image.dtype == np.float32:
        return t.to(torch.float32, copy=True)  # never the caller's memory
    return t.to(torch.float32).div_(_full_scale(image.dtype))


def _full_scale(dtype: np.dtype) -> float:
    """255.0 for uint8 frames, 65535.0 for uint16."""
    return 65535.0 if dtype == np.uint16 else 255.0


def depth_to_tensor(values: np.ndarray, device: torch.device) -> Tensor:
    """(H, W) float -> (1, 1, H, W) float32 on `device`."""
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).to(device)[None, None]


FLOAT_IMAGE = 32
"""`to_image` bit depth for an EXR output of an EXR plate: float32, unclipped (extended sRGB)."""


def to_image(t: Tensor, bit_depth: int, padding: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(1, 3, H, W) float [0, 1] -> (H + pad_b, W + pad_r, 3) uint8 (bit_depth 8) or uint16, edge-padded;
    bit_depth FLOAT_IMAGE (32) gives float32 with nothing clipped."""
    if bit_depth == FLOAT_IMAGE:
        out = np.ascontiguousarray(t[0].permute(1, 2, 0).to(torch.float32).cpu().numpy())
        if any(padding):
            out = np.pad(out, ((0, padding[1]), (0, padding[0]), (0, 0)), mode="edge")
        return out
    high = bit_depth > 8
    if t.device.type == "cpu" and t.dtype == torch.float32:
        _, c, h, w = t.shape
        planes = t[0].detach().contiguous().numpy()
        out = np.empty((h + padding[1], w + padding[0], c), np.uint16 if high else np.uint8)
        _image_numba.chw_to_hwc(planes, 65535.0 if high else 255.0, out[:h, :w])
        if any(padding):
            out[h:, :w] = out[h - 1:h, :w]
            out[:, w:] = out[:, w - 1:w]
        return out
    hwc = t[0].permute(1, 2, 0).clamp(0.0, 1.0).mul(65535.0 if high else 255.0).round_()
    out = hwc.to(torch.int32).cpu().numpy().astype(np.uint16) if high else hwc.to(torch.uint8).cpu().numpy()
    if any(padding):
        out = np.pad(out, ((0, padding[1]), (0, padding[0]), (0, 0)), mode="edge")
    return np.ascontiguousarray(out)


def halved_image(left: Tensor, right: Tensor, layout: str, swap_eyes: bool, bit_depth: int,
                 padding: tuple[int, int] = (0, 0)) -> np.ndarray | None:
    """``to_image(pack(left, right, layout, swap_eyes), bit_depth, padding)`` in one numba pass for the half
    layouts on the CPU (sbs-half with an even eye width, tb-half with an even height; float32 eyes, integer
    output), bit-identical; None where that does not apply (the caller packs, then converts).

    Args:
        left, right: (1, 3, H, W) float [0, 1].
    """
    across = layout == "sbs-half"
    if not (across or layout == "tb-half") or bit_depth == FLOAT_IMAGE:
        return None
    if left.shape != right.shape or left.ndim != 4 or left.shape[0] != 1:
        return None
    if any(t.device.type != "cpu" or t.dtype != torch.float32 for t in (left, right)):
        return None
    _, c, h, w = left.shape
    if (w if across else h) % 2:
        return None
    first, second = (right, left) if swap_eyes else (left, right)
    high = bit_depth > 8
    out = np.empty((h + padding[1], w + padding[0], c), np.uint16 if high else np.uint8)
    _image_numba.halved_pair_to_hwc(first[0].detach().contiguous().numpy(), second[0].detach().contiguous().numpy(),
                                    across, 65535.0 if high else 255.0, out[:h, :w])
    if any(padding):
        out[h:, :w] = out[h - 1:h, :w]
        out[:, w:] = out[:, w - 1:w]
    return out


class DepthEditor(Protocol):
    """The depth-edit hook (CONVENTIONS.md "Depth edits"): strokes applied to δ after per-shot
    normalisation and before the depth curve. The painting issue provides the implementation."""

    def apply(self, delta: Tensor, source_frame: int, image: Tensor) -> Tensor:
        """(1, 1, H, W) δ of `source_frame` -> edited δ (same shape); `image` (1, 3, H, W) for edge-aware strokes."""
        ...


def edited_depth(delta: Tensor, source_frame: int, image: Tensor, editor: DepthEditor | None) -> Tensor:
    """δ after the depth edits, clamped to [0, 1] (NaN stays unknown); `delta` itself without an editor.

    Args:
        delta: (1, 1, H, W) per-shot normalised depth.
        image: (1, 3, H, W) the frame at eye size.
    """
    if editor is None:
        return delta
    out = editor.apply(delta, source_frame, image)
    if out.shape != delta.shape:
        raise ValueError(f"a depth editor must keep δ's shape {tuple(delta.shape)}, got {tuple(out.shape)}")
    return out.clamp(0.0, 1.0)


@dataclass(frozen=True)
class PreparedFrame:
    """One frame ready for the stereo renderer.

    Attributes:
        index: source frame.
        image: (1, 3, H, W) float [0, 1] at eye size; None once staged when nothing after the stage reads it
            (:meth:`FrameAssembly.stage`).
        delta: (1, 1, H, W) δ after edits and before the curve (what `--export-depth` and `Session.depth`
            give); None for imported `disparity-px`.
        disparity: (1, 1, H, W) pixel disparity the eyes are rendered with.
        staged: the stereo renderer's per-frame work done ahead (:meth:`FrameAssembly.stage`), or None.
    """

    index: int
    image: Tensor | None
    delta: Tensor | None
    disparity: Tensor
    staged: Any = None


class PerFrameStereo:
    """The per-frame path: each frame's eyes from its own splat and spatial fill (no temporal state).

    Same interface as the temporal (DVG) renderer: `push` returns the frames that are complete.
    """

    def __init__(self, synthesize: str) -> None:
        self.synthesize = synthesize
        self.notes: list[str] = []

    def push(self, index: int, image: Tensor, disparity: Tensor) -> list[tuple[int, StereoViews]]:
        return [(index, self.stage(index, image, disparity))]

    def stage(self, index: int, image: Tensor, disparity: Tensor) -> StereoViews:
        """The whole per-frame render (no state: safe in a pipeline thread ahead of :meth:`push_staged`)."""
        return render_graded(image, disparity, None, self.synthesize)

    def push_staged(self, index: int, views: StereoViews) -> list[tuple[int, StereoViews]]:
        return [(index, views)]

    def flush(self) -> list[tuple[int, StereoViews]]:
        return []

    def reset(self) -> None:
        """Nothing carries over between frames."""


def make_stereo_renderer(request: ConvertRequest, device: torch.device) -> PerFrameStereo | TemporalStereo:
    """DVG (temporal mask propagation and inpainting, the default) or the per-frame path (`--temporal off`).

    Both see the same depth, stabilisation and grade: only hole filling differs.
    """
    if request.temporal:
        return TemporalStereo(request.dvg, request.synthesize, device)
    return PerFrameStereo(request.synthesize)


class FrameAssembly:
    """The master's per-frame path after depth: edits → curve → grade → eyes → floating windows → pack.

    Feed the frames of one shot in order with :meth:`push` (call :meth:`reset` — or :meth:`begin_shot`
    when a refiner runs — at each cut and :meth:`flush` at the end of a shot); each returns the frames
    whose eyes are complete. With a refiner, what they return goes through :meth:`refine` (a generator
    of per-step Progress) before packing.
    """

    def __init__(self, request: ConvertRequest, device: torch.device, editor: DepthEditor | None = None,
                 refiner: RefineStage | None = None, fisheye: tuple[int, FisheyeCircle] | None = None,
                 far_at_infinity: bool = False) -> None:
        """`fisheye`: (equirect eye size, image circle at eye size) of a mono 180° fisheye source, whose VR180
        eyes are its fisheye eyes reprojected to equirect (engine.jobs.plan.RenderPlan.fisheye_packing);
        `far_at_infinity`: every frame is graded with convergence 1 (a 180° source: zero disparity is infinity)."""
        self.request = request
        self.far_at_infinity = far_at_infinity
        self._fisheye = None if fisheye is None else FisheyePacker(fisheye[0], fisheye[1], device=device)
        self.device = device
        self.editor = editor
        self.stereo = make_stereo_renderer(request, device)
        self.refiner = refiner
        self._staged_last = None  # the frame :meth:`stage` saw last in this shot (DVG pair flows)
        self._stage_flow: FlowEstimator | None = None  # the staging thread's own DIS instance
        self._vr180: Vr180Packer | None = None
        self._bars: Tensor | None = None

    @property
    def notes(self) -> list[str]:
        return self.stereo.notes

    def prepare(self, index: int, image: np.ndarray, depth: Tensor, params: StereoParams | None) -> PreparedFrame:
        """One decoded frame (eye size) and its depth -> the inputs of the stereo renderer.

        Args:
            image: (H, W, 3) uint8/uint16 at eye size.
            depth: (1, 1, H, W) per-shot δ, or pixel disparity when `params` is None (`disparity-px`).
            params: the frame's grade (D, c, curve); None = imported disparity used as-is.
        """
        image_t = to_tensor(image, self.device)
        if params is None:
            return PreparedFrame(index, image_t, None, self.flat_bars(depth))
        if self.far_at_infinity:
            params = replace(params, convergence=1.0)
        frame = self.graded(index, image_t, edited_depth(depth, index, image_t, self.editor), params)
        return PreparedFrame(frame.index, frame.image, frame.delta, self.flat_bars(frame.disparity))

    def set_bars(self, bars) -> None:
        """Letterbox / pillarbox bars (engine.ops.bars.Bars at eye size, or None) to keep at d = 0."""
        self._bars = None if bars is None else torch.from_numpy(bars.mask()).to(self.device)[None, None]

    def flat_bars(self, disparity: Tensor) -> Tensor:
        """(1, 1, H, W) disparity with the bars on the screen plane (CONVENTIONS.md: d = 0)."""
        if self._bars is None:
            return disparity
        return torch.where(self._bars, torch.zeros_like(disparity), disparity)

    @staticmethod
    def graded(index: int, image: Tensor, delta: Tensor, params: StereoParams) -> PreparedFrame:
        """A frame whose δ is already edited: the depth curve and the grade give its disparity.

        Args:
            image: (1, 3, H, W) float; delta: (1, 1, H, W) δ after edits.
        """
        return PreparedFrame(index, image, delta, graded_disparity(delta, params))

    def stage(self, frame: PreparedFrame) -> PreparedFrame:
        """Do the stereo renderer's per-frame work now, so a pipeline thread can run it ahead of :meth:`push`.

        DVG: the eyes' splats and the flow to the previously staged frame; the per-frame path: the whole
        render. Call from one thread per shot, in frame order (the same result as :meth:`push` alone).
        The returned frame drops its image when nothing after the stage reads it (DVG synthesising both
        eyes, no refiner): 25 MB a 1080p frame fewer in the pipeline's queue.
        """
        if isinstance(self.stereo, TemporalStereo):
            if self._stage_flow is None:
                self._stage_flow = FlowEstimator(self.stereo.config.flow)
            staged = self.stereo.stage(frame.index, frame.image, frame.disparity, self._staged_last,
                                       self._stage_flow)
            self._staged_last = staged
            if self.refiner is None and self.stereo.synthesize == "both":
                return replace(frame, image=None, staged=staged)
        else:
            staged = self.stereo.stage(frame.index, frame.image, frame.disparity)
        return replace(frame, staged=staged)

    def push(self, frame: PreparedFrame) -> list[tuple[int, StereoViews]]:
        if self.refiner is not None:
            self.refiner.add_source(frame.index, frame.image)
        if frame.staged is not None:
            if isinstance(self.stereo, TemporalStereo):
                return self.stereo.push_staged(frame.staged)
            return self.stereo.push_staged(frame.index, frame.staged)
        return self.stereo.push(frame.index, frame.image, frame.disparity)

    def begin_shot(self, start: int, end: int) -> None:
        """A new shot of source frames [start, end): the stereo renderer and the refiner start afresh."""
        self.reset()
        if self.refiner is not None:
            self.refiner.begin_shot(start, end)

    def refine(self, ready: list[tuple[int, StereoViews]]) -> Generator[Progress, None, list[tuple[int, StereoViews]]]:
        """The refiner over frames the stereo renderer handed out: the frames now refined (`ready` itself
        without a refiner)."""
        if self.refiner is None:
            return ready
        return (yield from self.refiner.push(ready))

    def refine_one(self, frame: PreparedFrame, views: StereoViews) -> Generator[Progress, None, StereoViews]:
        """A still's eyes through the refiner (a one-frame shot, padded to its window); `views` without one."""
        if self.refiner is None:
            return views
        self.begin_shot(frame.index, frame.index + 1)
        self.refiner.add_source(frame.index, frame.image)
        (_, refined), = yield from self.refiner.push([(frame.index, views)])
        return refined

    def flush(self) -> list[tuple[int, StereoViews]]:
        return self.stereo.flush()

    def reset(self) -> None:
        self.stereo.reset()
        self._staged_last = None

    def packed(self, views: StereoViews, bit_depth: int, padding: tuple[int, int] = (0, 0),
               windows: tuple[float, float] = (0.0, 0.0)) -> list[np.ndarray]:
        """The eyes packed by the request's layout as image(s): one, or two for `pair`.

        Args:
            windows: floating-window widths (left, right) in % of the eye width, applied to each eye
                before packing (CONVENTIONS.md; they travel with their eye through `swap_eyes`).
        """
        left, right = apply_floating_windows(views.left, views.right, *windows)
        if self.request.vr180:
            packer = self._fisheye or self.vr180_packer(left)
            out = packer(left, right, swap_eyes=self.request.swap_eyes)
        else:
            fused = halved_image(left, right, self.request.layout, self.request.swap_eyes, bit_depth, padding)
            if fused is not None:
                return [fused]
            out = pack(left, right, self.request.layout, swap_eyes=self.request.swap_eyes)
        return [to_image(o, bit_depth, padding) for o in (out if isinstance(out, tuple) else (out,))]

    def vr180_packer(self, eye: Tensor) -> Vr180Packer:
        """The VR180 projection for eyes shaped like `eye` (1, 3, H, W), built once (grids on the device)."""
        h, w = eye.shape[-2:]
        size = vr180_size_for_eye(w, self.request.encode.format, self.request.max_width)
        if self._vr180 is None or (self._vr180.size, self._vr180.eye) != (size, (w, h)):
            self._vr180 = Vr180Packer(size, w, h, eye.device)
        return self._vr180

    def render_one(self, frame: PreparedFrame) -> StereoViews:
        """A lone frame through the per-frame path (a still, `--temporal off`): no temporal state."""
        return render_graded(frame.image, frame.disparity, None, self.request.synthesize)
