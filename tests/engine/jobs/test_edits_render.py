"""Depth edits in the render: the session's δ and the master's exported δ agree on edited frames, edits
change only their carried footprint (δ bit-identical elsewhere; the per-frame master too, beyond the
footprint widened by the disparity), and removing a stroke (undo) restores δ exactly."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine import api
from engine.document import Stroke
from engine.document import edits as doc_edits
from tests.support.shot_clips import WARM, clip_from_shots, drift, pan

LENGTHS = (8, 10)
N = sum(LENGTHS)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clip")
    path, _ = clip_from_shots(folder / "two.mp4", [(LENGTHS[0], drift(3, WARM, LENGTHS[0])),
                                                   (LENGTHS[1], pan(4, (0.4, 0.9, 0.6), LENGTHS[1], 3, 12))])
    return path


@pytest.fixture
def settings(tmp_path) -> api.ConvertRequest:
    return api.ConvertRequest(input=None, temporal=False, layout="sbs-full", cache_dir=tmp_path / "cache",
                              encode=api.EncodeSettings(codec="ffv1"), params=api.StereoParams(4.0, 0.4))


STROKES = (
    Stroke("s1", "push", 3, ((50.0, 40.0), (70.0, 45.0)), radius=10, softness=6, amount=-0.3),
    Stroke("s2", "set", 12, ((110.0, 50.0),), radius=12, softness=4, amount=1.0, value=0.9, edge_aware=True),
    Stroke("s3", "smooth", 12, ((40.0, 30.0),), radius=14, softness=4, amount=1.0),
)


def project_of(clip: Path, strokes=STROKES) -> api.Project:
    one = api.Shot(0, LENGTHS[0], api.Grade(), "one", strokes=tuple(s for s in strokes if s.frame < LENGTHS[0]))
    two = api.Shot(LENGTHS[0], N, api.Grade(), "two", strokes=tuple(s for s in strokes if s.frame >= LENGTHS[0]))
    return api.Project.single(str(clip), Fraction(24), N, (one, two))


def master(tmp_path: Path, request: api.ConvertRequest, project: api.Project, name: str):
    out, export = tmp_path / f"{name}.mkv", tmp_path / f"{name}-depth"
    job = replace(request, input=None, project=project, output=out, export_depth=api.DepthExportSpec(export, "npy"))
    notes = [p.message for p in api.convert(job) if p.stage == "note"]
    with api.open_media(out) as reader:
        frames = [f.image for f in reader.frames()]
    return frames, [1.0 - np.load(export / f"two.depth.{n:06d}.npy") for n in range(N)], notes


def test_edits_session_depth_equals_the_masters_exported_depth(tmp_path, clip, settings):
    project = project_of(clip)
    frames, exported, _ = master(tmp_path, settings, project, "edited")
    _, plain, _ = master(tmp_path, settings, project_of(clip, ()), "plain")
    with api.open_session(project, request=settings) as s:
        for shot in project.shots:
            for _ in s.analyse(shot):
                pass
        for n in range(N):
            np.testing.assert_allclose(s.depth(n).delta, exported[n], atol=1e-6)
            overlay, _ = s.edit_overlay(n)
            assert overlay is not None
            outside = overlay == 0
            assert np.array_equal(exported[n][outside], plain[n][outside])  # bit-identical off the footprint
        assert not np.allclose(exported[3], plain[3])
        assert exported[3][42, 60] < plain[3][42, 60] - 0.2  # pulled nearer where painted
        assert exported[12][50, 110] == pytest.approx(0.9, abs=1e-6)  # set, on its painted frame
        carried = [n for n in range(N) if (s.edit_overlay(n)[0] > 0).any()]
        assert carried == list(range(N))  # both shots: every frame is reached by its shot's strokes


def test_edits_per_frame_master_changes_only_near_the_footprint(tmp_path, clip, settings):
    project = project_of(clip)
    edited, _, _ = master(tmp_path, settings, project, "edited")
    plain, _, _ = master(tmp_path, settings, project_of(clip, ()), "plain")
    with api.open_session(project, request=settings) as s:
        for n in range(N):
            overlay, _ = s.edit_overlay(n)
            params = s.params_at(n)
            max_d = params.divergence / 100 * s.eye_size[0] * max(params.convergence, 1 - params.convergence)
            reach = int(np.ceil(max_d)) + 2
            near = cv2.dilate((overlay > 0).astype(np.uint8), np.ones((1, 2 * reach + 1), np.uint8)) > 0
            eyes = np.concatenate([near, near], axis=1)  # sbs-full: left eye, right eye
            assert np.array_equal(edited[n][~eyes], plain[n][~eyes])


def test_edits_undo_restores_depth_exactly(clip, settings):
    project = project_of(clip)
    with api.open_session(project_of(clip, STROKES[1:]), request=settings) as s:
        for _ in s.analyse(project.shots[0]):
            pass
        before = s.depth(4).delta.copy()
        s.update(doc_edits.add_stroke(s.project, "c1", 0, STROKES[0]))
        assert not np.array_equal(s.depth(4).delta, before)
        s.update(doc_edits.remove_stroke(s.project, "c1", 0, "s1"))
        assert np.array_equal(s.depth(4).delta, before)


def test_edits_bad_strokes_are_ignored_with_a_note(tmp_path, clip, settings):
    bad = (Stroke("z1", "push", 2, ((500.0, 500.0),), radius=5, amount=0.2),
           Stroke("z2", "push", 2, ((50.0, 40.0),), radius=0, softness=3, amount=0.2))
    _, exported, notes = master(tmp_path, settings, project_of(clip, bad), "bad")
    _, plain, _ = master(tmp_path, settings, project_of(clip, ()), "plain")
    assert all(np.array_equal(a, b) for a, b in zip(exported, plain, strict=True))
    assert any("z1 lies outside the frame" in n for n in notes)
    assert any("z2 has zero radius" in n for n in notes)


def test_edits_survive_save_and_load(tmp_path, clip, settings):
    project = project_of(clip)
    path = tmp_path / "edited.sdproj"
    api.save_project(project, path)
    loaded = api.load_project(path)
    assert [s.strokes for s in loaded.shots] == [s.strokes for s in project.shots]
    with api.open_session(project, request=settings) as a, api.open_session(loaded, request=settings) as b:
        for _ in a.analyse(project.shots[1]):
            pass
        for _ in b.analyse(loaded.shots[1]):
            pass
        for n in (LENGTHS[0], 12, N - 1):
            assert np.array_equal(a.depth(n).delta, b.depth(n).delta)


def test_edits_after_a_shot_split_stay_with_the_shot_that_holds_their_frame(clip, settings):
    project = doc_edits.split_shot(project_of(clip), "c1", 14)  # s2, s3 were painted on 12: they stay on [8, 14)
    assert [len(s.strokes) for s in project.shots] == [1, 2, 0]
    with api.open_session(project, request=settings) as s:
        for shot in project.shots:
            for _ in s.analyse(shot):
                pass
        assert (s.edit_overlay(13)[0] > 0).any() and s.edit_overlay(15)[0] is None
        assert s.depth(12).delta[50, 110] == pytest.approx(0.9, abs=1e-6)


def test_edits_dvg_master_differences_outside_the_footprint_are_small(tmp_path, clip, settings):
    """The temporal (DVG) master fills holes from neighbouring frames, so an edit can change fills a little
    beyond its widened footprint; measured and reported here (the per-frame master is bit-identical there)."""
    dvg = replace(settings, temporal=True)
    project = project_of(clip)
    edited, _, _ = master(tmp_path, dvg, project, "edited")
    plain, _, _ = master(tmp_path, dvg, project_of(clip, ()), "plain")
    changed, outside = 0, 0
    with api.open_session(project, request=settings) as s:
        for n in range(N):
            overlay, _ = s.edit_overlay(n)
            params = s.params_at(n)
            reach = int(np.ceil(params.divergence / 100 * s.eye_size[0])) + 2
            near = cv2.dilate((overlay > 0).astype(np.uint8), np.ones((1, 2 * reach + 1), np.uint8)) > 0
            eyes = np.concatenate([near, near], axis=1)
            diff = np.abs(edited[n].astype(np.int16) - plain[n].astype(np.int16)).max(axis=2) > 0
            changed += int(diff[~eyes].sum())
            outside += int((~eyes).sum())
    share = changed / outside
    print(f"DVG master: {100 * share:.3f} % of pixels outside the widened footprint differ")
    assert share < 0.02
