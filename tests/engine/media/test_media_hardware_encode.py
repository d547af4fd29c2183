"""NVIDIA's hardware encoders as --codec choices: detected by opening them, refused clearly where they cannot open."""

from __future__ import annotations

import pytest

from engine.errors import OutputError, UsageError
from engine.media import EncodeSettings
from engine.media import encode as encode_module
from engine.media.encode import check_encoder_usable, codec_format, encoder_plan, encoder_refusal
from tests.support.clips import write_clip


def test_a_software_encoder_opens_and_an_unknown_one_says_why():
    assert encoder_refusal("libx264") is None
    why = encoder_refusal("no_such_encoder_xyz")
    assert isinstance(why, str) and why


def test_hardware_codecs_write_the_software_formats():
    assert codec_format("h264_nvenc") == "h264" and codec_format("hevc_nvenc") == "hevc"
    assert codec_format("prores") == "prores"
    assert EncodeSettings(codec="hevc_nvenc").format == "hevc"


def test_nvenc_plan_maps_preset_and_quality():
    plan = encoder_plan(EncodeSettings(codec="h264_nvenc", preset="veryfast"))
    assert plan.encoder == "h264_nvenc" and plan.pix_fmt == "yuv420p"
    assert plan.options == {"preset": "p2", "rc": "vbr", "cq": "18"}
    deep = encoder_plan(EncodeSettings(codec="hevc_nvenc", bit_depth=10, crf=24))
    assert deep.pix_fmt == "p010le" and deep.options == {"preset": "p4", "rc": "vbr", "cq": "24"}
    rate = encoder_plan(EncodeSettings(codec="hevc_nvenc", bitrate=20_000_000))
    assert rate.bit_rate == 20_000_000 and "cq" not in rate.options


def test_nvenc_settings_are_checked_like_their_format():
    with pytest.raises(OutputError, match="8-bit only"):
        EncodeSettings(codec="h264_nvenc", bit_depth=10)
    with pytest.raises(UsageError, match="4:2:2"):
        EncodeSettings(codec="hevc_nvenc", pix_fmt="yuv422p")
    with pytest.raises(UsageError, match="takes no crf"):
        EncodeSettings(codec="ffv1", crf=10)


def test_check_refuses_an_encoder_that_cannot_open(monkeypatch):
    monkeypatch.setattr(encode_module, "encoder_refusal", lambda name: "Operation not permitted")
    with pytest.raises(UsageError, match="h264_nvenc.*Operation not permitted") as info:
        check_encoder_usable(EncodeSettings(codec="h264_nvenc"))
    assert "--codec h264" in info.value.hint
    check_encoder_usable(EncodeSettings(codec="h264"))  # software codecs are never probed
    monkeypatch.setattr(encode_module, "encoder_refusal", lambda name: None)
    check_encoder_usable(EncodeSettings(codec="hevc_nvenc"))


@pytest.mark.skipif(encoder_refusal("h264_nvenc") is None, reason="this machine can open NVENC")
def test_convert_without_nvenc_fails_in_one_line_before_any_work(cli, tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=3)
    out = tmp_path / "out.mp4"
    result = cli("convert", clip, "-o", out, "--codec", "h264_nvenc", "--progress", "none")
    assert result.code == 2
    assert "h264_nvenc" in result.err and "--codec h264" in result.err and "Traceback" not in result.err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_doctor_reports_the_hardware_encoders(cli):
    result = cli("doctor")
    assert "h264_nvenc" in result.out and "hevc_nvenc" in result.out
    state = "usable" if encoder_refusal("hevc_nvenc") is None else "not usable here"
    assert state in result.out.split("hevc_nvenc", 1)[1].splitlines()[0]
    from engine.media.spatial import spatial_encoder_status

    assert f"--layout spatial: {spatial_encoder_status()}" in result.out
