"""The studio's depth brush: gestures to strokes (pull modifier, sampled set, decimation), view mapping,
undoable add/delete over the document (exact undo, also of δ through the session), and the overlay image."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PySide6.QtGui import QUndoStack

from engine import api
from engine.document import edits as doc_edits
from studio.paint import (
    AddStrokeCommand,
    BrushGesture,
    BrushSettings,
    RemoveStrokeCommand,
    ViewMapping,
    overlay_qimage,
    overlay_rgba,
    sample_depth,
)
from studio.paint.brush import resized
from tests.support.shot_clips import WARM, clip_from_shots, drift


class Holder:
    """The studio document model's contract for commands: `project` and `set_project`."""

    def __init__(self, project):
        self.project, self.changes = project, 0

    def set_project(self, project):
        self.project, self.changes = project, self.changes + 1


def test_paint_gesture_makes_a_decimated_stroke_pinned_to_its_frame():
    g = BrushGesture(BrushSettings("push", radius=8, softness=4, amount=0.2), frame=5)
    added = [g.add(x, 10.0) for x in np.arange(0.0, 20.0, 0.5)]
    xs = [p[0] for p in g.points]
    assert sum(added) == 10 and min(np.diff(xs)) >= 2.0  # a quarter of the radius apart
    s = g.stroke("s1", last=(19.5, 10.0))
    assert s.frame == 5 and s.kind == "push" and s.amount == 0.2 and s.points[-1] == (19.5, 10.0)
    assert s.radius == 8 and s.softness == 4 and s.edge_aware
    assert not g.add(float("nan"), 1.0)


def test_paint_pull_modifier_and_sampled_set():
    pull = BrushGesture(BrushSettings("push", amount=0.3), 0, pull=True)
    pull.add(1.0, 1.0)
    assert pull.stroke("s1").amount == -0.3
    sampled = BrushGesture(BrushSettings("set"), 0, sampled=0.42)
    sampled.add(3.0, 3.0)
    assert sampled.stroke("s2").value == pytest.approx(0.42)
    unsampled = BrushGesture(BrushSettings("set"), 0)
    unsampled.add(3.0, 3.0)
    assert unsampled.stroke("s3") is None and BrushGesture(BrushSettings(), 0).stroke("s4") is None
    with pytest.raises(ValueError, match="kind"):
        BrushSettings("erase")
    assert resized(BrushSettings(radius=10, softness=4), 1.5).radius == 15


def test_paint_view_mapping_and_depth_sampling():
    # a 192x108 frame of a 384x216 source shown at 0.5 view px per source px, content at (100, 20)
    view = ViewMapping((100.0, 20.0, 192.0, 108.0), (192, 108), (192, 108), (384, 216))
    assert view.to_source(150, 70) == (100.0, 100.0) and view.scale == 0.5
    assert view.to_view(100.0, 100.0) == (150.0, 70.0)
    sbs = ViewMapping((0.0, 0.0, 768.0, 216.0), (384, 108), (192, 108), (384, 216))  # side by side
    assert sbs.to_source(400.0, 10.0) == pytest.approx((16.0, 10.0))  # the right tile maps to the same point
    delta = np.tile(np.linspace(0, 1, 96, dtype=np.float32), (54, 1))  # half of a 192x108 source
    assert sample_depth(delta, 191.0, 10.0, (192, 108)) == pytest.approx(1.0)
    assert sample_depth(delta, 0.0, 0.0, (192, 108)) == 0.0
    assert sample_depth(delta, -5.0, 0.0, (192, 108)) is None


def test_paint_overlay_image():
    w = np.zeros((4, 6), np.float32)
    w[1, 2] = 1.0
    rgba = overlay_rgba(w)
    assert rgba[1, 2].tolist() == [128, 70, 0, 128] and rgba[0, 0].tolist() == [0, 0, 0, 0]
    image = overlay_qimage(w)
    assert (image.width(), image.height()) == (6, 4) and image.pixelColor(2, 1).alpha() == 128


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path, _ = clip_from_shots(tmp_path_factory.mktemp("clip") / "one.mp4", [(6, drift(3, WARM, 6))])
    return path


def test_paint_stroke_commands_undo_exactly_in_the_session(qtbot, clip, tmp_path):
    project = api.Project.single(str(clip), Fraction(24), 6, (api.Shot(0, 6, name="one"),))
    settings = api.ConvertRequest(input=None, temporal=False, cache_dir=tmp_path / "cache")
    holder, stack = Holder(project), QUndoStack()
    with api.open_session(project, request=settings) as session:
        for _ in session.analyse(project.shots[0]):
            pass
        before = session.depth(2).delta.copy()
        gesture = BrushGesture(BrushSettings("set", radius=12, softness=4, amount=1.0, value=0.95,
                                              edge_aware=False), 2)
        for x in (60.0, 70.0, 80.0):
            gesture.add(x, 45.0)
        stack.push(AddStrokeCommand(holder, "c1", 0, gesture.stroke(doc_edits.new_stroke_id(holder.project))))
        session.update(holder.project)
        painted = session.depth(2).delta
        assert painted[45, 70] == pytest.approx(0.95, abs=1e-6) and not np.array_equal(painted, before)
        overlay, notes = session.edit_overlay(4)  # carried to the other frames of the shot
        assert overlay is not None and overlay.max() > 0.5 and notes == ()
        stack.undo()
        session.update(holder.project)
        assert holder.project is project and np.array_equal(session.depth(2).delta, before)
        stack.redo()
        stack.push(RemoveStrokeCommand(holder, "c1", 0, "s1"))
        session.update(holder.project)
        assert holder.project.shots[0].strokes == () and np.array_equal(session.depth(2).delta, before)
        assert stack.undoText() == "Delete stroke s1" and holder.changes == 4
