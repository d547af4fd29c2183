"""Project QC measures exactly the disparity convert renders with: edits, keyframed curve, grade, windows."""

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from engine import api
from engine.document import Grade, Keyframe, Project, Shot, Stroke, Track, WindowTrack
from engine.grading.qc import parallax_stats, window_columns
from tests.engine.jobs.test_qc import run, scene, write_video


def graded_project(media, n):
    """Two shots: a keyframed divergence + depth curve with a 'set' stroke; a plain grade with a window."""
    g1 = Grade(divergence=Track((Keyframe(0, 2.0), Keyframe(n // 2 - 1, 4.0))),
               convergence=Track((Keyframe(0, 0.4),)), gamma=Track((Keyframe(0, 0.6),)),
               near=Track((Keyframe(0, 0.1),)), far=Track((Keyframe(0, 0.9),)))
    stroke = Stroke("s1", "set", 1, ((60.0, 40.0), (120.0, 40.0)), radius=12.0, value=0.05)
    g2 = Grade(divergence=Track((Keyframe(n // 2, 3.0),)), convergence=Track((Keyframe(n // 2, 0.5),)))
    window = (WindowTrack("left", Track((Keyframe(n // 2, 1.5),))),)
    shots = (Shot(0, n // 2, g1, strokes=(stroke,)), Shot(n // 2, n, g2, windows=window))
    return Project.single(str(media), Fraction(24), n, shots)


@pytest.mark.slow
def test_project_qc_equals_the_rendered_disparity(tmp_path):
    n = 6
    media = write_video(tmp_path / "src.mkv", [left for left, _ in scene(n=n)])  # a mono clip
    project = graded_project(media, n)
    disp = tmp_path / "disp"
    request = api.ConvertRequest(input=media, output=tmp_path / "out.mkv", project=project, temporal=False,
                                 cache_dir=tmp_path / "cache", encode=api.EncodeSettings(codec="ffv1"),
                                 export_depth=api.DepthExportSpec(tmp_path / "depth", "npy", disp, "npy"))
    for _ in api.convert(request):
        pass
    report = run(api.qc(api.QcRequest(media, project=project, convert=request)))
    assert report.mode == "project" and len(report.frames) == n
    for k, measured in enumerate(report.frames):
        d = np.load(next(disp.glob(f"*.disparity.{k:06d}.npy")))
        windows = project.clip().shot_at(k).window_at(k)
        if any(windows):  # the window's columns are masked out of the statistics
            d = np.where(window_columns(d.shape[1], windows)[None, :], d, np.nan)
        truth = parallax_stats(d)
        assert measured.p01 == pytest.approx(truth.p01, abs=1e-3), k
        assert measured.p99 == pytest.approx(truth.p99, abs=1e-3), k
        assert measured.salient == pytest.approx(truth.salient, abs=1e-3), k
    # the stroke on frame 1 matters: without it the measure would differ (so the edit was measured)
    clip = project.clip()
    plain = Project.single(clip.media, clip.fps, n, tuple(replace(s, strokes=()) for s in clip.shots))
    unedited = run(api.qc(api.QcRequest(media, project=plain, convert=replace(request, project=plain))))
    assert abs(unedited.frames[1].salient - report.frames[1].salient) > 0.1
