"""Apple spatial video (MV-HEVC): spotting it on the way in, writing it where `hevc_nvenc` can.

In: an iPhone / Vision Pro spatial video is MV-HEVC in MP4/MOV, its video sample entry carrying
`lhvC` (the layered-HEVC configuration of the second view) and Apple's `vexu` (eyes, baseline,
disparity adjustment) with `hfov` beside it. FFmpeg's HEVC decoder reads only the base layer (the
left eye) unless asked for more views, so such a file converts as a flat source; :func:`is_mv_hevc`
lets the plan say so.

Out (`--layout spatial`): the bundled libx265 is built without multiview and FFmpeg 8's only MV-HEVC
encoder is `hevc_nvenc` (profile `mv`, an NVIDIA GPU and driver with MV-HEVC). :func:`mv_hevc_usable`
opens it for real — PyAV lists it even where it cannot run. Each output frame's two eyes go to it as
two frames, left then right, through FFmpeg's `framepack=frameseq` filter (:class:`ViewInterleaver`),
which attaches the STEREO3D side data (frame sequence, view left/right) that nvenc's MV-HEVC support
reads (upstream: "compatible with the framepack filter when using the AV_STEREO3D_FRAMESEQUENCE
format") — PyAV itself cannot attach side data. No machine of ours has NVENC, so that encode is
unverified; the metadata around it is not:

PyAV cannot give the muxer stream side data either, so the spatial metadata boxes are written by us
(as `st3d`/`sv3d` are, engine.media.isobmff) into the video sample entry after the mux, from Apple's
"ISO Base Media File Format and Apple HEVC Stereo Video" and in the layout FFmpeg 8's mov muxer
writes (libavformat/movenc.c, mov_write_vexu_tag / mov_write_hfov_tag):

    vexu (Box)
      proj (Box) > prji (FullBox v0)   uint32 projection_kind: 'rect' (a flat picture), 'equi', 'hequ', 'fish'
      eyes (Box)
        stri (FullBox v0)              uint8 bits: 0 has left eye view, 1 has right, 2 additional views, 3 reversed
        hero (FullBox v0)              uint8 hero eye: 0 none, 1 left, 2 right
        cams (Box) > blin (FullBox v0) uint32 baseline, micrometres
        cmfy (Box) > dadj (FullBox v0) int32 horizontal disparity adjustment, 1/10000 of the image width
    hfov (Box)                         uint32 horizontal field of view, thousandths of a degree
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.filter

MV_HEVC_BOXES = (b"lhvC", b"vexu")
MACOS_HINT = ("Write a full side-by-side HEVC master (--layout sbs-full --codec hevc -o master.mov) and make "
              "the spatial video on macOS: Apple Compressor (4.8+) or the free `spatial` command-line tool "
              "(`spatial make -i master.mov -f sbs -o spatial.mov`)")
MV_HEVC_ENCODER = "hevc_nvenc"
MV_HEVC_OPTIONS = {"profile": "mv"}
"""hevc_nvenc's multiview main profile (NV_ENC_HEVC_PROFILE_MULTIVIEW_MAIN)."""
PROJECTIONS = ("rect", "equi", "hequ", "fish")
_HERO = {None: 0, "left": 1, "right": 2}


@dataclass(frozen=True)
class SpatialMetadata:
    """What Apple's players read about a spatial video.

    Attributes:
        baseline_mm: distance between the two views' centres of projection (the stereo camera's baseline), mm.
        hfov_degrees: horizontal field of view of one eye's picture, degrees.
        disparity_adjustment: relative horizontal shift of the two images the player applies, which moves
            the zero-parallax plane; a fraction of the image width in [-1, 1].
        projection: 'rect' (a flat picture), 'equi', 'hequ' (180° equirect) or 'fish'.
        hero: the eye shown in 2D ('left', 'right' or None).
    """

    baseline_mm: float
    hfov_degrees: float
    disparity_adjustment: float = 0.0
    projection: str = "rect"
    hero: str | None = "left"

    def __post_init__(self) -> None:
        if not 0 < self.baseline_mm < 4294.0 or not 0 < self.hfov_degrees <= 360.0:
            raise ValueError(f"baseline {self.baseline_mm} mm / field of view {self.hfov_degrees}° out of range")
        if not -1.0 <= self.disparity_adjustment <= 1.0:
            raise ValueError(f"disparity adjustment {self.disparity_adjustment} is outside [-1, 1]")
        if self.projection not in PROJECTIONS or self.hero not in _HERO:
            raise ValueError(f"unknown projection {self.projection!r} or hero eye {self.hero!r}")


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full(kind: bytes, payload: bytes) -> bytes:
    return _box(kind, b"\0\0\0\0" + payload)  # version 0, flags 0


