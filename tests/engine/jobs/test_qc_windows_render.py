"""Floating windows from a project are applied by convert: per eye, before packing, following --swap-eyes."""

from fractions import Fraction

import numpy as np

from engine import api
from engine.document import Grade, Keyframe, Project, Shot, StereoParams, Track, WindowTrack
from engine.jobs.convert import windows_at
from engine.media import EncodeSettings, VideoWriter, open_media


def source(path, w=200, h=64, n=3):
    rng = np.random.default_rng(0)
    with VideoWriter(path, width=w, height=h, fps=Fraction(24), settings=EncodeSettings(codec="ffv1")) as writer:
        for k in range(n):
            writer.write((96 + rng.random((h, w, 3)) * 128).astype(np.uint8), Fraction(k, 24))
    return path


def project_with_windows(path, left, right, n=3):
    tracks = tuple(WindowTrack(e, Track((Keyframe(0, v),))) for e, v in (("left", left), ("right", right)) if v)
    shot = Shot(0, n, Grade.constant(StereoParams(2.0, 0.5)), windows=tracks)
    return Project.single(str(path), Fraction(24), n, (shot,))


def render(tmp_path, project, swap=False):
    src = project.clip().media
    out = tmp_path / ("swap.mkv" if swap else "out.mkv")
    request = api.ConvertRequest(input=src, output=out, project=project, layout="sbs-full", swap_eyes=swap,
                                 temporal=False, use_cache=False, encode=EncodeSettings(codec="ffv1"))
    for _ in api.convert(request):
        pass
    with open_media(out) as reader:
        return reader.frame(1).image


def test_windows_at_reads_the_shot_tracks(tmp_path):
    clip = project_with_windows(tmp_path / "s.mkv", 2.0, 0.0).clip()
    assert windows_at(clip, 1) == (2.0, 0.0)
    assert windows_at(clip, 99) == (0.0, 0.0)


def test_convert_masks_the_left_eyes_left_and_the_right_eyes_right_border(tmp_path):
    project = project_with_windows(source(tmp_path / "s.mkv"), left=5.0, right=2.5)  # 10 px and 5 px of 200
    frame = render(tmp_path, project)
    left, right = frame[:, :200], frame[:, 200:]
    assert left[:, :9].max() == 0 and left[:, 11:].min() > 40  # black, then the picture after the soft edge
    assert right[:, -4:].max() == 0 and right[:, :-6].min() > 40
    assert left[:, -5:].min() > 40 and right[:, :10].min() > 40  # the other borders untouched
    swapped = render(tmp_path, project, swap=True)  # the masks travel with their eyes
    assert swapped[:, 200:209].max() == 0 and swapped[:, 196:200].max() == 0
