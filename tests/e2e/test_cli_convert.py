"""The main job end to end through the CLI: demo clip, real footage, stills, imported depth."""

from __future__ import annotations

import json

import av
import cv2
import numpy as np
import pytest

from engine.media import probe, read_still
from tests.support.clips import write_clip
from tests.support.data import DEMO_CLIP, shared_data


def stereo3d_types(path) -> set[str]:
    """STEREO3D side-data types found on the first decoded frames of `path`."""
    found = set()
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            for side in frame.side_data:
                if "STEREO3D" in str(side.type).upper():
                    found.add(str(side.type))
            if i >= 2:
                break
    return found


def test_demo_clip_to_half_sbs_master(cli, tmp_path):
    out = tmp_path / "demo_sbs.mp4"
    result = cli("convert", DEMO_CLIP, "-o", out, "--layout", "sbs-half", "--progress", "none")
    assert result.code == 0, result.err
    src, dst = probe(DEMO_CLIP), probe(out)
    assert dst.video.frame_count == src.video.frame_count
    assert (dst.video.width, dst.video.height) == (src.video.width, src.video.height)
    assert dst.video.fps == src.video.fps
    assert len(dst.audio) == len(src.audio) == 1
    assert abs(dst.audio[0].duration_s - dst.video.duration_s) <= 1 / float(dst.video.fps) + 0.03
    assert stereo3d_types(out), "no STEREO3D side data on the decoded frames"
    assert not list(tmp_path.glob(".*partial*"))


def test_demo_clip_eyes_differ_in_the_right_direction(cli, tmp_path):
    """Full SBS: the left eye sees near content shifted right relative to the right eye (d > 0 in front)."""
    out = tmp_path / "full.mkv"
    result = cli("convert", DEMO_CLIP, "-o", out, "--layout", "sbs-full", "--end", "2f", "--codec", "ffv1",
                 "--progress", "none")
    assert result.code == 0, result.err
    with av.open(str(out)) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
        assert c.streams.video[0].metadata.get("stereo_mode", "left_right") == "left_right"
    w = frame.shape[1] // 2
    left, right = frame[:, :w], frame[:, w:]
    assert np.abs(left.astype(int) - right.astype(int)).mean() > 1.0
    # the bottom rows (the ground, nearest) shift by a positive disparity: left = right moved to the right
    band_l = cv2.cvtColor(left[-40:], cv2.COLOR_RGB2GRAY).astype(np.float32)
    band_r = cv2.cvtColor(right[-40:], cv2.COLOR_RGB2GRAY).astype(np.float32)
    (dx, _), _ = cv2.phaseCorrelate(band_r, band_l)
    assert dx > 0.5


def test_real_footage_range_and_hevc(cli, tmp_path):
    src = shared_data("mono_videos", "davis_rollercoaster.mp4")
    out = tmp_path / "roller.mkv"
    result = cli("convert", src, "-o", out, "--start", "5f", "--end", "13f", "--max-width", "320",
                 "--layout", "tb-half", "--codec", "hevc", "--progress", "json")
    assert result.code == 0, result.err
    stages = [json.loads(line)["stage"] for line in result.out.splitlines()]
    assert "depth" in stages and "render" in stages
    info = probe(out)
    assert info.video.frame_count == 8 and info.video.codec == "hevc"
    assert info.video.width == 320 and info.video.height == 180


def test_pair_layout_writes_both_eyes(cli, tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=6, audio=[("aac", 48000, 2)])
    result = cli("convert", clip, "-o", tmp_path / "eyes.mp4", "--layout", "pair", "--progress", "none")
    assert result.code == 0, result.err
    for eye in ("eyes_L.mp4", "eyes_R.mp4"):
        info = probe(tmp_path / eye)
        assert info.video.frame_count == 6 and len(info.audio) == 1