def vexu_box(meta: SpatialMetadata) -> bytes:
    """Apple's `vexu` for a two-view video (both eyes, left first): proj > prji, eyes > stri, hero,
    cams > blin, cmfy > dadj (the order FFmpeg 8 writes and reads)."""
    proj = _box(b"proj", _full(b"prji", meta.projection.encode("ascii")))
    stri = _full(b"stri", bytes([0x03]))
    hero = _full(b"hero", bytes([_HERO[meta.hero]])) if meta.hero else b""
    cams = _box(b"cams", _full(b"blin", struct.pack(">I", round(meta.baseline_mm * 1000))))
    cmfy = _box(b"cmfy", _full(b"dadj", struct.pack(">i", round(meta.disparity_adjustment * 10000))))
    return _box(b"vexu", proj + _box(b"eyes", stri + hero + cams + cmfy))


def hfov_box(meta: SpatialMetadata) -> bytes:
    """`hfov`: the horizontal field of view in thousandths of a degree (a plain box, 12 bytes)."""
    return _box(b"hfov", struct.pack(">I", round(meta.hfov_degrees * 1000)))


def spatial_boxes(meta: SpatialMetadata) -> list[bytes]:
    """The boxes a spatial master's video sample entry gets, in the order FFmpeg writes them: vexu, hfov."""
    return [vexu_box(meta), hfov_box(meta)]


