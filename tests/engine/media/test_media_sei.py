"""HEVC frame-packing SEI: bit syntax, emulation prevention, NAL framing and our reader."""

from __future__ import annotations

import pytest

from engine.media.sei import (
    FRAME_PACKING_PAYLOAD,
    BitWriter,
    add_emulation_prevention,
    frame_packing_payload,
    frame_packing_sei_nal,
    has_frame_packing,
    remove_emulation_prevention,
    sei_payload_types,
)


def test_exp_golomb_and_fixed_width_bits() -> None:
    bits = BitWriter()
    bits.ue(0)  # '1'
    bits.ue(3)  # '00100'
    bits.u(0b11, 2)
    assert bits.bits == [1, 0, 0, 1, 0, 0, 1, 1]
    assert bits.payload_bytes() == bytes([0b10010011])


def test_payload_fields_for_side_by_side_and_top_bottom() -> None:
    sbs, tb = frame_packing_payload("left_right"), frame_packing_payload("top_bottom")
    # id ue(0) '1', cancel '0', type 3 '0000011' | quincunx '0', content_interpretation 1 '000001'
    assert sbs[:2] == bytes([0b10000001, 0b10000001])
    assert tb[:2] == bytes([0b10000010, 0b00000001])  # type 4 '0000100'
    assert sbs[2:5] == b"\x00\x00\x00"  # flags, grid positions and reserved byte are all zero
    assert len(sbs) == 6 and sbs[-1] == 0b00000010  # ... reserved, persistence 1, upsampled 0: 48 bits
    with pytest.raises(KeyError):
        frame_packing_payload("anaglyph_cyan_red")
    assert has_frame_packing("top_bottom") and not has_frame_packing("anaglyph_cyan_red")
    assert not has_frame_packing(None)


@pytest.mark.parametrize("raw", [b"\x00\x00\x00", b"\x00\x00\x01\x00\x00\x02", b"\x12\x00\x00\x04", b""])
def test_emulation_prevention_round_trips_and_leaves_no_start_code(raw: bytes) -> None:
    escaped = add_emulation_prevention(raw)
    assert remove_emulation_prevention(escaped) == raw
    assert all(escaped[i:i + 3] not in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02")
               for i in range(len(escaped) - 2))


def test_add_emulation_prevention_inserts_exactly_where_needed() -> None:
    assert add_emulation_prevention(b"\x00\x00\x01") == b"\x00\x00\x03\x01"
    assert add_emulation_prevention(b"\x00\x00\x04") == b"\x00\x00\x04"


@pytest.mark.parametrize("mode", ["left_right", "top_bottom"])
def test_nal_is_a_prefix_sei_with_one_frame_packing_message(mode: str) -> None:
    nal = frame_packing_sei_nal(mode)
    assert nal[:4] == b"\x00\x00\x00\x01"
    body = nal[4:]
    assert (body[0] >> 1) & 0x3F == 39 and body[1] == 1  # PREFIX_SEI_NUT, temporal_id_plus1 1
    assert b"\x00\x00\x00" not in body and b"\x00\x00\x01" not in body  # no false start code
    assert sei_payload_types(body) == [FRAME_PACKING_PAYLOAD]
    assert remove_emulation_prevention(body[2:])[2:8] == frame_packing_payload(mode)


def test_reader_ignores_other_nal_types_and_reads_long_payload_types() -> None:
    assert sei_payload_types(bytes((1 << 1, 1, 0xAA))) == []  # a slice NAL
    long_type = bytes((39 << 1, 1, 0xFF, 5, 1, 0x00, 0x80))  # payloadType 255 + 5 = 260, size 1
    assert sei_payload_types(long_type) == [260]


def test_reader_knows_h264_sei_headers() -> None:
    h264_sei = bytes((6, FRAME_PACKING_PAYLOAD, 1, 0x00, 0x80))  # nal_unit_type 6, one message
    assert sei_payload_types(h264_sei, "h264") == [FRAME_PACKING_PAYLOAD]
    assert sei_payload_types(bytes((5, 0x88)), "h264") == []  # an IDR slice