@pytest.mark.parametrize("dtype, suffix", [(np.uint8, ".png"), (np.uint16, ".png"), (np.uint8, ".jpg")])
def test_still_in_still_out(cli, tmp_path, dtype, suffix):
    rng = np.random.default_rng(1)
    top = 65535 if dtype == np.uint16 else 255
    image = (rng.random((48, 64, 3)) * top).astype(dtype)
    image[30:] = image[30:] // 2  # a darker lower band
    src = tmp_path / f"still{suffix}"
    cv2.imwrite(str(src), image[..., ::-1])
    out = tmp_path / f"sbs{suffix}"
    result = cli("convert", src, "-o", out, "--layout", "sbs-full")
    assert result.code == 0, result.err
    packed = read_still(out)
    assert packed.shape == (48, 128, 3)
    assert packed.dtype == (np.uint16 if dtype == np.uint16 and suffix == ".png" else np.uint8)


def test_imported_disparity_on_middlebury_beats_the_unshifted_view(cli, tmp_path):
    folder = shared_data("stereo_pairs", "middlebury_2001_2003", "cones")
    out = tmp_path / "right.png"
    result = cli("convert", folder / "im2.png", "-o", out, "--layout", "pair", "--synthesize", "right",
                 "--depth", folder / "disp2.png", "--depth-kind", "disparity-px", "--depth-scale", "4")
    assert result.code == 0, result.err
    left = read_still(tmp_path / "right_L.png").astype(np.float64)
    right = read_still(tmp_path / "right_R.png").astype(np.float64)
    truth = read_still(folder / "im6.png").astype(np.float64)
    assert np.array_equal(left, read_still(folder / "im2.png"))  # synthesize right keeps the source as left
    border = 64  # content leaving the frame on the left edge
    err_ours = np.mean((right[:, border:] - truth[:, border:]) ** 2)
    err_source = np.mean((left[:, border:] - truth[:, border:]) ** 2)
    assert err_ours < 0.5 * err_source


def test_frame_preview_and_probe(cli, tmp_path):
    out = tmp_path / "look.png"
    result = cli("frame", DEMO_CLIP, "--at", "1.0", "-o", out, "--layout", "anaglyph")
    assert result.code == 0, result.err
    assert read_still(out).shape == (360, 640, 3)
    result = cli("probe", DEMO_CLIP, "--json")
    data = json.loads(result.out)
    assert data["video"]["width"] == 640 and data["audio"]


def test_doctor_and_version(cli):
    result = cli("doctor")
    assert "libx264" in result.out and result.code == 0
    with pytest.raises(SystemExit) as info:
        cli("--version")
    assert info.value.code == 0


def test_second_render_reads_depth_from_the_cache(cli, tmp_path, monkeypatch):
    clip = write_clip(tmp_path / "in.mp4", frames=6)
    cache = tmp_path / "cache"
    first = cli("convert", clip, "-o", tmp_path / "a.mkv", "--codec", "ffv1", "--cache-dir", cache,
                "--progress", "none")
    assert first.code == 0, first.err
    assert list(cache.rglob("*.sdc")), "the depth pass wrote nothing to the cache"

    from engine.depth.weights_free import WeightsFreeDepth

    def must_not_run(self, frames):
        raise AssertionError("depth was recomputed although every frame was cached")

    monkeypatch.setattr(WeightsFreeDepth, "estimate", must_not_run)
    second = cli("convert", clip, "-o", tmp_path / "b.mkv", "--codec", "ffv1", "--cache-dir", cache,
                 "--progress", "none")
    assert second.code == 0, second.err
    with av.open(str(tmp_path / "a.mkv")) as a, av.open(str(tmp_path / "b.mkv")) as b:
        for fa, fb in zip(a.decode(video=0), b.decode(video=0), strict=True):
            assert np.array_equal(fa.to_ndarray(format="rgb24"), fb.to_ndarray(format="rgb24"))
    # a different grade reuses depth; a different depth setting misses
    third = cli("convert", clip, "-o", tmp_path / "c.mkv", "--codec", "ffv1", "--cache-dir", cache,
                "--progress", "none", "--no-cache")
    assert third.code != 0  # --no-cache must compute, and estimate is patched to fail


