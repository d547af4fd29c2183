"""convert --vr180: the equirect SBS master, its st3d + sv3d boxes read back, pass-through, refusals."""

from __future__ import annotations

import av
import numpy as np

from engine.media import probe
from engine.media.isobmff import write_with_boxes
from engine.media.sv3d import VR180_BOUNDS, parse_sv3d, read_sample_entry_boxes, sv3d_box
from engine.ops.vr180 import vr180_size_for_eye
from tests.support.clips import HEIGHT, WIDTH, write_clip


def first_frame(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def test_vr180_master_is_tagged_and_holds_the_screen_inside_black(cli, tmp_path):
    source = write_clip(tmp_path / "s.mp4", frames=2)
    result = cli("convert", source, "--vr180", "-o", tmp_path / "vr.mp4", "--name-for-players", "--no-cache",
                 "--progress", "none")
    assert result.code == 0, result.err
    out = tmp_path / "vr_180_LR.mp4"
    kinds = [kind for kind, _ in read_sample_entry_boxes(out)]
    assert kinds[-2:] == [b"st3d", b"sv3d"]  # in the video sample entry, st3d first (spherical RFC v2)
    boxes = dict(read_sample_entry_boxes(out))
    assert boxes[b"st3d"][12] == 2  # left-right
    sv3d = parse_sv3d(boxes[b"sv3d"])
    assert sv3d["projection"] == "equirectangular" and sv3d["bounds"] == VR180_BOUNDS
    assert sv3d["pose"] == (0.0, 0.0, 0.0)
    info = probe(out).video  # FFmpeg's own reading of the boxes
    assert info.projection == "equirect-180" and info.stereo_mode == "left_right"
    size = vr180_size_for_eye(WIDTH, "h264")
    assert (info.width, info.height) == (2 * size, size)
    image = first_frame(out).astype(int)
    for half in (image[:, :size], image[:, size:]):
        assert half[:4, :4].max() < 24 and half[-4:, -4:].max() < 24  # outside the screen: black
        assert half[size // 2 - 2:size // 2 + 2, size // 2 - 2:size // 2 + 2].mean() > 24  # the picture


def test_vr180_refusals_and_notes(cli, tmp_path):
    source = write_clip(tmp_path / "s.mp4", frames=2)
    tb = cli("convert", source, "--vr180", "--layout", "tb-full", "-o", tmp_path / "a.mp4")
    assert tb.code == 2 and "side by side" in tb.err
    far = cli("convert", source, "--vr180", "--divergence", "4", "-o", tmp_path / "b.mp4")
    assert far.code == 2 and "beyond infinity" in far.err and "--divergence 3.25" in far.err
    mkv = cli("convert", source, "--vr180", "-o", tmp_path / "c.mkv", "--no-cache", "--progress", "none")
    assert mkv.code == 0 and "will look flat to players" in mkv.err
    assert not list(tmp_path.glob("[ab].mp4"))


def test_an_equirect_180_source_is_passed_through(cli, tmp_path):
    flat = write_clip(tmp_path / "flat.mp4", frames=2)
    spherical = tmp_path / "mono180.mp4"
    write_with_boxes(flat, spherical, [sv3d_box()])
    assert probe(spherical).video.projection == "equirect-180"
    plain = cli("convert", spherical, "-o", tmp_path / "flat_sbs.mp4", "--no-cache", "--progress", "none")
    assert plain.code == 0 and "spherical video; this flat master drops that" in plain.err
    result = cli("convert", spherical, "--vr180", "-o", tmp_path / "vr.mp4", "--no-cache", "--progress", "none")
    assert result.code == 0 and "passed through" in result.err, result.err
    info = probe(tmp_path / "vr.mp4").video
    assert (info.width, info.height) == (2 * WIDTH, HEIGHT) and info.projection == "equirect-180"
