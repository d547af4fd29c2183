"""Apple spatial video (MV-HEVC): spotting it on the way in, and why we cannot write it here.

In: an iPhone / Vision Pro spatial video is MV-HEVC in MP4/MOV, its video sample entry carrying
`lhvC` (the layered-HEVC configuration of the second view) and Apple's `vexu` (eyes, baseline,
field of view). FFmpeg's HEVC decoder reads only the base layer (the left eye) unless asked for
more views, so such a file converts as a flat source; :func:`is_mv_hevc` lets the plan say so.

Out (`--layout spatial`): the bundled libx265 is built without multiview and FFmpeg 8's only MV-HEVC
encoder is `hevc_nvenc` (profile `mv`, an NVIDIA GPU and driver). :func:`spatial_encoder_status`
opens it for real — PyAV lists it even where it cannot run. Even where it opens, each frame must
carry the second view as side data (AV_STEREO3D_FRAMESEQUENCE + view ids), which PyAV cannot attach,
so the path is reported, never faked; the way out is an SBS master converted on macOS.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

MV_HEVC_BOXES = (b"lhvC", b"vexu")
MACOS_HINT = ("Write a full side-by-side HEVC master (--layout sbs-full --codec hevc -o master.mov) and make "
              "the spatial video on macOS: Apple Compressor (4.8+) or the free `spatial` command-line tool "
              "(`spatial make -i master.mov -f sbs -o spatial.mov`)")


def is_mv_hevc(path: str | Path) -> bool:
    """True when an MP4/MOV's video sample entry carries MV-HEVC boxes (`lhvC`, Apple's `vexu`)."""
    from engine.media.isobmff import sample_entry_children

    try:
        return any(kind in MV_HEVC_BOXES for kind, _ in sample_entry_children(Path(path)))
    except (OSError, ValueError, IndexError):
        return False


def spatial_encoder_status() -> str:
    """Why `--layout spatial` cannot be written on this machine (one sentence; never empty)."""
    try:
        context = av.CodecContext.create("hevc_nvenc", "w")
    except (av.FFmpegError, ValueError):  # UnknownCodecError is a ValueError
        return ("this FFmpeg has no hevc_nvenc (the only MV-HEVC encoder in FFmpeg 8; libx265 is built "
                "without multiview)")
    context.width, context.height, context.pix_fmt = 256, 256, "yuv420p"
    context.time_base = Fraction(1, 24)
    context.options = {"profile": "mv"}
    try:
        context.open()
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return (f"hevc_nvenc with the multiview profile does not open here ({reason}: it needs an NVIDIA GPU "
                "and driver with MV-HEVC; libx265 is built without multiview)")
    finally:
        del context
    return ("hevc_nvenc opens with the multiview profile, but PyAV cannot attach the second view to each frame "
            "(STEREO3D frame-sequence side data), so MV-HEVC is not written (unverified path, no NVENC here)")


__all__ = ["MACOS_HINT", "MV_HEVC_BOXES", "is_mv_hevc", "spatial_encoder_status"]
