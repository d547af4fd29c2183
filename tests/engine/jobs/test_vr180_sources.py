"""engine.jobs.vr180: what a --vr180 source already is, its pass-through sizes, and the far plane at infinity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.document import StereoParams
from engine.jobs.frame import FrameAssembly
from engine.jobs.request import ConvertRequest
from engine.jobs.vr180 import Vr180Source, split_views, stereo_sizes, vr180_source
from engine.media import open_media, write_still
from engine.ops.fisheye import FisheyeCircle


def circle_picture(size: int, seed: int) -> np.ndarray:
    """(size, size, 3) uint8: a textured disc just inside the square, black outside."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    inside = np.hypot(xx - size / 2, yy - size / 2) <= size / 2 - 2
    return np.where(inside[..., None], rng.integers(50, 255, (size, size, 3)), 0).astype(np.uint8)


def test_views_split_and_pass_through_sizes():
    image = np.arange(4 * 6 * 3).reshape(4, 6, 3)
    left, right = split_views(image, "left_right")
    assert left.shape == right.shape == (4, 3, 3) and right[0, 0, 0] == image[0, 3, 0]
    top, bottom = split_views(image, "top_bottom")
    assert top.shape == (2, 6, 3) and bottom[0, 0, 0] == image[2, 0, 0]
    from engine.media.stills import still_info

    fisheye = Vr180Source("fisheye", "left_right", "picture", (FisheyeCircle(64, 64, 62.0, (128, 128)),) * 2)
    info = still_info("x.png", np.zeros((128, 256, 3), np.uint8))
    assert stereo_sizes(fisheye, info, "h264", None) == ((124, 124), (248, 124))
    assert stereo_sizes(fisheye, info, "h264", 100) == ((100, 100), (200, 100))  # --max-width caps S
    equirect = Vr180Source("equirect", "left_right", "metadata")
    assert stereo_sizes(equirect, info, "h264", None) == ((128, 128), (256, 128))
    assert stereo_sizes(equirect, info, "h264", 64) == ((64, 64), (128, 64))


def test_what_a_still_is_found_to_be(tmp_path):
    pair = np.concatenate([circle_picture(120, 1), circle_picture(120, 2)], axis=1)
    write_still(tmp_path / "pair.png", pair)
    write_still(tmp_path / "flat.png", np.random.default_rng(0).integers(30, 255, (90, 160, 3)).astype(np.uint8))
    with open_media(tmp_path / "pair.png") as reader:
        found = vr180_source("auto", reader)
        assert found.projection == "fisheye" and found.packing == "left_right" and found.found_by == "picture"
        assert vr180_source("flat", reader) is None
        assert vr180_source("equirect", reader) == Vr180Source("equirect", None, "--vr180-input")
    with open_media(tmp_path / "flat.png") as reader:
        assert vr180_source("auto", reader) is None
        forced = vr180_source("fisheye", reader)  # said so, but no rim shows: the inscribed circle
        assert forced.packing is None and forced.circles[0] == FisheyeCircle(80.0, 45.0, 45.0, (160, 90))


def test_a_180_degree_sources_grade_puts_the_far_plane_at_infinity():
    """engine.jobs.frame.FrameAssembly(far_at_infinity=True): graded with convergence 1 whatever the grade says,
    so no δ gets a negative (diverging) disparity."""
    request = ConvertRequest(Path("in.mp4"), Path("out.mp4"), vr180=True, temporal=False)
    image = np.full((8, 16, 3), 128, np.uint8)
    delta = torch.linspace(0, 1, 16).repeat(8, 1)[None, None]  # nearest on the left, farthest on the right
    params = StereoParams(3.0, 1 / 3)
    plain = FrameAssembly(request, torch.device("cpu")).prepare(0, image, delta, params).disparity
    far = FrameAssembly(request, torch.device("cpu"), far_at_infinity=True).prepare(0, image, delta, params).disparity
    assert plain.min() < -0.1  # the screen-plane grade: the far third behind the screen
    assert far.min() >= 0.0 and abs(float(far[0, 0, 0, -1])) < 1e-6  # the farthest at zero: infinity
    assert float(far[0, 0, 0, 0]) == pytest.approx(0.03 * 16, rel=1e-5)  # the nearest: D % of the eye width


def test_a_fisheye_is_rendered_no_larger_than_its_capped_equirect_eye_needs():
    from engine.jobs.plan import vr180_sizes
    from engine.media import EncodeSettings
    from engine.media.stills import still_info

    info = still_info("x.png", np.zeros((4000, 4000, 3), np.uint8))
    source = Vr180Source("fisheye", None, "picture", (FisheyeCircle(2000.0, 2000.0, 2000.0, (4000, 4000)),))
    request = ConvertRequest(Path("x.png"), Path("y.png"), vr180=True, encode=EncodeSettings("h264"))
    assert vr180_sizes(request, info, source) == ((2048, 2048), (4096, 2048))  # H.264's 2048 px eye
    hevc = ConvertRequest(Path("x.png"), Path("y.png"), vr180=True, encode=EncodeSettings("hevc"))
    assert vr180_sizes(hevc, info, source) == ((2880, 2880), (5760, 2880))


def test_the_stereo_pass_through_keeps_each_views_circle_through_swap_eyes():
    from engine.jobs.vr180 import StereoPassThrough
    from engine.ops.fisheye import fisheye_grid, fisheye_to_equirect

    left, right = circle_picture(120, 1), circle_picture(120, 2)
    circles = (FisheyeCircle(60.0, 60.0, 58.0, (120, 120)), FisheyeCircle(61.0, 59.0, 55.0, (120, 120)))
    source = Vr180Source("fisheye", "left_right", "picture", circles)
    frame = np.concatenate([left, right], axis=1)
    size = 116

    def alone(view, circle):
        t = torch.from_numpy(view).permute(2, 0, 1)[None].float() / 255
        return (fisheye_to_equirect(t, fisheye_grid(size, circle))[0].permute(1, 2, 0).numpy() * 255).round()

    through = StereoPassThrough(source, (size, size), (0, 0), torch.device("cpu"))
    out = through(frame).astype(float)
    assert out.shape == (size, 2 * size, 3)
    assert np.abs(out[:, :size] - alone(left, circles[0])).max() <= 1 and \
        np.abs(out[:, size:] - alone(right, circles[1])).max() <= 1
    swapped = through(frame, swap_eyes=True).astype(float)
    assert np.abs(swapped[:, :size] - alone(right, circles[1])).max() <= 1  # the right view, through its own circle
    small = StereoPassThrough(source, (32, 32), (0, 0), torch.device("cpu"))
    assert small.view_size == (33, 33) and small(frame).shape == (32, 64, 3)  # area-resized to the eye first