def test_cuts_split_the_render_into_shots(cli, tmp_path, monkeypatch):
    """A hard cut restarts normalisation and the depth provider's temporal state (no leak across it)."""
    from engine.depth.weights_free import WeightsFreeDepth
    from tests.support.shot_clips import clip_from_shots, drift

    clip, cuts = clip_from_shots(tmp_path / "two.mp4", [(12, drift(1, (1.0, 0.8, 0.6), 12)),
                                                        (12, drift(2, (0.5, 0.7, 1.0), 12))])
    assert cuts == [12]
    resets = []
    original = WeightsFreeDepth.reset
    monkeypatch.setattr(WeightsFreeDepth, "reset", lambda self: (resets.append(1), original(self)))
    result = cli("convert", clip, "-o", tmp_path / "o.mkv", "--codec", "ffv1", "--no-cache")
    assert result.code == 0, result.err
    assert "2 shots" in result.err
    assert len(resets) >= 2
    off = cli("convert", clip, "-o", tmp_path / "p.mkv", "--codec", "ffv1", "--no-cache", "--shots", "off")
    assert off.code == 0 and "shots" not in off.err.split("note:")[-1]


def test_depth_export_flags_round_trip_through_the_cli(cli, tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=5)
    first = cli("convert", clip, "-o", tmp_path / "a.mkv", "--codec", "ffv1", "--progress", "none",
                "--export-depth", tmp_path / "depth", "--export-depth-format", "npy",
                "--export-disparity", tmp_path / "disp", "--export-disparity-format", "npy")
    assert first.code == 0, first.err
    manifest = json.loads((tmp_path / "depth" / "depth.json").read_text())
    assert manifest["schema"] == "DepthExport.1" and manifest["frame_range"] == [0, 5]
    assert len(list((tmp_path / "depth").glob("in.depth.*.npy"))) == 5
    again = cli("convert", clip, "-o", tmp_path / "b.mkv", "--codec", "ffv1", "--progress", "none",
                "--depth", tmp_path / "depth" / "in.depth.%06d.npy", "--depth-kind", "inverse")
    assert again.code == 0, again.err
    with av.open(str(tmp_path / "a.mkv")) as a, av.open(str(tmp_path / "b.mkv")) as b:
        for fa, fb in zip(a.decode(video=0), b.decode(video=0), strict=True):
            assert np.array_equal(fa.to_ndarray(format="rgb24"), fb.to_ndarray(format="rgb24"))
    refused = cli("convert", clip, "-o", tmp_path / "c.mkv", "--export-depth", tmp_path / "depth")
    assert refused.code == 4 and "--overwrite" in refused.err


def test_hole_masks_feed_the_eval_command(cli, tmp_path):
    clip = write_clip(tmp_path / "in.mp4", frames=6)
    out = tmp_path / "o.mkv"
    result = cli("convert", clip, "-o", out, "--codec", "ffv1", "--synthesize", "right", "--divergence", "8",
                 "--export-holes", tmp_path, "--progress", "none")
    assert result.code == 0, result.err
    holes_r = tmp_path / "o.holes_R.mkv"
    info = probe(holes_r)
    assert info.video.frame_count == 6 and (info.video.width, info.video.height) == (64, 48)
    with av.open(str(holes_r)) as c:
        mask = next(c.decode(video=0)).to_ndarray(format="rgb24")[..., 0]
    assert 0 < (mask > 127).mean() < 0.5  # some disocclusions, not everything
    with av.open(str(tmp_path / "o.holes_L.mkv")) as c:  # synthesize right: the left eye is the source
        assert next(c.decode(video=0)).to_ndarray(format="rgb24").max() == 0
    report = cli("eval", out, "--source", clip, "--holes", holes_r, "--json")
    assert report.code == 0, report.err
    rows = json.loads(report.out)["metrics"]
    assert rows["ewarp_holes"] is not None and rows["ewarp_right"] is not None
