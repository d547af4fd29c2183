"""Colour tags and the matrix/range-aware YUV <-> RGB conversions."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.colour import (
    MATRIX_NAMES,
    TRC_NAMES,
    ColourSpec,
    FrameToRgb,
    RgbToFrame,
    pix_fmt_bit_depth,
    source_colour_spec,
    tag_name,
    tag_value,
)


def test_tag_names_follow_ffmpeg() -> None:
    assert tag_name(TRC_NAMES, 16) == "smpte2084" and tag_name(TRC_NAMES, 18) == "arib-std-b67"
    assert tag_name(MATRIX_NAMES, 9) == "bt2020nc" and tag_name(MATRIX_NAMES, 2) is None  # unspecified
    assert tag_value(MATRIX_NAMES, "bt709") == 1 and tag_value(MATRIX_NAMES, None) is None
    assert pix_fmt_bit_depth("yuv420p") == 8 and pix_fmt_bit_depth("yuv422p10le") == 10


def test_untagged_sources_get_player_defaults() -> None:
    assert source_colour_spec(None, None, "yuv420p", 1080) == ColourSpec("bt709", "tv")
    assert source_colour_spec(None, None, "yuv420p", 480) == ColourSpec("smpte170m", "tv")
    assert source_colour_spec(None, None, "yuvj420p", 480).range == "pc"
    assert source_colour_spec("bt2020nc", "pc", "yuv420p10le", 480) == ColourSpec("bt2020nc", "pc")


@pytest.mark.parametrize(
    "spec", [ColourSpec("bt709", "tv"), ColourSpec("smpte170m", "pc"), ColourSpec("bt2020nc", "tv")]
)
@pytest.mark.parametrize(("pix_fmt", "deep"), [("yuv444p", False), ("yuv420p10le", True)])
def test_round_trip_with_the_same_matrix(spec: ColourSpec, pix_fmt: str, deep: bool) -> None:
    rgb = np.array([230, 40, 200], np.uint16 if deep else np.uint8) * (
        257 if deep else 1
    )  # saturated: matrices differ
    image = np.ascontiguousarray(np.broadcast_to(rgb, (16, 16, 3)))
    frame = RgbToFrame(pix_fmt, spec)(image)
    assert frame.colorspace == tag_value(MATRIX_NAMES, spec.matrix)
    back = FrameToRgb(spec, high_bit_depth=deep)(frame).astype(float)
    tolerance = 2.5 * (257 if deep else 1)
    assert np.abs(back - rgb).max() < tolerance
    wrong = ColourSpec("smpte170m" if spec.matrix != "smpte170m" else "bt709", spec.range)
    misread = FrameToRgb(wrong, high_bit_depth=deep)(frame).astype(float)
    assert np.abs(misread - rgb).max() > 4 * tolerance  # the matrix really matters
