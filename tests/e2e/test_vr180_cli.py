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
    alone = cli("convert", source, "--vr180-input", "fisheye", "-o", tmp_path / "d.mp4")
    assert alone.code == 2 and "there is no --vr180" in alone.err
    spherical = tmp_path / "s360.mp4"
    write_with_boxes(source, spherical, [sv3d_box(bounds=(0, 0, 0, 0))])  # a full 360° equirect
    assert probe(spherical).video.projection == "equirect-360"
    wide = cli("convert", spherical, "--vr180", "-o", tmp_path / "e.mp4", "--no-cache", "--progress", "none")
    assert wide.code == 0 and "equirect-360 projection is not 180° equirect or fisheye" in wide.err, wide.err


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


# ---------------------------------------------------------------- sources that are already 180° fisheye

EYE, RADIUS = 128, 62.0  # each fisheye view: 128 × 128, its image circle 62 px around the centre


def spot_at(lon: float, lat: float, cx: float = EYE / 2, cy: float = EYE / 2, radius: float = RADIUS):
    """The fisheye pixel (continuous) of direction (lon, lat) in degrees, through an equidistant 180° lens:
    the distance from the centre grows with the angle from the axis (the rim at 90°), the bearing is kept."""
    lo, la = np.radians(lon), np.radians(lat)
    x, y, z = np.cos(la) * np.sin(lo), np.sin(la), np.cos(la) * np.cos(lo)
    r = radius * np.arccos(z) / (np.pi / 2)
    norm = max(1e-12, float(np.hypot(x, y)))
    return cx + r * x / norm, cy - r * y / norm


def fisheye_view(spot: tuple[float, float], seed: int) -> np.ndarray:
    """(EYE, EYE, 3) uint8: a disc of smooth mid-grey texture with one bright spot, black outside it."""
    yy, xx = np.mgrid[0:EYE, 0:EYE] + 0.5
    base = 70 + 25 * np.sin(xx / 9 + seed) * np.cos(yy / 11)
    base += 180 * np.exp(-((xx - spot[0]) ** 2 + (yy - spot[1]) ** 2) / (2 * 2.0**2))
    inside = np.hypot(xx - EYE / 2, yy - EYE / 2) <= RADIUS
    return np.repeat(np.where(inside, np.clip(base, 0, 255), 0).astype(np.uint8)[..., None], 3, axis=2)


def write_frames(path, frames: list[np.ndarray]):
    from fractions import Fraction

    from engine.media import EncodeSettings, VideoWriter

    h, w = frames[0].shape[:2]
    with VideoWriter(path, width=w, height=h, fps=Fraction(24), settings=EncodeSettings("h264", crf=8)) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def spot_in(eye: np.ndarray) -> tuple[float, float]:
    """Centroid (continuous x, y) of the brightest blob of an (S, S, 3) eye."""
    level = eye[..., 1].astype(np.float64)
    y, x = np.unravel_index(np.argmax(level), level.shape)
    patch = level[max(0, y - 5):y + 6, max(0, x - 5):x + 6]
    patch = np.clip(patch - np.median(level), 0, None)
    yy, xx = np.mgrid[0:patch.shape[0], 0:patch.shape[1]] + 0.5
    return max(0, x - 5) + float((xx * patch).sum() / patch.sum()), max(0, y - 5) + float((yy * patch).sum() /
                                                                                       patch.sum())


def equirect_pixel(lon: float, lat: float, size: int) -> tuple[float, float]:
    return (lon / 180 + 0.5) * size, (0.5 - lat / 180) * size


def test_a_side_by_side_fisheye_pair_is_found_and_each_eye_reprojected(cli, tmp_path):
    directions = ((25.0, 12.0), (-30.0, -20.0))  # a different spot per eye, to tell them apart
    pair = np.concatenate([fisheye_view(spot_at(*directions[0]), 0), fisheye_view(spot_at(*directions[1]), 1)], 1)
    source = write_frames(tmp_path / "dual_fisheye.mp4", [pair, pair])
    result = cli("convert", source, "--vr180", "-o", tmp_path / "vr.mp4", "--progress", "none")
    assert result.code == 0, result.err
    assert "already stereo 180°" in result.err and "two, side by side (found in the picture" in result.err
    assert "reprojected to 180° equirect" in result.err and "no depth, no synthesis" in result.err
    out = tmp_path / "vr.mp4"
    info = probe(out).video
    size = 2 * round(RADIUS)  # the circle's pixel density over 180°
    assert (info.width, info.height) == (2 * size, size)
    assert info.projection == "equirect-180" and info.stereo_mode == "left_right"
    assert [kind for kind, _ in read_sample_entry_boxes(out)][-2:] == [b"st3d", b"sv3d"]
    image = first_frame(out)
    for k, (lon, lat) in enumerate(directions):
        got = spot_in(image[:, k * size:(k + 1) * size])
        want = equirect_pixel(lon, lat, size)
        assert abs(got[0] - want[0]) < 1.0 and abs(got[1] - want[1]) < 1.0, (k, got, want)
    (tmp_path / "seq").mkdir()  # a sequence master of the pair, as for any master
    frames = cli("convert", source, "--vr180", "-o", tmp_path / "seq/vr.%04d.png", "--progress", "none")
    assert frames.code == 0, frames.err
    import cv2

    assert [cv2.imread(str(p)).shape for p in sorted((tmp_path / "seq").iterdir())] == [(size, 2 * size, 3)] * 2


