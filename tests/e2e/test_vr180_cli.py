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


def keyed_project(folder, media, frames: int, divergence: tuple[float, float], convergence: tuple[float, float]):
    """A one-shot project over `media` whose D and c are keyed (linear) at its first and last frame."""
    from fractions import Fraction

    from engine.document import Grade, Keyframe, Project, Shot, Track, save_project

    grade = Grade(divergence=Track((Keyframe(0, divergence[0]), Keyframe(frames - 1, divergence[1]))),
                  convergence=Track((Keyframe(0, convergence[0]), Keyframe(frames - 1, convergence[1]))))
    path = folder / "keyed.sdproj"
    save_project(Project.single(str(media), Fraction(24), frames, (Shot(0, frames, grade),)), path)
    return path


def test_a_keyframed_grade_is_checked_on_every_frame(cli, tmp_path):
    source = write_clip(tmp_path / "s.mp4", frames=9)
    # each end is inside the limit (1.0 % and 0.4 %), but D and c are interpolated separately and their
    # product peaks between the keys: 4.5 × (1 − 0.475) = 2.36 % at frame 4, past infinity (2.17 %)
    bad = keyed_project(tmp_path, source, 9, (1.0, 8.0), (0.0, 0.95))
    far = cli("convert", "--project", bad, "--vr180", "-o", tmp_path / "b.mp4", "--progress", "none")
    assert far.code == 2 and "shot 1 (frames 0-8)" in far.err and "at frame 4" in far.err, far.err
    assert "beyond infinity" in far.err and not (tmp_path / "b.mp4").exists()
    good = keyed_project(tmp_path, source, 9, (1.0, 3.0), (0.0, 0.4))  # at most 1.8 % (frame 8)
    ok = cli("convert", "--project", good, "--vr180", "-o", tmp_path / "g.mp4", "--no-cache", "--progress", "none")
    assert ok.code == 0, ok.err
    assert probe(tmp_path / "g.mp4").video.projection == "equirect-180"


def test_a_farm_render_writes_the_vr180_boxes_and_the_convert_frames(cli, tmp_path):
    source = write_clip(tmp_path / "s.mp4", frames=6)
    project = keyed_project(tmp_path, source, 6, (1.0, 2.5), (0.3, 0.4))
    common = ("--vr180", "--codec", "ffv1", "--temporal", "off", "--cache-dir", tmp_path / "cache", "--progress",
              "none")
    one = cli("convert", "--project", project, "-o", tmp_path / "one.mp4", *common)
    assert one.code == 0, one.err
    farm = cli("render", project, "-o", tmp_path / "farm.mp4", "--chunk-frames", "2", *common)
    assert farm.code == 0, farm.err
    for out in (tmp_path / "one.mp4", tmp_path / "farm.mp4"):
        kinds = [kind for kind, _ in read_sample_entry_boxes(out)]
        assert kinds[-2:] == [b"st3d", b"sv3d"], out
        assert parse_sv3d(dict(read_sample_entry_boxes(out))[b"sv3d"])["bounds"] == VR180_BOUNDS
        assert probe(out).video.projection == "equirect-180"

    def frames(path):
        with av.open(str(path)) as container:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]

    a, b = frames(tmp_path / "one.mp4"), frames(tmp_path / "farm.mp4")
    assert len(a) == len(b) == 6 and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
