"""HEVC frame-packing arrangement SEI (ITU-T H.265 D.2.16), built bit by bit.

The bundled libx265 has no frame-packing SEI (it silently ignores `frame-packing=` in x265-params),
and PyAV cannot attach frame side data for FFmpeg to turn into one. So the writer prepends this
prefix-SEI NAL unit (Annex B, the form libx265 emits) to every keyframe packet of a side-by-side or
top-bottom HEVC stream; FFmpeg's muxers convert it to length-prefixed NALs like the rest.
"""

from __future__ import annotations

_ARRANGEMENT = {"left_right": 3, "top_bottom": 4}
_PREFIX_SEI_HEADER = bytes((39 << 1, 1))  # nal_unit_type 39 (PREFIX_SEI_NUT), layer 0, temporal_id_plus1 1
FRAME_PACKING_PAYLOAD = 45
START_CODE = b"\x00\x00\x00\x01"


class BitWriter:
    """MSB-first bit accumulator for RBSP syntax (u(n) and ue(v))."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, value: int, width: int) -> None:
        """Append `value` as `width` bits, most significant first."""
        self.bits.extend((value >> (width - 1 - i)) & 1 for i in range(width))

    def ue(self, value: int) -> None:
        """Append `value` as unsigned Exp-Golomb."""
        code = value + 1
        self.u(0, code.bit_length() - 1)
        self.u(code, code.bit_length())

    def payload_bytes(self) -> bytes:
        """The bits so far, zero-padded to a byte boundary (SEI payload alignment)."""
        padded = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, padded[i:i + 8])), 2) for i in range(0, len(padded), 8))


def frame_packing_payload(stereo_mode: str) -> bytes:
    """frame_packing_arrangement() payload for 'left_right' (type 3) or 'top_bottom' (type 4).

    Left eye is frame 0 (content_interpretation_type 1), no quincunx, no flipping, persistent for
    the coded video sequence. KeyError for other modes (they have no SEI arrangement).
    """
    bits = BitWriter()
    bits.ue(0)  # frame_packing_arrangement_id
    bits.u(0, 1)  # cancel_flag
    bits.u(_ARRANGEMENT[stereo_mode], 7)
    bits.u(0, 1)  # quincunx_sampling_flag
    bits.u(1, 6)  # content_interpretation_type: frame 0 is the left view
    bits.u(0, 6)  # spatial_flipping, frame0_flipped, field_views, current_frame_is_frame0, self-contained x2
    bits.u(0, 16)  # frame0/frame1 grid positions x, y (4 bits each)
    bits.u(0, 8)  # reserved byte
    bits.u(1, 1)  # persistence_flag
    bits.u(0, 1)  # upsampled_aspect_ratio_flag
    return bits.payload_bytes()


def add_emulation_prevention(rbsp: bytes) -> bytes:
    """Insert 0x03 after every two zero bytes that precede a byte <= 3 (H.265 7.4.2)."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def frame_packing_sei_nal(stereo_mode: str) -> bytes:
    """Annex B prefix-SEI NAL unit (start code included) holding one frame-packing message."""
    payload = frame_packing_payload(stereo_mode)
    rbsp = bytes((FRAME_PACKING_PAYLOAD, len(payload))) + payload + b"\x80"  # rbsp_trailing_bits
    return START_CODE + _PREFIX_SEI_HEADER + add_emulation_prevention(rbsp)


def has_frame_packing(stereo_mode: str | None) -> bool:
    """True for the modes an HEVC frame-packing SEI can express."""
    return stereo_mode in _ARRANGEMENT


def sei_payload_types(nal: bytes, codec: str = "hevc") -> list[int]:
    """payloadType of every SEI message in one NAL unit (its header included) of an 'hevc' or
    'h264' stream; [] for any other NAL type. Inverse of frame_packing_sei_nal, for tests and probing."""
    if codec == "h264":
        is_sei, header = len(nal) > 1 and nal[0] & 0x1F == 6, 1
    else:
        is_sei, header = len(nal) > 2 and (nal[0] >> 1) & 0x3F in (39, 40), 2
    if not is_sei:
        return []
    rbsp = remove_emulation_prevention(nal[header:])
    types, pos = [], 0
    while pos < len(rbsp) and rbsp[pos:] != b"\x80":
        kind, pos = _sei_number(rbsp, pos)
        size, pos = _sei_number(rbsp, pos)
        types.append(kind)
        pos += size
    return types


def _sei_number(data: bytes, pos: int) -> tuple[int, int]:
    """An SEI payloadType/payloadSize (0xFF bytes add 255 each) read at `pos`; (value, next pos)."""
    value = 0
    while data[pos] == 0xFF:
        value, pos = value + 255, pos + 1
    return value + data[pos], pos + 1


def remove_emulation_prevention(data: bytes) -> bytes:
    """Drop the 0x03 byte of every 00 00 03 sequence (inverse of add_emulation_prevention)."""
    out = bytearray()
    zeros = 0
    for byte in data:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def length_prefixed_nals(data: bytes, size: int = 4) -> list[bytes]:
    """Split an MP4/Matroska sample (NAL units each behind a `size`-byte big-endian length)."""
    nals, pos = [], 0
    while pos + size <= len(data):
        length = int.from_bytes(data[pos:pos + size], "big")
        nals.append(data[pos + size:pos + size + length])
        pos += size + length
    return nals
