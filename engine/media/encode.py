"""Encode settings and what they mean for FFmpeg: encoder, pixel format, options, container rules."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from pathlib import Path

import av

from engine.errors import OutputError, UsageError
from engine.media.info import MediaInfo
from engine.vocabulary import CODECS, HARDWARE_CODECS

X26X_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
PRORES_PROFILES = {"hq": ("3", "yuv422p10le"), "4444": ("4", "yuv444p10le")}
PIX_FMTS = ("yuv420p", "yuv422p", "yuv444p")
"""`--pix-fmt` for h264/hevc masters (the bit depth adds the 10le suffix); 4:2:0 is what players decode."""
STEREO_MODES = ("left_right", "top_bottom", "anaglyph_cyan_red")
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
_ENCODERS = {"h264": "libx264", "hevc": "libx265", "prores": "prores_ks", "ffv1": "ffv1",
             "h264_nvenc": "h264_nvenc", "hevc_nvenc": "hevc_nvenc"}
_DEFAULT_CRF = {"h264": 18, "hevc": 20}
#: x264/x265 preset -> NVENC preset (p1 fastest .. p7 best), so `--preset` means the same trade on both
_NVENC_PRESETS = {"ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3", "fast": "p3",
                  "medium": "p4", "slow": "p5", "slower": "p6", "veryslow": "p7", "placebo": "p7"}


def codec_format(codec: str) -> str:
    """The stream format a `--codec` writes: 'h264' for h264 and h264_nvenc, 'hevc' for hevc and hevc_nvenc,
    else the codec itself."""
    return HARDWARE_CODECS.get(codec, codec)


@dataclass(frozen=True)
class EncodeSettings:
    """How the video is encoded.

    Attributes:
        codec: 'h264' (libx264, 8-bit 4:2:0) | 'hevc' (libx265, 8/10-bit 4:2:0) |
            'prores' (prores_ks, always 10-bit: 422 HQ or 4444) |
            'ffv1' (lossless RGB: bgr0 8-bit, gbrp10le 10-bit, gbrp16le 16-bit).
        bit_depth: 8 or 10 (prores is 10-bit whatever is asked); ffv1 also 16 (the render farm's
            lossless intermediates of 10-bit masters: the writer's uint16 frames, every bit kept).
        crf: constant quality for h264/hevc (default 18 / 20); exclusive with bitrate.
        bitrate: bits/s for h264/hevc; exclusive with crf.
        preset: x264/x265 preset (default 'medium').
        prores_profile: 'hq' (422 HQ) or '4444'.
        pix_fmt: h264/hevc chroma, one of :data:`PIX_FMTS` (None = yuv420p, what TVs and headsets decode).
    """

    codec: str = "h264"
    bit_depth: int = 8
    crf: int | None = None
    bitrate: int | None = None
    preset: str | None = None
    prores_profile: str = "hq"
    pix_fmt: str | None = None

    def __post_init__(self) -> None:
        if self.pix_fmt is not None and self.pix_fmt not in PIX_FMTS:
            raise UsageError(f"unknown --pix-fmt {self.pix_fmt!r}", hint=f"Use one of {', '.join(PIX_FMTS)}")
        if self.pix_fmt is not None and self.format not in _DEFAULT_CRF:
            raise UsageError(f"--pix-fmt is for h264/hevc; {self.codec} sets its own",
                             hint="ffv1 is lossless RGB; for ProRes use --prores-profile 4444 (4:4:4) or hq (4:2:2)")
        if self.codec not in CODECS:
            raise UsageError(f"unknown codec {self.codec!r}", hint=f"Use one of {', '.join(CODECS)}")
        if self.bit_depth not in (8, 10) and not (self.codec == "ffv1" and self.bit_depth == 16):
            raise UsageError(f"bit depth {self.bit_depth} is not supported", hint="Use 8 or 10")
        if self.format == "h264" and self.bit_depth != 8:
            raise OutputError(
                "H.264 output is 8-bit only", hint="Use --codec hevc, prores or ffv1 for 10-bit"
            )
        if self.codec in HARDWARE_CODECS and self.pix_fmt == "yuv422p":
            raise UsageError(f"{self.codec} does not encode 4:2:2", hint="Use --pix-fmt yuv420p or yuv444p, "
                                                                         "or the software encoder (--codec hevc)")
        if self.codec in HARDWARE_CODECS and self.pix_fmt == "yuv444p" and self.bit_depth > 8:
            raise UsageError(f"{self.codec} writes 10-bit only as 4:2:0", hint="Use --pix-fmt yuv420p")
        self._check_rate_control()
        if self.prores_profile not in PRORES_PROFILES:
            raise UsageError(f"unknown ProRes profile {self.prores_profile!r}", hint="Use 'hq' or '4444'")

    def _check_rate_control(self) -> None:
        if self.crf is not None and self.bitrate is not None:
            raise UsageError("crf and bitrate are exclusive", hint="Give one of them")
        lossy = self.format in _DEFAULT_CRF
        if not lossy and (self.crf is not None or self.bitrate is not None):
            raise UsageError(f"{self.codec} takes no crf or bitrate", hint="Leave them out for prores/ffv1")
        if self.crf is not None and not 0 <= self.crf <= 51:
            raise UsageError(f"crf {self.crf} is out of range", hint="Use 0 (best) to 51 (worst)")
        if self.bitrate is not None and self.bitrate <= 0:
            raise UsageError(f"bitrate {self.bitrate} must be positive (bits per second)")
        if self.preset is not None and self.preset not in X26X_PRESETS:
            raise UsageError(f"unknown preset {self.preset!r}", hint=f"Use one of {', '.join(X26X_PRESETS)}")

    @property
    def format(self) -> str:
        """The stream format written (:func:`codec_format`): 'h264', 'hevc', 'prores' or 'ffv1'."""
        return codec_format(self.codec)

    @property
    def output_bit_depth(self) -> int:
        """Bits per component actually written (prores is always 10)."""
        return 10 if self.codec == "prores" else self.bit_depth


def chroma_of(pix_fmt: str) -> str:
    """'420' | '422' | '444' | 'rgb' | 'other' for an FFmpeg pixel format name (yuvj* and gbr* included)."""
    name = pix_fmt.replace("yuvj", "yuv")
    for chroma in ("420", "422", "444"):
        if name.startswith((f"yuv{chroma}", f"yuva{chroma}")):
            return chroma
    return "rgb" if name.startswith(("gbr", "rgb", "bgr")) else "other"


def drops_chroma(source: MediaInfo, settings: EncodeSettings) -> bool:
    """True when a 4:4:4 (or RGB) source becomes a subsampled master (say so: it softens colour edges)."""
    return chroma_of(source.video.pix_fmt) in ("444", "rgb") and chroma_of(encoder_plan(settings).pix_fmt) in (
        "420", "422")


def drops_bit_depth(source: MediaInfo, settings: EncodeSettings) -> bool:
    """True when the output keeps fewer bits per component than the source has (warn the user)."""
    return source.video.bit_depth > settings.output_bit_depth


@dataclass(frozen=True)
class EncoderPlan:
    """FFmpeg encoder name, pixel format and private options for one EncodeSettings."""

    encoder: str
    pix_fmt: str
    options: dict[str, str] = field(default_factory=dict)
    bit_rate: int | None = None

    @property
    def is_rgb(self) -> bool:
        return av.VideoFormat(self.pix_fmt).is_rgb

    @property
    def chroma_even(self) -> tuple[bool, bool]:
        """(width must be even, height must be even) for this pixel format's chroma subsampling."""
        if self.pix_fmt.startswith("yuv420"):
            return True, True
        if self.pix_fmt.startswith("yuv422"):
            return True, False
        return False, False


def encoder_plan(settings: EncodeSettings) -> EncoderPlan:
    """The FFmpeg side of `settings` (before stereo/colour extras the writer adds)."""
    codec = settings.codec
    if codec == "prores":
        profile, pix_fmt = PRORES_PROFILES[settings.prores_profile]
        return EncoderPlan("prores_ks", pix_fmt, {"profile": profile, "vendor": "apl0"})
    if codec == "ffv1":
        pix_fmt = {8: "bgr0", 10: "gbrp10le", 16: "gbrp16le"}[settings.bit_depth]
        return EncoderPlan("ffv1", pix_fmt, {"level": "3", "slicecrc": "1"})
    base = settings.pix_fmt or "yuv420p"
    pix_fmt = base if settings.bit_depth == 8 else f"{base}10le"
    crf = str(settings.crf if settings.crf is not None else _DEFAULT_CRF[settings.format])
    if codec in HARDWARE_CODECS:  # NVENC: its own presets; constant quality is VBR with a cq target
        options = {"preset": _NVENC_PRESETS[settings.preset or "medium"]}
        if settings.bitrate is None:
            options.update(rc="vbr", cq=crf)
        return EncoderPlan(_ENCODERS[codec], "p010le" if settings.bit_depth > 8 else pix_fmt, options,
                           settings.bitrate)
    options = {"preset": settings.preset or "medium"}
    if settings.bitrate is None:
        options["crf"] = crf
    return EncoderPlan(_ENCODERS[codec], pix_fmt, options, settings.bitrate)


@functools.cache
def encoder_refusal(encoder: str) -> str | None:
    """Why FFmpeg's `encoder` cannot encode on this machine (None when it opens).

    Listing is not enough for hardware encoders: PyAV's FFmpeg lists h264_nvenc / hevc_nvenc even where
    no NVIDIA GPU or driver exists, so the encoder is opened on a small frame to find out (milliseconds).
    """
    from fractions import Fraction

    try:
        ctx = av.CodecContext.create(encoder, "w")
        ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 256, 256, "yuv420p", Fraction(1, 25)
        ctx.open()
    except Exception as exc:  # av raises several types (UnknownCodecError, PermissionError, OSError ...)
        return str(getattr(exc, "strerror", None) or exc).strip() or type(exc).__name__
    return None


def check_encoder_usable(settings: EncodeSettings) -> None:
    """Refuse a hardware `--codec` this machine cannot open, before any work (UsageError, exit 2)."""
    if settings.codec not in HARDWARE_CODECS:
        return
    why = encoder_refusal(_ENCODERS[settings.codec])
    if why is not None:
        raise UsageError(f"--codec {settings.codec}: NVIDIA's hardware encoder cannot be opened here ({why})",
                         hint=f"It needs an NVIDIA GPU with its driver; use --codec {settings.format} "
                              "(the software encoder) instead")


def container_format(path: Path, settings: EncodeSettings) -> str:
    """FFmpeg muxer for `path`'s extension; OutputError if unknown or it cannot hold the codec."""
    suffix = path.suffix.lower()
    muxer = CONTAINERS.get(suffix)
    if muxer is None:
        raise OutputError(
            f"unknown video extension {suffix or '(none)'!r}", path=path, hint="Use .mp4, .mov or .mkv"
        )
    if settings.format == "prores" and muxer == "mp4":
        raise OutputError(
            "ProRes does not belong in .mp4", path=path, hint="Use a .mov or .mkv output for ProRes"
        )
    if _ENCODERS[settings.codec] not in muxer_codecs(muxer):
        raise OutputError(
            f"a {suffix} file cannot hold {settings.codec} video",
            path=path,
            hint="Use .mkv, which holds every codec we write",
        )
    return muxer


def stereo_signalling(muxer: str, codec: str, stereo_mode: str | None) -> tuple[str, ...]:
    """What marks a `stereo_mode` master as stereo for players, for a muxer ('mp4' | 'mov' |
    'matroska') and codec ('h264' | 'hevc' | 'prores' | 'ffv1'); () when nothing can.

    SEI frame packing and `st3d` know only side-by-side and top-bottom; Matroska's StereoMode also
    knows anaglyph. See README "Stereo metadata".
    """
    if stereo_mode is None:
        return ()
    carriers = []
    if muxer == "matroska":
        carriers.append("Matroska StereoMode")
    if stereo_mode in ("left_right", "top_bottom"):
        if codec in ("h264", "hevc"):
            carriers.append(f"{'H.264' if codec == 'h264' else 'HEVC'} frame-packing SEI")
        if muxer in ("mp4", "mov"):
            carriers.append("st3d box")
    return tuple(carriers)


def stereo_signalling_note(path: Path, codec: str, stereo_mode: str | None) -> str | None:
    """A note for the convert output when a stereo master's container/codec cannot say it is stereo."""
    muxer = CONTAINERS.get(path.suffix.lower())
    if stereo_mode is None or muxer is None or stereo_signalling(muxer, codec, stereo_mode):
        return None
    return (f"a {path.suffix.lower()} {codec} file cannot mark {stereo_mode.replace('_', ' ')} video as stereo "
            "(SEI and st3d know only side-by-side and top-bottom): players show it as one flat picture; "
            "write .mkv to tag it")


@functools.cache
def muxer_codecs(muxer: str) -> frozenset[str]:
    """Codec names FFmpeg's `muxer` accepts (normal compliance)."""
    with av.open(io.BytesIO(), "w", format=muxer) as probe:
        return frozenset(probe.supported_codecs)
