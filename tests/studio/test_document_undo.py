"""DocumentModel + EditCommand: every kind of edit is one undo step, undo/redo restore exact documents."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.document import Project, edits
from studio.document import DocumentModel


@pytest.fixture
def doc(qtbot):
    project, clip = edits.add_clip(Project(clips=()), "/media/clip.mp4", Fraction(24), 96)
    project = edits.set_cuts(project, clip, [(0, 48), (48, 96)])
    d = DocumentModel()
    d.load(project, None, clip)
    return d


def _undo_redo_roundtrip(doc, text, fn, *args, **kwargs):
    before, index = doc.project, doc.stack.index()
    after = doc.apply(text, fn, *args, **kwargs)
    assert after != before and doc.project == after and doc.dirty and doc.stack.index() == index + 1
    doc.stack.undo()
    assert doc.project == before and doc.stack.index() == index
    doc.stack.redo()
    assert doc.project == after
    return after


def test_add_move_delete_keyframe_and_interpolation_each_undo(doc):
    c = doc.clip_id
    p = _undo_redo_roundtrip(doc, "add", edits.add_keyframe, c, 0, "divergence", 10, 5.0)
    assert p.clip(c).shots[0].grade.track("divergence").key_at(10).value == 5.0
    p = _undo_redo_roundtrip(doc, "move", edits.move_keyframe, c, 0, "divergence", 10, 20)
    assert p.clip(c).shots[0].grade.track("divergence").key_at(20) is not None
    p = _undo_redo_roundtrip(doc, "interp", edits.set_interpolation, c, 0, "divergence", 20, "hold")
    assert p.clip(c).shots[0].grade.track("divergence").key_at(20).interpolation == "hold"
    p = _undo_redo_roundtrip(doc, "delete", edits.delete_keyframe, c, 0, "divergence", 20)
    assert p.clip(c).shots[0].grade.track("divergence").key_at(20) is None
    assert doc.stack.count() == 4


def test_a_slider_drag_is_one_undo_step(doc):
    c = doc.clip_id
    start = doc.project
    for value in (3.2, 3.6, 4.1, 5.0):
        doc.apply("Set divergence", edits.set_value, c, 1, "divergence", 60, value, merge=f"divergence:{c}:1:60")
    assert doc.stack.count() == 1
    assert doc.clip.shots[1].grade.value_at("divergence", 60) == 5.0
    doc.stack.undo()
    assert doc.project == start


def test_depth_curve_edit_and_undo(doc):
    c = doc.clip_id
    p = _undo_redo_roundtrip(doc, "gamma", edits.set_value, c, 0, "gamma", 0, 0.5)
    assert p.clip(c).params_at(5).curve.gamma == 0.5


def test_split_and_join_undo(doc):
    c = doc.clip_id
    p = _undo_redo_roundtrip(doc, "split", edits.split_shot, c, 30)
    assert [(s.start, s.end) for s in p.clip(c).shots] == [(0, 30), (30, 48), (48, 96)]
    p = _undo_redo_roundtrip(doc, "join", edits.join_shots, c, 0)
    assert [(s.start, s.end) for s in p.clip(c).shots] == [(0, 48), (48, 96)]


def test_copy_paste_grade_undo(doc):
    c = doc.clip_id
    doc.apply("key", edits.add_keyframe, c, 0, "divergence", 5, 7.0)
    board = edits.copy_grade(doc.project, c, 0)
    p = _undo_redo_roundtrip(doc, "paste", edits.paste_grade, c, [1], board)
    assert p.clip(c).shots[1].grade.value_at("divergence", 53) == pytest.approx(7.0)


def test_queue_changes_undo_but_run_states_survive_undo(doc):
    c = doc.clip_id
    job = doc.apply_result("queue", edits.enqueue, c, 0, 48, "/out/a.mp4", "shot 1")
    assert doc.project.job(job).state == "queued"
    doc.set_job_state(job, "done")
    doc.apply("key", edits.add_keyframe, c, 1, "convergence", 50, 0.5)
    doc.stack.undo()  # undoing a later edit does not "un-render" the job
    assert doc.project.job(job).state == "done"
    doc.stack.undo()  # undoing the enqueue removes the job
    assert not doc.project.queue


def test_refused_edit_changes_nothing(doc):
    before = doc.project
    with pytest.raises(ValueError):
        doc.apply("bad", edits.add_keyframe, doc.clip_id, 0, "divergence", 70, 3.0)  # frame outside shot 0
    assert doc.project == before and doc.stack.count() == 0


def test_changed_signal_on_every_step(doc, qtbot):
    with qtbot.waitSignal(doc.changed, timeout=1000):
        doc.apply("key", edits.add_keyframe, doc.clip_id, 0, "near", 3, 0.1)
    with qtbot.waitSignal(doc.changed, timeout=1000):
        doc.stack.undo()