def test_one_fisheye_circle_is_synthesised_then_reprojected(cli, tmp_path):
    lon, lat = 20.0, 10.0
    source = write_frames(tmp_path / "fisheye.mp4", [fisheye_view(spot_at(lon, lat), 0)] * 2)
    result = cli("convert", source, "--vr180", "-o", tmp_path / "vr.mp4", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert "the source is 180° fisheye" in result.err and "one (found in the picture" in result.err
    assert "synthesised on the fisheye picture" in result.err
    size = 2 * round(RADIUS)
    info = probe(tmp_path / "vr.mp4").video
    assert (info.width, info.height) == (2 * size, size) and info.projection == "equirect-180"
    image = first_frame(tmp_path / "vr.mp4")
    want = equirect_pixel(lon, lat, size)
    spots = [spot_in(image[:, k * size:(k + 1) * size]) for k in range(2)]
    for got in spots:  # each eye: the spot where the lens saw it, moved sideways only by the stereo
        assert abs(got[1] - want[1]) < 1.0 and abs(got[0] - want[0]) < 4.0, (got, want)
    # in a 180° picture zero disparity is infinity: the far plane is put there, so nothing diverges
    # (the right eye never sees a point to the right of where the left eye sees it)
    assert "far plane is put there (convergence 1" in result.err
    assert spots[1][0] <= spots[0][0] + 0.3, spots
    small = cli("convert", source, "--vr180", "--max-width", "64", "-o", tmp_path / "small.mp4", "--no-cache",
                "--progress", "none")  # the cap on the equirect eye: the fisheye is rendered no larger than it needs
    assert small.code == 0, small.err
    assert (probe(tmp_path / "small.mp4").video.width, probe(tmp_path / "small.mp4").video.height) == (128, 64)
    flat = cli("convert", source, "--vr180", "--vr180-input", "flat", "-o", tmp_path / "flat.mp4", "--no-cache",
               "--progress", "none")
    assert flat.code == 0 and "virtual screen" not in flat.err and "on a 3 m screen" in flat.err


def test_fisheye_metadata_and_a_stereo_equirect_source(cli, tmp_path):
    from engine.media.isobmff import box_bytes

    source = write_frames(tmp_path / "fisheye.mp4", [fisheye_view(spot_at(0.0, 0.0), 0)] * 2)
    prji = box_bytes(b"prji", b"\0\0\0\0fish")  # Apple's projection box: a one-view fisheye
    tagged = tmp_path / "tagged.mp4"
    write_with_boxes(source, tagged, [box_bytes(b"vexu", box_bytes(b"proj", prji))])
    info = probe(tagged).video
    assert info.projection == "fisheye" and not info.multiview  # FFmpeg reads prji 'fish'; one view only
    result = cli("convert", tagged, "--vr180", "-o", tmp_path / "vr.mp4", "--no-cache", "--progress", "none")
    assert result.code == 0 and "from its projection metadata" in result.err, result.err
    # a VR180 master (stereo equirect, st3d + sv3d) as the source: its eyes are copied, not synthesised again
    master = cli("convert", write_clip(tmp_path / "s.mp4", frames=2), "--vr180", "-o", tmp_path / "m.mp4",
                 "--no-cache", "--progress", "none")
    assert master.code == 0
    again = cli("convert", tmp_path / "m.mp4", "--vr180", "-o", tmp_path / "again.mp4", "--progress", "none")
    assert again.code == 0 and "already stereo 180°" in again.err and "the eyes copied" in again.err, again.err
    a, b = probe(tmp_path / "m.mp4").video, probe(tmp_path / "again.mp4").video
    assert (a.width, a.height) == (b.width, b.height) and b.stereo_mode == "left_right"
    assert np.abs(first_frame(tmp_path / "m.mp4").astype(int) - first_frame(tmp_path / "again.mp4")).mean() < 2.0
    refused = cli("convert", tmp_path / "m.mp4", "--vr180", "--export-depth", tmp_path / "d", "-o",
                  tmp_path / "x.mp4")
    assert refused.code == 2 and "--export-depth does not apply" in refused.err
