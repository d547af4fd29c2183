"""`--vr180` of a source that is already 180°: what it is, and passing it through.

A flat source is placed on the headset's virtual screen (engine.ops.vr180). A source that is already
180° is not: it is recognised (:func:`vr180_source`) from

- its projection metadata — an `sv3d` box or Matroska projection with 180° equirect bounds, Apple's
  `prji` 'hequ' (half equirect) or 'fish' (fisheye), as FFmpeg reads them — and its declared frame
  packing (`st3d`, Matroska StereoMode, frame-packing SEI);
- else its picture: one or two 180° fisheye image circles with black outside them
  (engine.ops.fisheye.find_fisheye_layout, on the brightest value of each pixel over a few frames);
- or `--vr180-input flat|equirect|fisheye`, which overrides both.

Then:

- mono 180° equirect: the stereo pair is synthesised on the equirect picture and packed as it is;
- mono 180° fisheye: synthesised on the fisheye picture, then each eye reprojected to 180° equirect
  (equidistant model, engine.ops.fisheye);
- stereo (two views side by side, or top and bottom for equirect): nothing is synthesised — the eyes
  are the source's, an equirect pair copied, a fisheye pair reprojected to equirect eye by eye
  (:func:`pass_stereo_through`); no depth is estimated.

Every case is tagged st3d + sv3d (MP4/MOV) and said on the convert output.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import UsageError
from engine.media import MediaInfo, MediaReader, commit_together, write_still
from engine.ops.fisheye import (
    FisheyeCircle,
    FisheyePacker,
    equirect_size_for,
    find_fisheye_layout,
    inscribed_circle,
)
from engine.ops.vr180 import EYE_SIZE_LIMITS
from engine.progress import CancelToken, Progress

VR180_INPUTS = ("auto", "flat", "equirect", "fisheye")
"""`--vr180-input`: how a `--vr180` source is read (auto: from its metadata, else its picture)."""
SAMPLES = 5


@dataclass(frozen=True)
class Vr180Source:
    """A `--vr180` source that is already 180°.

    Attributes:
        projection: 'equirect' or 'fisheye'.
        packing: None (one view: the stereo pair is synthesised), 'left_right' or 'top_bottom' (two views,
            passed through).
        found_by: 'metadata', 'picture' or '--vr180-input' (said on the output).
        circles: a fisheye's image circle per view, in that view's own pixels (source size); () for equirect.
    """

    projection: str
    packing: str | None
    found_by: str
    circles: tuple[FisheyeCircle, ...] = ()

    @property
    def is_stereo(self) -> bool:
        return self.packing is not None

    def describe(self) -> str:
        """'two 180° fisheye circles side by side (found in the picture: ...)' and the like."""
        views = {None: "one", "left_right": "two, side by side", "top_bottom": "two, top and bottom"}[self.packing]
        kind = "180° fisheye image circle" if self.projection == "fisheye" else "180° equirect view"
        where = {"metadata": "from its projection metadata", "picture": "found in the picture",
                 "--vr180-input": "as --vr180-input says"}[self.found_by]
        circles = "; ".join(c.describe() for c in self.circles)
        return f"{kind}s: {views} ({where}{': ' + circles if circles else ''})"


def sample_images(reader: MediaReader, count: int = SAMPLES) -> list[np.ndarray]:
    """Up to `count` decoded frames spread over the source (first and last included)."""
    n = len(reader)
    picks = sorted({(n - 1) * k // max(1, count - 1) for k in range(count)})
    return [reader.frame(i).image for i in picks]


def _declared_packing(info: MediaInfo) -> str | None:
    mode = info.video.stereo_mode
    return mode if mode in ("left_right", "top_bottom") else None


def vr180_source(mode: str, reader: MediaReader) -> Vr180Source | None:
    """What a `--vr180` source already is (None: a flat picture, to place on the virtual screen).

    Args:
        mode: `--vr180-input` ('auto', 'flat', 'equirect', 'fisheye').
    """
    info = reader.info
    if mode == "flat":
        return None
    projection = info.video.projection
    packing = _declared_packing(info)
    if mode == "equirect" or (mode == "auto" and projection == "equirect-180"):
        return Vr180Source("equirect", packing, "metadata" if mode == "auto" else "--vr180-input")
    if mode == "auto" and projection not in (None, "fisheye"):
        return None  # 360°, cubemap ...: said by the plan's notes, rendered as a flat picture
    found = find_fisheye_layout(sample_images(reader))
    by = "--vr180-input" if mode == "fisheye" else "metadata" if projection == "fisheye" else "picture"
    if found is not None:
        layout, circles = found
        return Vr180Source("fisheye", "left_right" if layout == "sbs" else None, by, circles)
    if mode == "auto" and projection is None:
        return None
    w, h = info.video.width, info.video.height  # metadata or the flag say fisheye; the picture shows no rim
    if packing == "left_right":
        return Vr180Source("fisheye", packing, by, (inscribed_circle((w // 2, h)),) * 2)
    return Vr180Source("fisheye", None, by, (inscribed_circle((w, h)),))


def equirect_cap(codec: str, max_width: int | None) -> int:
    """The largest per-eye equirect size for the codec (engine.ops.vr180.EYE_SIZE_LIMITS) and --max-width."""
    return min(EYE_SIZE_LIMITS.get(codec, 2048), max_width or 1 << 30)


def view_size(info: MediaInfo, packing: str) -> tuple[int, int]:
    """(width, height) of one view of a stereo source."""
    w, h = info.video.width, info.video.height
    return (w // 2, h) if packing == "left_right" else (w, h // 2)


def stereo_sizes(source: Vr180Source, info: MediaInfo, codec: str, max_width: int | None
                 ) -> tuple[tuple[int, int], tuple[int, int]]:
    """(eye size, frame size) of a stereo source's pass-through: a fisheye pair becomes two S × S equirect
    eyes (S keeps the circle's pixel density, capped); an equirect pair keeps its views' size (scaled down
    to --max-width)."""
    if source.projection == "fisheye":
        size = equirect_size_for(source.circles[0], equirect_cap(codec, max_width))
        return (size, size), (2 * size, size)
    w, h = view_size(info, source.packing)
    if max_width is not None and w > max_width:
        w, h = max_width, max(2, round(h * max_width / w))
    return (w, h), (2 * w, h)


def check_stereo_request(request, source: Vr180Source) -> None:
    """Refuse what means nothing for a source whose eyes are passed through (no depth, no synthesis)."""
    unused = [flag for flag, on in (("--export-depth", request.export_depth is not None),
                                    ("--export-holes", request.export_holes is not None), ("--aov", request.aov),
                                    ("--refiner", request.refiner is not None), ("--depth", request.depth is not None),
                                    ("--project", request.project is not None)) if on]
    if unused:
        raise UsageError(f"the source is already stereo VR180 ({source.describe()}): --vr180 passes its eyes "
                         f"through, so {', '.join(unused)} does not apply",
                         hint="Leave it out, or pass --vr180-input flat to convert the picture as one flat view")


def split_views(image: np.ndarray, packing: str) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) stereo frame -> its (left, right) views."""
    if packing == "left_right":
        half = image.shape[1] // 2
        return image[:, :half], image[:, half:2 * half]
    half = image.shape[0] // 2
    return image[:half], image[half:2 * half]


class StereoPassThrough:
    """One stereo 180° frame -> the VR180 side-by-side frame: fisheye views reprojected to equirect (each through
    its own circle; area-resized first when the equirect eye is smaller than the circle, so nothing aliases),
    equirect views copied (resized only for --max-width)."""

    def __init__(self, source: Vr180Source, eye_size: tuple[int, int], padding: tuple[int, int],
                 device: torch.device) -> None:
        self.source, self.eye_size, self.padding, self.device = source, eye_size, padding, device
        self.view_size: tuple[int, int] | None = None
        self.packer: FisheyePacker | None = None
        if source.projection == "fisheye":
            circle = source.circles[0]
            scale = min(1.0, eye_size[0] / (2 * circle.radius))
            w, h = circle.size
            self.view_size = (max(16, round(w * scale)), max(16, round(h * scale)))
            self.packer = FisheyePacker(eye_size[0], *(c.scaled(self.view_size) for c in source.circles[:2]),
                                        device=device)

    def __call__(self, image: np.ndarray, swap_eyes: bool = False) -> np.ndarray:
        """(H, W, 3) stereo frame -> (S, 2S, 3) (+ padding), same dtype; `swap_eyes` shows the right view to the
        left eye (each reprojected through its own circle)."""
        from engine.jobs.frame import eye_image, to_image, to_tensor

        views = split_views(image, self.source.packing)
        if self.packer is None:
            out = np.concatenate([eye_image(v, self.eye_size) for v in views[::-1 if swap_eyes else 1]], axis=1)
            if any(self.padding):
                out = np.pad(out, ((0, self.padding[1]), (0, self.padding[0]), (0, 0)), mode="edge")
            return np.ascontiguousarray(out)
        left, right = (to_tensor(np.ascontiguousarray(eye_image(v, self.view_size)), self.device) for v in views)
        return to_image(self.packer(left, right, swap_eyes), 16 if image.dtype == np.uint16 else 8, self.padding)


def pass_stereo_through(request, plan, reader: MediaReader, device: torch.device,
                        cancel: CancelToken) -> Iterator[Progress]:
    """The whole job for a stereo 180° source: its eyes to a VR180 master (no depth, no synthesis),
    tagged st3d + sv3d, audio and colour carried as for any master."""
    source = plan.vr180_source
    assert source is not None and source.is_stereo
    convert_eyes = StereoPassThrough(source, plan.eye_size, plan.padding, device)
    if plan.is_still:
        image = convert_eyes(reader.frame(0).image, request.swap_eyes)
        write_still(Path(plan.outputs[0]), image, overwrite=request.overwrite)
        yield Progress("render", 1, 1)
        return
    from engine.jobs import convert  # the master's writers exactly as convert opens them (st3d + sv3d, audio ...)
    from engine.jobs.stream import prefetch

    writers = convert._open_writers(request, plan, reader.info)
    t0 = reader.frame(plan.start).time
    try:
        for k, frame in enumerate(prefetch(reader.frames(plan.start, plan.end), maxsize=2, name="decode-vr180")):
            cancel.check()
            writers[0].write(convert_eyes(frame.image, request.swap_eyes), frame.time - t0)
            yield Progress("render", k + 1, plan.frame_count)
        commit_together(writers)
    except BaseException:
        for writer in writers:
            writer.abort()
        raise


def source_note(source: Vr180Source) -> str:
    """What the convert output says about a 180° source."""
    if source.is_stereo:
        what = ("each eye reprojected to 180° equirect (equidistant fisheye)" if source.projection == "fisheye"
                else "the eyes copied as they are")
        return f"VR180: the source is already stereo 180° — {source.describe()}: {what}; no depth, no synthesis"
    infinity = ("; zero disparity is infinity in a 180° picture, so the far plane is put there (convergence 1: "
                "--convergence and keyed convergence are not used) and everything else in front of it")
    if source.projection == "fisheye":
        return (f"VR180: the source is 180° fisheye — {source.describe()}: the stereo pair is synthesised on the "
                f"fisheye picture and each eye reprojected to 180° equirect (no screen projection){infinity}")
    return (f"VR180: the source is already 180° equirect — {source.describe()}: its eyes are synthesised on the "
            f"equirect picture and passed through (no screen projection){infinity}")


__all__ = ["VR180_INPUTS", "StereoPassThrough", "Vr180Source", "check_stereo_request", "equirect_cap",
           "pass_stereo_through", "source_note", "split_views", "stereo_sizes", "vr180_source"]
