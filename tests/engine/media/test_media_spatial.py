"""engine.media.spatial: MV-HEVC spatial video is spotted on the way in; `--layout spatial` writes it through
hevc_nvenc where that opens (mocked here: no machine of ours has NVENC) with Apple's vexu + hfov, and says what is
missing where it does not."""

from __future__ import annotations

import struct
from fractions import Fraction

import av
import numpy as np
import pytest

from engine.errors import UsageError
from engine.media import EncodeSettings, VideoWriter, probe
from engine.media.encode import EncoderPlan
from engine.media.isobmff import box_bytes, sample_entry_children, write_with_boxes
from engine.media.spatial import (
    SpatialMetadata,
    ViewInterleaver,
    is_mv_hevc,
    parse_hfov,
    parse_vexu,
    spatial_boxes,
    spatial_encoder_status,
    stereo3d_view,
)
from tests.support.clips import coded_image, write_clip


def vexu_box() -> bytes:
    """Apple's video extended usage box: eyes > stri (FullBox v0; has left and right eye views)."""
    stri = box_bytes(b"stri", struct.pack(">IB", 0, 0x03))
    return box_bytes(b"vexu", box_bytes(b"eyes", stri))


def test_spatial_video_is_detected_and_converts_from_its_base_view(cli, tmp_path):
    flat = tmp_path / "flat.mp4"
    with VideoWriter(flat, width=64, height=48, fps=Fraction(24), settings=EncodeSettings("hevc")) as writer:
        for k in range(2):
            writer.write(coded_image(k, 64, 48))
    spatial = tmp_path / "spatial.mp4"
    write_with_boxes(flat, spatial, [vexu_box()])
    assert is_mv_hevc(spatial) and not is_mv_hevc(flat)
    assert probe(spatial).video.multiview and not probe(flat).video.multiview
    result = cli("convert", spatial, "-o", tmp_path / "sbs.mp4", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert "MV-HEVC spatial video (two views); only its base (left) view is decoded" in result.err


def test_layout_spatial_explains_what_is_missing(cli, tmp_path):
    reason = spatial_encoder_status()
    assert "hevc_nvenc" in reason and "multiview" in reason
    source = write_clip(tmp_path / "s.mp4", frames=2)
    result = cli("convert", source, "--layout", "spatial", "-o", tmp_path / "out.mov")
    assert result.code == 2 and "Traceback" not in result.err
    assert reason in result.err and "macOS" in result.err and "--layout sbs-full --codec hevc" in result.err
    assert not (tmp_path / "out.mov").exists()


def ffmpeg_stereo3d(path) -> dict:
    """What FFmpeg's own mov demuxer reads from the sample entry (vexu / hfov -> AVStereo3D, prji ->
    AVSphericalMapping), from the side data it puts on a decoded frame."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        sides = {side.type: bytes(side) for side in frame.side_data}
    raw = sides[av.sidedata.sidedata.Type.STEREO3D]
    kind, flags, view, primary, baseline, dnum, dden, fnum, fden = struct.unpack_from("<iiiiIiiii", raw)
    spherical = sides.get(av.sidedata.sidedata.Type.SPHERICAL)
    return {"view": view, "primary_eye": primary, "baseline_um": baseline, "disparity": dnum / dden,
            "hfov": fnum / fden, "flags": flags, "type": kind,
            "projection": None if spherical is None else int.from_bytes(spherical[:4], "little")}


def hevc_clip(path, frames: int = 3, width: int = 64):
    with VideoWriter(path, width=width, height=48, fps=Fraction(24), settings=EncodeSettings("hevc")) as writer:
        for k in range(frames):
            writer.write(coded_image(k, width, 48))
    return path


def decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_vexu_and_hfov_go_into_a_real_hevc_mp4_and_read_back(tmp_path):
    flat = hevc_clip(tmp_path / "flat.mp4")  # libx265, faststart: moov before mdat, so chunk offsets move
    meta = SpatialMetadata(baseline_mm=65.0, hfov_degrees=61.928, disparity_adjustment=-0.0125)
    spatial = tmp_path / "spatial.mp4"
    write_with_boxes(flat, spatial, spatial_boxes(meta))
    kinds = [kind for kind, _ in sample_entry_children(spatial)]
    assert kinds[0] == b"hvcC" and kinds[-2:] == [b"vexu", b"hfov"]  # in the HEVC sample entry, FFmpeg's order
    boxes = dict(sample_entry_children(spatial))
    vexu = parse_vexu(boxes[b"vexu"])
    assert vexu == {"views": ("left", "right"), "reversed": False, "hero": "left", "baseline_mm": 65.0,
                    "disparity_adjustment": -0.0125, "projection": "rect"}
    assert parse_hfov(boxes[b"hfov"]) == 61.928 and len(boxes[b"hfov"]) == 12
    assert is_mv_hevc(spatial) and probe(spatial).video.multiview
    seen = ffmpeg_stereo3d(spatial)  # a second reader: FFmpeg 8's mov demuxer
    assert seen["baseline_um"] == 65000 and seen["hfov"] == 61.928 and seen["disparity"] == -0.0125
    assert seen["view"] == 0 and seen["primary_eye"] == 1  # both views packed; hero = left
    assert seen["projection"] == 4  # AV_SPHERICAL_RECTILINEAR, from prji 'rect'
    assert probe(spatial).video.projection is None  # a flat (rectilinear) picture, not a spherical one
    assert all(np.array_equal(a, b) for a, b in zip(decoded(flat), decoded(spatial), strict=True))
    again = tmp_path / "again.mp4"  # rewriting replaces the boxes, never stacks them
    write_with_boxes(spatial, again, spatial_boxes(SpatialMetadata(63.5, 90.0)))
    kinds = [kind for kind, _ in sample_entry_children(again)]
    assert kinds.count(b"vexu") == 1 and kinds.count(b"hfov") == 1
    assert parse_vexu(dict(sample_entry_children(again))[b"vexu"])["baseline_mm"] == 63.5


def test_spatial_metadata_is_checked():
    with pytest.raises(ValueError):
        SpatialMetadata(65.0, 61.9, disparity_adjustment=1.5)
    with pytest.raises(ValueError):
        SpatialMetadata(0.0, 61.9)
    with pytest.raises(ValueError):
        parse_vexu(box_bytes(b"free", b""))


def test_the_views_carry_ffmpegs_frame_sequence_side_data():
    views = ViewInterleaver(32, 16, "yuv420p", Fraction(1, 96000))
    frames = []
    for level in (40, 200):
        frame = av.VideoFrame.from_ndarray(np.full((16, 32, 3), level, np.uint8), format="rgb24").reformat(
            format="yuv420p")
        frame.pts, frame.time_base = 4000, Fraction(1, 96000)
        frames.append(frame)
    left, right = views(*frames)
    assert stereo3d_view(left) == (3, 1) and stereo3d_view(right) == (3, 2)  # FRAMESEQUENCE; view left, right
    assert left.pts == right.pts == 4000
    assert left.to_ndarray()[0, 0] < 60 < right.to_ndarray()[0, 0]  # the left eye first


def x265_for_nvenc(settings, path):
    """Stands in for hevc_nvenc's multiview encoder where none can open: libx265, one picture per view."""
    return EncoderPlan("libx265", "yuv420p", {"preset": "ultrafast", "crf": "18"})


def test_the_spatial_writer_sends_each_eye_as_a_view_and_writes_the_boxes(tmp_path, monkeypatch):
    monkeypatch.setattr("engine.media.writer.multiview_plan", x265_for_nvenc)
    meta = SpatialMetadata(65.0, 61.9)
    out = tmp_path / "spatial.mov"
    with VideoWriter(out, width=128, height=48, fps=Fraction(24), settings=EncodeSettings("hevc_nvenc"),
                     spatial=meta) as writer:
        for k in range(3):
            sbs = np.concatenate([np.full((48, 64, 3), 30 + 10 * k, np.uint8),
                                  np.full((48, 64, 3), 200 + 10 * k, np.uint8)], axis=1)
            writer.write(sbs)
    frames = decoded(out)
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)  # one eye per coded picture
    levels = [round(float(f.mean())) for f in frames]
    assert all(abs(a - b) <= 3 for a, b in zip(levels, [30, 200, 40, 210, 50, 220], strict=True))  # L, R, L, R ...
    kinds = [kind for kind, _ in sample_entry_children(out)]
    assert kinds[-2:] == [b"vexu", b"hfov"] and b"st3d" not in kinds
    assert parse_vexu(dict(sample_entry_children(out))[b"vexu"])["baseline_mm"] == 65.0
    monkeypatch.undo()
    with pytest.raises(UsageError, match="written by hevc_nvenc, not hevc"):
        VideoWriter(tmp_path / "x.mov", width=128, height=48, fps=Fraction(24), settings=EncodeSettings("hevc"),
                    spatial=meta)


