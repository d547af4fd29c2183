"""The ISO-BMFF `sv3d` box (Google spherical video RFC v2) that marks a VR180 / 360 master.

Written from the spec (github.com/google/spatial-media, docs/spherical-video-v2-rfc.md):

    sv3d (Box)                         in the video sample entry, after st3d
      svhd (FullBox v0)                string metadata_source, NUL-terminated
      proj (Box)
        prhd (FullBox v0)              int32 pose yaw, pitch, roll (16.16 fixed-point degrees)
        equi (FullBox v0)              uint32 projection_bounds top, bottom, left, right (0.32 fixed point)

The bounds crop the full equirectangular sphere: VR180 keeps longitudes −90°…+90°, so left and
right are 0.25 each (0x40000000) and top and bottom 0. :func:`engine.media.isobmff.write_with_boxes`
puts it into the file; :func:`read_sample_entry_boxes` and :func:`parse_sv3d` read it back.
"""

from __future__ import annotations

import struct
from pathlib import Path

from engine.media.isobmff import box_bytes, parse_boxes

METADATA_SOURCE = "SpatialDreamer Studio"
VR180_BOUNDS = (0, 0, 0x40000000, 0x40000000)
"""(top, bottom, left, right) of a 180° × 180° equirectangular view, 0.32 fixed point."""


def full_box(kind: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    """A FullBox: version (8 bits) and flags (24 bits) before the payload."""
    return box_bytes(kind, struct.pack(">I", (version << 24) | flags) + payload)


def sv3d_box(bounds: tuple[int, int, int, int] = VR180_BOUNDS, pose: tuple[float, float, float] = (0.0, 0.0, 0.0),
             source: str = METADATA_SOURCE) -> bytes:
    """`sv3d` for an equirectangular projection with `bounds` (top, bottom, left, right; 0.32 fixed)
    and `pose` (yaw, pitch, roll in degrees)."""
    svhd = full_box(b"svhd", source.encode("utf-8") + b"\0")
    prhd = full_box(b"prhd", struct.pack(">iii", *(round(a * 65536) for a in pose)))
    equi = full_box(b"equi", struct.pack(">IIII", *bounds))
    return box_bytes(b"sv3d", svhd + box_bytes(b"proj", prhd + equi))


def parse_sv3d(box: bytes) -> dict:
    """{'source', 'pose' (yaw, pitch, roll), 'projection' ('equirectangular'|...), 'bounds'} of an sv3d box.

    Raises ValueError for a malformed box.
    """
    top = parse_boxes(box)
    if len(top) != 1 or top[0].kind != b"sv3d":
        raise ValueError("not an sv3d box")
    children = {b.kind: b for b in parse_boxes(box, top[0].body, top[0].end)}
    if b"svhd" not in children or b"proj" not in children:
        raise ValueError("sv3d lacks svhd or proj")
    svhd = children[b"svhd"]
    source = box[svhd.body + 4:svhd.end].split(b"\0", 1)[0].decode("utf-8")
    proj = {b.kind: b for b in parse_boxes(box, children[b"proj"].body, children[b"proj"].end)}
    prhd = proj.get(b"prhd")
    pose = tuple(v / 65536 for v in struct.unpack_from(">iii", box, prhd.body + 4)) if prhd else (0.0, 0.0, 0.0)
    if b"equi" in proj:
        bounds = struct.unpack_from(">IIII", box, proj[b"equi"].body + 4)
        return {"source": source, "pose": pose, "projection": "equirectangular", "bounds": bounds}
    kind = next((k for k in proj if k != b"prhd"), b"")
    return {"source": source, "pose": pose, "projection": kind.decode("latin-1"), "bounds": None}


def read_sample_entry_boxes(path: str | Path) -> list[tuple[bytes, bytes]]:
    """(type, whole box bytes) of each child box of the first video track's sample entry, in file order
    (avcC, pasp, st3d, sv3d ...); [] when the file has no moov or no video track."""
    from engine.media.isobmff import sample_entry_children

    return sample_entry_children(Path(path))


__all__ = ["METADATA_SOURCE", "VR180_BOUNDS", "full_box", "parse_sv3d", "read_sample_entry_boxes", "sv3d_box"]
