"""Pure edits: each returns a new Project, leaves the old one untouched, and keeps every frame's grade
where it promises to (split, join, paste)."""

from fractions import Fraction

import pytest

from engine.document import Clip, Grade, Keyframe, Project, Shot, StereoParams, Stroke, Track, WindowTrack
from engine.document import edits as E


def project() -> Project:
    grade = Grade(divergence=Track((Keyframe(0, 2.0), Keyframe(20, 4.0, "hold"), Keyframe(30, 6.0))),
                  convergence=Track((Keyframe(10, 0.5),)), gamma=Track((Keyframe(0, 1.0), Keyframe(39, 2.0))))
    strokes = (Stroke("s1", "push", 5, ((1.0, 1.0),), 4.0), Stroke("s2", "set", 35, ((2.0, 2.0),), 4.0, value=0.2))
    window = WindowTrack("left", Track((Keyframe(0, 1.0), Keyframe(39, 0.0))))
    first = Shot(0, 40, grade, "Shot 001", strokes, (window,))
    return Project((Clip("c1", "a.mp4", Fraction(24), 100, (first, Shot(40, 100, Grade(), "Shot 002"))),))


def grades(p: Project) -> list:
    clip = p.clip("c1")
    return [(clip.params_at(f), clip.shot_at(f).window_at(f)) for f in range(clip.frame_count)]


def test_add_move_delete_keyframe_and_input_untouched():
    p = project()
    q = E.add_keyframe(p, "c1", 0, "divergence", 10, 8.0, "smooth")
    assert q.shots[0].grade.divergence.key_at(10) == Keyframe(10, 8.0, "smooth")
    assert p.shots[0].grade.divergence.key_at(10) is None  # the old project is unchanged
    r = E.move_keyframe(q, "c1", 0, "divergence", 10, 12)
    assert r.shots[0].grade.divergence.frames == (0, 12, 20, 30)
    assert E.delete_keyframe(r, "c1", 0, "divergence", 12).shots[0].grade == p.shots[0].grade
    with pytest.raises(ValueError, match="already has a keyframe"):
        E.move_keyframe(r, "c1", 0, "divergence", 12, 20)
    with pytest.raises(ValueError, match="outside the shot"):
        E.add_keyframe(p, "c1", 0, "divergence", 40, 1.0)
    with pytest.raises(KeyError, match="no keyframe at frame 11"):
        E.delete_keyframe(p, "c1", 0, "divergence", 11)
    with pytest.raises(ValueError, match="outside 0..20"):
        E.add_keyframe(p, "c1", 0, "divergence", 3, 25.0)


def test_set_value_edits_a_keyframe_or_adds_one_keeping_interpolation():
    p = E.set_value(project(), "c1", 0, "divergence", 20, 5.0)
    assert p.shots[0].grade.divergence.key_at(20) == Keyframe(20, 5.0, "hold")
    p = E.set_value(p, "c1", 0, "near", 3, 0.2)
    assert p.shots[0].grade.near.keyframes == (Keyframe(3, 0.2),)


def test_set_interpolation():
    p = E.set_interpolation(project(), "c1", 0, "divergence", 0, "smooth")
    assert p.shots[0].grade.divergence.keyframes[0].interpolation == "smooth"
    with pytest.raises(ValueError):
        E.set_interpolation(project(), "c1", 0, "divergence", 0, "bezier")


def test_window_tracks_are_edited_like_grade_tracks():
    p = E.add_keyframe(project(), "c1", 1, "window_right", 50, 2.0)
    assert p.shots[1].window_at(60) == (0.0, 2.0)
    p = E.delete_keyframe(p, "c1", 1, "window_right", 50)
    assert p.shots[1].windows == ()


def test_copy_paste_grade_rebases_to_each_shot():
    p = project()
    board = E.copy_grade(p, "c1", 0)
    q = E.paste_grade(p, "c1", [1], board)
    a, b = q.shots
    for offset in range(40):
        assert b.grade.at(40 + offset) == a.grade.at(offset)
        assert b.window_at(40 + offset) == a.window_at(offset)
    short = Project((Clip("c1", "a.mp4", Fraction(24), 100, (p.shots[0], Shot(40, 55))),))
    cut = E.paste_grade(short, "c1", [1], board).shots[1]
    assert all(40 <= f < 55 for f in cut.grade.keyed_frames())
    _close([(cut.grade.at(40 + k), (0.0, 0.0)) for k in range(15)], [(a.grade.at(k), (0.0, 0.0)) for k in range(15)])


