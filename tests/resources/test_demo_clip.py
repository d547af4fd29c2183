"""The committed demo clip and its depth fixture: small, decodable, tagged, and consistent with each other.

Nothing is re-rendered here (see test_make_demo.py for that); everything reads the committed files.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "resources" / "demo" / "demo.mp4"
FIXTURE = REPO / "tests" / "fixtures" / "demo_depth.npz"
N_FRAMES = 72


@pytest.fixture(scope="module")
def clip() -> dict:
    """Every decoded RGB frame (N, H, W, 3) uint8, the stream descriptions and the decoded audio (C, S)."""
    assert CLIP.is_file(), f"{CLIP} is missing: run `python resources/demo/make_demo.py`"
    with av.open(str(CLIP)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        cc = video.codec_context
        info = {
            "codec": cc.name, "pix_fmt": cc.pix_fmt, "rate": Fraction(video.average_rate),
            "tags": (cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range),
            "audio_codec": audio.codec_context.name, "audio_rate": audio.rate, "channels": audio.channels,
            "audio_seconds": float(audio.duration * audio.time_base),
            "video_seconds": float(video.duration * video.time_base),
        }
        decoded = list(container.decode(video=0))
        info["frames"] = np.stack([f.to_ndarray(format="rgb24") for f in decoded])
        info["times"] = np.array([float(f.time) for f in decoded])
    with av.open(str(CLIP)) as container:
        keys = [p.pts * p.time_base for p in container.demux(video=0) if p.size and p.is_keyframe]
        info["keyframes"] = sorted(round((t - keys[0]) * info["rate"]) for t in keys)
    with av.open(str(CLIP)) as container:
        info["audio"] = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    return info


@pytest.fixture(scope="module")
def fixture() -> dict:
    assert FIXTURE.is_file(), f"{FIXTURE} is missing: run `python resources/demo/make_demo.py`"
    with np.load(FIXTURE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _area_down(img: np.ndarray, s: int) -> np.ndarray:
    """(H, W, C) -> (H/s, W/s, C) box average."""
    h, w, c = img.shape
    return img.reshape(h // s, s, w // s, s, c).mean(axis=(1, 3))


def _gradient(a: np.ndarray) -> np.ndarray:
    gy, gx = np.gradient(a)
    return np.hypot(gx, gy)


def _edge_agreement(rgb: np.ndarray, depth: np.ndarray, s: int) -> float:
    """Mean image gradient on depth discontinuities over the mean image gradient (1 = no relation)."""
    g = _gradient(_area_down(rgb.astype(np.float32), s).mean(-1))
    edges = _gradient(np.log(depth)) > 0.15
    return float(g[edges].mean() / g.mean())


def test_clip_is_small_h264_bt709_with_stereo_audio(clip):
    assert CLIP.stat().st_size < 3_000_000
    assert (clip["codec"], clip["pix_fmt"]) == ("h264", "yuv420p")
    assert clip["rate"] == 24
    assert clip["tags"] == (1, 1, 1, 1)  # BT.709 primaries, transfer, matrix; limited (tv) range
    assert (clip["audio_codec"], clip["audio_rate"], clip["channels"]) == ("aac", 48000, 2)
    assert clip["audio_seconds"] == pytest.approx(clip["video_seconds"], abs=0.05)
    assert clip["video_seconds"] == pytest.approx(3.0, abs=1e-6)


def test_clip_decodes_every_frame_and_moves(clip):
    frames = clip["frames"]
    assert frames.shape == (N_FRAMES, 360, 640, 3)
    assert np.allclose(np.diff(clip["times"]), 1 / 24), "constant frame rate, no dropped or repeated frames"
    assert clip["keyframes"] == [0, 24, 48]  # one-second GOPs (display order), so seeking is exercised
    step = np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    assert step.min() > 0.5, "some consecutive frames barely differ: the camera should move throughout"
    assert 60 < frames.mean() < 200 and frames.std() > 30, "the picture is blank or badly exposed"


def test_audio_is_stereo_with_sync_pings_on_frames_24_and_48(clip):
    audio = clip["audio"]
    assert audio.shape[0] == 2
    assert 0.02 < np.sqrt((audio**2).mean()) < 0.5
    assert np.abs(audio[0] - audio[1]).mean() > 0.01, "left and right are the same: not really stereo"
    win = 480  # 10 ms at 48 kHz
    seg = audio[0, : audio.shape[1] // win * win].reshape(-1, win)
    tone = np.abs(seg @ np.exp(-2j * np.pi * 880 * np.arange(win) / 48000))
    onsets = np.nonzero(tone[1:] > 4 * tone[:-1] + 1)[0] + 1
    assert list(onsets) == [100, 200], "880 Hz pings should start at exactly 1 s and 2 s"


def test_fixture_matches_the_clip(fixture, clip):
    assert FIXTURE.stat().st_size < 3_000_000
    depth, s = fixture["depth"], int(fixture["depth_downsample"])
    assert depth.dtype == np.float16
    assert depth.shape == (N_FRAMES, 360 // s, 640 // s) == (len(clip["frames"]), 360 // s, 640 // s)
    assert (int(fixture["width"]), int(fixture["height"])) == (640, 360)
    assert Fraction(int(fixture["fps_num"]), int(fixture["fps_den"])) == clip["rate"]
    assert np.isfinite(depth).all() and (depth > 0).all()
    assert float(fixture["focal_px"]) == pytest.approx(320 / np.tan(np.radians(30)))
    assert "focal_px * b / Z" in str(fixture["baseline_note"])
    for key in ("cam_pos", "cam_forward", "cam_right", "cam_up"):
        assert fixture[key].shape == (N_FRAMES, 3)


def test_fixture_depth_is_ordered_like_the_picture(fixture):
    """In every frame: bottom rows (near ground) < middle (far ground) < ridges < top rows (sky)."""
    rows = np.median(fixture["depth"].astype(np.float32), axis=2)  # (N, h)
    h = rows.shape[1]
    order = rows[:, [h - 1, int(0.7 * h), int(0.55 * h), int(0.33 * h), 0]]
    assert (np.diff(order, axis=1) > 0).all()
    assert (order[:, 0] < 5).all() and (order[:, -1] > 500).all()


def test_fixture_is_aligned_with_the_frames(fixture, clip):
    """Depth edges fall on image edges, and not once the depth is mirrored or taken from the other end."""
    depth, s = fixture["depth"].astype(np.float32), int(fixture["depth_downsample"])
    for i in (0, N_FRAMES // 2, N_FRAMES - 1):
        aligned = _edge_agreement(clip["frames"][i], depth[i], s)
        assert aligned > 2.5
        assert aligned > 1.5 * _edge_agreement(clip["frames"][i], depth[i][:, ::-1], s)
        if i != N_FRAMES // 2:
            assert aligned > 1.5 * _edge_agreement(clip["frames"][i], depth[N_FRAMES - 1 - i], s)
    sky = depth[0] > 500
    small = _area_down(clip["frames"][0].astype(np.float32), s)
    assert (small[sky][:, 2] > small[sky][:, 0]).mean() > 0.9, "the farthest pixels should be blue sky"


def test_fixture_poses_put_ground_pixels_on_the_ground_plane(fixture):
    """Unproject the bottom-left corner (meadow in every frame) with the stored pose: it lands on y = 0."""
    s, f = int(fixture["depth_downsample"]), float(fixture["focal_px"])
    cx, cy = float(fixture["cx"]), float(fixture["cy"])
    depth = fixture["depth"].astype(np.float64)
    r, c = depth.shape[1] - 1, 0
    x, y = s * c + s / 2, s * r + s / 2
    ray = fixture["cam_forward"] + (x - cx) / f * fixture["cam_right"] - (y - cy) / f * fixture["cam_up"]
    points = fixture["cam_pos"] + depth[:, r, c, None] * ray
    assert np.abs(points[:, 1]).max() < 0.01
    forward = fixture["cam_forward"]
    assert np.allclose(np.linalg.norm(forward, axis=1), 1, atol=1e-5)
    assert np.allclose((forward * fixture["cam_up"]).sum(1), 0, atol=1e-5)
    travel = fixture["cam_pos"][-1] - fixture["cam_pos"][0]
    assert travel[0] == pytest.approx(1.0, abs=1e-4) and travel[2] == pytest.approx(0.6, abs=1e-4)
