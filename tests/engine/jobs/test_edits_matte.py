"""Imported mattes and hidden strokes in the render: a matte sequence (16-bit PNG) edits δ exactly where it
is white on each of its frames, a single matte image is carried by flow like a painted stroke, the master
and the session agree, a hidden stroke changes nothing, and both survive save/load."""

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
from tests.engine.jobs import test_edits_render as render
from tests.engine.jobs.test_edits_render import LENGTHS, N, master

clip = render.clip  # the two-shot clip and the render settings of the render-parity tests
settings = render.settings


def source_size(clip: Path) -> tuple[int, int]:
    info = api.probe(clip).video
    return info.width, info.height


def write_mattes(folder: Path, size: tuple[int, int], frames: int) -> list[tuple[int, int, int, int]]:
    """16-bit PNG mattes roto.0000.png …: a white box moving 3 px per file; returns each box (x0, y0, x1, y1)."""
    folder.mkdir()
    w, h = size
    boxes = []
    for j in range(frames):
        matte = np.zeros((h, w), np.uint16)
        box = (20 + 3 * j, 20, 60 + 3 * j, 50)
        matte[box[1]:box[3], box[0]:box[2]] = 65535
        cv2.imwrite(str(folder / f"roto.{j:04d}.png"), matte)
        boxes.append(box)
    return boxes


def project_with(clip: Path, strokes_two=(), strokes_one=()) -> api.Project:
    one = api.Shot(0, LENGTHS[0], api.Grade(), "one", strokes=tuple(strokes_one))
    two = api.Shot(LENGTHS[0], N, api.Grade(), "two", strokes=tuple(strokes_two))
    return api.Project.single(str(clip), Fraction(24), N, (one, two))


def analysed(s, project):
    for shot in project.shots:
        for _ in s.analyse(shot):
            pass


def test_edits_matte_sequence_sets_depth_where_the_matte_is_white(tmp_path, clip, settings):
    size = source_size(clip)
    boxes = write_mattes(tmp_path / "roto", size, 6)  # frames 10 … 15 of shot two [8, 18)
    stroke = Stroke("m1", "set", 10, (), radius=0, amount=1.0, value=0.95,
                    matte=str(tmp_path / "roto" / "roto.%04d.png"))
    project = project_with(clip, (stroke,))
    plain = project_with(clip)
    with api.open_session(project, request=settings) as s, api.open_session(plain, request=settings) as p:
        analysed(s, project)
        analysed(p, plain)
        scale = s.eye_size[0] / size[0]
        for n in range(LENGTHS[0], N):
            edited, base = s.depth(n).delta, p.depth(n).delta
            overlay, notes = s.edit_overlay(n)
            if not 10 <= n <= 15:
                assert np.array_equal(edited, base) and not overlay.any()  # the matte has no file there
                continue
            x0, y0, x1, y1 = (round(v * scale) for v in boxes[n - 10])
            inside = edited[y0 + 1:y1 - 1, x0 + 1:x1 - 1]
            assert inside == pytest.approx(0.95, abs=1e-6)
            assert np.array_equal(edited[overlay == 0], base[overlay == 0])  # bit-identical off the matte
        assert any("m1: its matte covers frames 10-15" in note for note in notes)
        exported = master(tmp_path, settings, project, "matte")[1]
        for n in range(N):
            np.testing.assert_allclose(s.depth(n).delta, exported[n], atol=1e-6)  # render parity


def test_edits_single_matte_image_is_carried_like_a_stroke(tmp_path, clip, settings):
    size = source_size(clip)
    write_mattes(tmp_path / "one", size, 1)
    stroke = Stroke("m2", "push", 12, (), radius=8, amount=-0.3, matte=str(tmp_path / "one" / "roto.0000.png"))
    project = project_with(clip, (stroke,))
    with api.open_session(project, request=settings) as s:
        analysed(s, project)
        reached = [n for n in range(LENGTHS[0], N) if s.edit_overlay(n)[0].any()]
        assert reached == list(range(LENGTHS[0], N))  # carried by flow over the whole shot
        assert s.edit_overlay(3)[0] is None  # the other shot has no strokes


def test_edits_missing_matte_is_ignored_with_a_note(tmp_path, clip, settings):
    stroke = Stroke("m3", "set", 12, (), radius=0, value=0.5, matte=str(tmp_path / "nowhere.%04d.png"))
    project = project_with(clip, (stroke,))
    plain = project_with(clip)
    with api.open_session(project, request=settings) as s, api.open_session(plain, request=settings) as p:
        analysed(s, project)
        analysed(p, plain)
        assert np.array_equal(s.depth(12).delta, p.depth(12).delta)
        assert any("m3: its matte" in note and "ignored" in note for note in s.edit_overlay(12)[1])


def test_edits_hidden_stroke_changes_nothing_and_survives_save(tmp_path, clip, settings):
    stroke = Stroke("s1", "push", 3, ((50.0, 40.0), (70.0, 45.0)), radius=10, softness=6, amount=-0.3)
    project = project_with(clip, strokes_one=(stroke,))
    hidden = doc_edits.set_stroke_visible(project, project.clips[0].id, 0, "s1", False)
    with api.open_session(project, request=settings) as s:
        analysed(s, project)
        shown = s.depth(3).delta.copy()
        s.update(hidden)
        plain = project_with(clip)
        with api.open_session(plain, request=settings) as p:
            analysed(p, plain)
            assert np.array_equal(s.depth(3).delta, p.depth(3).delta)
        assert s.edit_overlay(3)[0] is not None and not s.edit_overlay(3)[0].any()
        s.update(doc_edits.set_stroke_visible(hidden, project.clips[0].id, 0, "s1", True))
        assert np.array_equal(s.depth(3).delta, shown)  # shown again: exactly as before
    path = tmp_path / "hidden.sdproj"
    matte = replace(stroke, id="m9", points=(), matte=str(tmp_path / "roto.%04d.png"))
    saved = doc_edits.add_stroke(hidden, project.clips[0].id, 0, matte)
    api.save_project(saved, path)
    loaded = api.load_project(path)
    assert loaded.shots[0].strokes == saved.shots[0].strokes
    assert not loaded.shots[0].strokes[0].visible and loaded.shots[0].strokes[1].matte.endswith("roto.%04d.png")
    with pytest.raises(KeyError):
        doc_edits.set_stroke_visible(saved, project.clips[0].id, 0, "nope", False)