@pytest.mark.parametrize("at", [1, 10, 15, 20, 25, 35, 39])
def test_split_then_join_keeps_every_frame(at):
    p = project()
    split = E.split_shot(p, "c1", at)
    assert [(s.start, s.end) for s in split.shots] == [(0, at), (at, 40), (40, 100)]
    assert _close(grades(split), grades(p))
    strokes = [[k.id for k in s.strokes] for s in split.shots]
    assert strokes == [["s1", "s2"] if at > 35 else (["s1"] if at > 5 else []),
                       [] if at > 35 else (["s2"] if at > 5 else ["s1", "s2"]), []]
    joined = E.join_shots(split, "c1", 0)
    assert [(s.start, s.end) for s in joined.shots] == [(0, 40), (40, 100)]
    assert _close(grades(joined), grades(p))
    assert [k.id for k in joined.shots[0].strokes] == ["s1", "s2"]


def _close(a: list, b: list) -> bool:
    for (pa, wa), (pb, wb) in zip(a, b, strict=True):
        assert pa.divergence == pytest.approx(pb.divergence) and pa.convergence == pytest.approx(pb.convergence)
        assert pa.curve.gamma == pytest.approx(pb.curve.gamma) and wa == pytest.approx(wb)
    return True


def test_join_of_an_ungraded_shot_keeps_defaults():
    p = E.join_shots(project(), "c1", 0)
    assert _close(grades(p), grades(project()))
    with pytest.raises(ValueError, match="a shot already starts"):
        E.split_shot(project(), "c1", 40)


def test_join_refuses_shots_that_do_not_touch():
    p = Project.single("a.mp4", Fraction(24), 100, (Shot(0, 10), Shot(20, 30)))
    with pytest.raises(ValueError, match="do not touch"):
        E.join_shots(p, "c1", 0)


def test_set_cuts_keeps_unchanged_shots_and_moves_strokes():
    p = E.set_cuts(project(), "c1", [(0, 30), (30, 40), (40, 100)])
    a, b, c = p.shots
    assert c == project().shots[1]  # identical range kept as it was
    assert [k.id for k in a.strokes] == ["s1"] and [k.id for k in b.strokes] == ["s2"]
    assert a.grade == Grade.constant(StereoParams(), 0)


def test_strokes_add_and_remove_with_unique_ids():
    p = project()
    sid = E.new_stroke_id(p)
    assert sid == "s3"
    q = E.add_stroke(p, "c1", 1, Stroke(sid, "flatten", 50, ((3.0, 4.0),), 10.0, amount=0.5))
    assert [k.id for k in q.shots[1].strokes] == ["s3"]
    with pytest.raises(ValueError, match="already has a stroke"):
        E.add_stroke(q, "c1", 1, Stroke("s1", "push", 50, ((3.0, 4.0),), 10.0))
    with pytest.raises(ValueError, match="outside the shot"):
        E.add_stroke(p, "c1", 1, Stroke(sid, "push", 5, ((3.0, 4.0),), 10.0))
    assert E.remove_stroke(q, "c1", 1, "s3") == p


def test_clips_relink_and_settings():
    p, cid = E.add_clip(project(), "b.mov", Fraction(25), 50, name="B roll")
    assert cid == "c2" and p.clip("c2").shots == (Shot(0, 50, name="Shot 001"),)
    p = E.relink(p, "c2", "/new/b.mov")
    assert p.clip("B roll").media == "/new/b.mov"
    p, jid = E.enqueue(p, "c2", 0, 50, "out.mp4", "B roll")
    assert E.remove_clip(p, "c2") == project()


def test_render_queue_life():
    p, j1 = E.enqueue(project(), "c1", 0, 40, "a.mp4", "Shot 001")
    p, j2 = E.enqueue(p, "c1", 40, 100, "b.mp4", "Shot 002")
    assert (j1, j2) == ("j1", "j2") and E.next_queued(p).id == "j1"
    p = E.set_job_state(p, j1, "running")
    assert E.next_queued(p).id == "j2"
    p = E.set_job_state(p, j1, "failed", "disk full")
    assert p.job(j1).message == "disk full"
    p = E.retry_job(p, j1)
    assert p.job(j1).state == "queued"
    p = E.move_job(p, j2, 0)
    assert [j.id for j in p.queue] == ["j2", "j1"]
    p = E.clear_finished(E.set_job_state(p, j2, "done"))
    assert [j.id for j in p.queue] == ["j1"]
    assert E.remove_job(p, j1).queue == ()
    with pytest.raises(ValueError, match="not inside clip"):
        E.enqueue(p, "c1", 50, 120, "x.mp4")
    with pytest.raises(ValueError, match="state"):
        E.set_job_state(p, j1, "paused")