def _children(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """{type: (payload start, end)} of the boxes laid end to end in data[start:end]; ValueError if malformed."""
    out, pos = {}, start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        if size < 8 or pos + size > end:
            raise ValueError(f"{kind!r} box at {pos} has a bad size {size}")
        out.setdefault(kind, (pos + 8, pos + size))
        pos += size
    return out


def parse_vexu(box: bytes) -> dict:
    """{'views': ('left', 'right'), 'reversed', 'hero', 'baseline_mm', 'disparity_adjustment', 'projection'}
    of a `vexu` box (absent children give None); ValueError for a malformed box."""
    top = _children(box, 0, len(box))
    if b"vexu" not in top:
        raise ValueError("not a vexu box")
    vexu = _children(box, *top[b"vexu"])
    out = {"views": (), "reversed": False, "hero": None, "baseline_mm": None, "disparity_adjustment": None,
           "projection": None}
    if b"proj" in vexu:
        prji = _children(box, *vexu[b"proj"]).get(b"prji")
        out["projection"] = box[prji[0] + 4:prji[0] + 8].decode("latin-1") if prji else None
    if b"eyes" not in vexu:
        return out
    eyes = _children(box, *vexu[b"eyes"])
    if b"stri" in eyes:
        bits = box[eyes[b"stri"][0] + 4]
        out["views"] = tuple(name for bit, name in ((0, "left"), (1, "right")) if bits >> bit & 1)
        out["reversed"] = bool(bits >> 3 & 1)
    if b"hero" in eyes:
        out["hero"] = {0: None, 1: "left", 2: "right"}.get(box[eyes[b"hero"][0] + 4])
    for holder, kind, key, fmt, scale in ((b"cams", b"blin", "baseline_mm", ">I", 1000),
                                          (b"cmfy", b"dadj", "disparity_adjustment", ">i", 10000)):
        inner = _children(box, *eyes[holder]).get(kind) if holder in eyes else None
        if inner:
            out[key] = struct.unpack_from(fmt, box, inner[0] + 4)[0] / scale
    return out


def parse_hfov(box: bytes) -> float:
    """Degrees of an `hfov` box; ValueError for another box."""
    if len(box) < 12 or box[4:8] != b"hfov":
        raise ValueError("not an hfov box")
    return struct.unpack_from(">I", box, 8)[0] / 1000


def is_mv_hevc(path: str | Path) -> bool:
    """True when an MP4/MOV's video sample entry says MV-HEVC: `lhvC` (the second layer's configuration), or
    Apple's `vexu` with both eye views (a `vexu` with only a projection marks a one-view 180° / fisheye video)."""
    from engine.media.isobmff import sample_entry_children

    try:
        boxes = dict(sample_entry_children(Path(path)))
        return b"lhvC" in boxes or (b"vexu" in boxes and len(parse_vexu(boxes[b"vexu"])["views"]) == 2)
    except (OSError, ValueError, IndexError):
        return False


def _open_refusal() -> str | None:
    """Why hevc_nvenc with the multiview profile does not open here (None when it does)."""
    try:
        context = av.CodecContext.create(MV_HEVC_ENCODER, "w")
    except (av.FFmpegError, ValueError):  # UnknownCodecError is a ValueError
        return ("this FFmpeg has no hevc_nvenc (the only MV-HEVC encoder in FFmpeg 8; libx265 is built "
                "without multiview)")
    context.width, context.height, context.pix_fmt = 256, 256, "yuv420p"
    context.time_base = Fraction(1, 24)
    context.options = dict(MV_HEVC_OPTIONS)
    try:
        context.open()
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return (f"hevc_nvenc with the multiview profile does not open here ({reason}: it needs an NVIDIA GPU "
                "and driver with MV-HEVC; libx265 is built without multiview)")
    finally:
        del context
    return None


def mv_hevc_usable() -> bool:
    """hevc_nvenc opens with the multiview profile on this machine (so `--layout spatial` can be written)."""
    return _open_refusal() is None


def spatial_encoder_status() -> str:
    """What `--layout spatial` can do on this machine (one sentence; never empty)."""
    why = _open_refusal()
    if why is not None:
        return why
    return ("hevc_nvenc opens with the multiview profile: --layout spatial writes MV-HEVC through it, with vexu "
            "and hfov (unverified path: no machine of ours has NVENC)")


class ViewInterleaver:
    """Two eyes -> two frames, left then right, carrying FFmpeg's STEREO3D side data (type frame sequence,
    view left / right) as its `framepack=frameseq` filter attaches it: what hevc_nvenc's MV-HEVC mode
    reads to tell the views apart. Frames keep the caller's pts (the filter's doubled-rate timing is not
    used)."""

    def __init__(self, width: int, height: int, pix_fmt: str, time_base: Fraction) -> None:
        self.graph = av.filter.Graph()
        self.sources = [self.graph.add_buffer(width=width, height=height, format=pix_fmt, time_base=time_base)
                        for _ in range(2)]
        pack = self.graph.add("framepack", "frameseq")
        self.sink = self.graph.add("buffersink")
        for k, source in enumerate(self.sources):
            source.link_to(pack, 0, k)
        pack.link_to(self.sink)
        self.graph.configure()

    def __call__(self, left: av.VideoFrame, right: av.VideoFrame) -> list[av.VideoFrame]:
        """(left, right) of one instant -> [left view, right view] with side data, both at left.pts."""
        pts, time_base = left.pts, left.time_base
        for source, frame in zip(self.sources, (left, right), strict=True):
            source.push(frame)
        views = []
        while len(views) < 2:
            views.append(self.sink.pull())
        for view in views:
            view.pts, view.time_base = pts, time_base
        return views


def stereo3d_view(frame: av.VideoFrame) -> tuple[int, int] | None:
    """(AVStereo3D type, view) of a frame's STEREO3D side data (3 = frame sequence; view 1 left, 2 right)."""
    for side in frame.side_data:
        if side.type == av.sidedata.sidedata.Type.STEREO3D:
            raw = bytes(side)
            return int.from_bytes(raw[0:4], "little"), int.from_bytes(raw[8:12], "little")
    return None


__all__ = ["MACOS_HINT", "MV_HEVC_BOXES", "MV_HEVC_ENCODER", "MV_HEVC_OPTIONS", "SpatialMetadata", "ViewInterleaver",
           "hfov_box", "is_mv_hevc", "mv_hevc_usable", "parse_hfov", "parse_vexu", "spatial_boxes",
           "spatial_encoder_status", "stereo3d_view", "vexu_box"]