def test_layout_spatial_writes_mv_hevc_where_hevc_nvenc_opens(cli, tmp_path, monkeypatch):
    """The whole `convert --layout spatial` path with the encoder-open checks mocked to succeed (and libx265 in
    hevc_nvenc's place): each frame's eyes are two views, and vexu + hfov carry the headset preset's geometry."""
    from engine.ops.vr180 import screen_fov_degrees

    monkeypatch.setattr("engine.media.spatial._open_refusal", lambda: None)
    monkeypatch.setattr("engine.media.encode.encoder_refusal", lambda encoder: None)
    monkeypatch.setattr("engine.media.writer.multiview_plan", x265_for_nvenc)
    assert "writes MV-HEVC through it" in spatial_encoder_status()
    source = write_clip(tmp_path / "s.mp4", frames=3)
    result = cli("convert", source, "--layout", "spatial", "-o", tmp_path / "spatial.mov", "--no-cache",
                 "--progress", "none")
    assert result.code == 0, result.err
    assert "spatial video: MV-HEVC through hevc_nvenc (unverified path" in result.err
    assert "their far plane at zero disparity" in result.err and "disparity adjustment 2.00 %" in result.err
    out = tmp_path / "spatial.mov"
    frames = decoded(out)
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)  # 3 frames, two views each, one eye wide
    assert not np.array_equal(frames[0], frames[1])  # the left and the right eye
    boxes = dict(sample_entry_children(out))
    assert b"st3d" not in boxes
    vexu = parse_vexu(boxes[b"vexu"])
    # the grade's convergence as the shift the player applies: D · (1 − c) = 3 % · 2/3 = 2 % (200)
    assert vexu["baseline_mm"] == 65.0 and vexu["disparity_adjustment"] == 0.02 and vexu["views"] == ("left", "right")
    assert parse_hfov(boxes[b"hfov"]) == round(screen_fov_degrees(), 3)
    seen = ffmpeg_stereo3d(out)
    assert seen["baseline_um"] == 65000 and seen["hfov"] == round(screen_fov_degrees(), 3)
    from engine.jobs.plan import plan_convert
    from engine.jobs.request import ConvertRequest
    from engine.media import open_media

    with open_media(source) as reader:  # the views are graded with the far plane at zero disparity
        plan = plan_convert(ConvertRequest(source, tmp_path / "p.mov", spatial=True,
                                           encode=EncodeSettings("hevc_nvenc")), reader)
    assert plan.far_at_infinity and plan.stereo_mode is None
    from engine.document import Grade, Keyframe, Project, Shot, Track, save_project

    keyed = Grade(convergence=Track((Keyframe(0, 0.2), Keyframe(2, 0.6))))
    save_project(Project.single(str(source), Fraction(24), 3, (Shot(0, 3, keyed),)), tmp_path / "p.sdproj")
    graded = cli("convert", "--project", tmp_path / "p.sdproj", "--layout", "spatial", "-o", tmp_path / "k.mov",
                 "--no-cache", "--progress", "none")
    assert graded.code == 0 and "keyed convergence is not used" in graded.err, graded.err
    wrong = cli("convert", source, "--layout", "spatial", "--codec", "hevc", "-o", tmp_path / "x.mov")
    assert wrong.code == 2 and "written by hevc_nvenc, not hevc" in wrong.err
    mkv = cli("convert", source, "--layout", "spatial", "-o", tmp_path / "x.mkv")
    assert mkv.code == 2 and "is .mov or .mp4" in mkv.err
    frames_out = cli("convert", source, "--layout", "spatial", "-o", tmp_path / "x.%04d.png")
    assert frames_out.code == 2 and "is .mov or .mp4" in frames_out.err
    from engine.media import write_still

    write_still(tmp_path / "still.png", coded_image(0))
    still = cli("convert", tmp_path / "still.png", "--layout", "spatial", "-o", tmp_path / "x.mov")
    assert still.code == 2 and "this input is a still" in still.err
