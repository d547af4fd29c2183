"""Timeline geometry and hit-testing (pure) and the timeline widget's edits through the document."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.document import Project, edits
from studio.document import DocumentModel
from studio.timeline.model import (
    TimelineView,
    curve_points,
    keyframe_at,
    row_of,
    row_top,
    value_at_y,
    value_y,
)
from studio.timeline.widget import TimelineWidget


@pytest.fixture
def clip_project():
    project, clip = edits.add_clip(Project(clips=()), "/m/clip.mp4", Fraction(24), 100)
    project = edits.set_cuts(project, clip, [(0, 40), (40, 100)])
    project = edits.add_keyframe(project, clip, 1, "divergence", 70, 6.0)
    return project, clip


def _timeline(qtbot, clip_project, width: int) -> tuple[DocumentModel, TimelineWidget]:
    project, clip = clip_project
    doc = DocumentModel()
    doc.load(project, None, clip)
    widget = TimelineWidget(doc)
    qtbot.addWidget(widget)
    widget.resize(width, 300)
    return doc, widget


def test_frames_and_pixels_round_trip_and_zoom_keeps_the_anchor():
    view = TimelineView(1000, scale=2.0, first=100.0)
    for frame in (100, 150, 420):
        assert view.frame_at(view.x_of(frame) + 0.5) == frame
    zoomed = view.zoomed(4.0, anchor_x=300.0)
    assert zoomed.scale == 8.0
    assert zoomed.frame_at(300.0) == view.frame_at(300.0)
    assert view.fitted(500).x_of(1000) == pytest.approx(500)
    assert TimelineView(10).scrolled(-1e6).first == 0.0


def test_rows_and_values():
    assert row_of(5) == "ruler" and row_of(40) == "shots"
    y = row_top("gamma") + 10
    assert row_of(y) == "gamma"
    for track, value in (("divergence", 7.5), ("convergence", 0.25), ("gamma", 2.0)):
        assert value_at_y(track, value_y(track, value)) == pytest.approx(value, abs=1e-9)


def test_keyframe_hit_and_curves(clip_project):
    project, clip = clip_project
    c = project.clip(clip)
    view = TimelineView(100, scale=5.0)
    hit = keyframe_at(c, view, "divergence", view.x_of(70.5) + 2)
    assert hit is not None and (hit.shot, hit.frame) == (1, 70)
    assert keyframe_at(c, view, "divergence", view.x_of(20)) is None
    lines = curve_points(c, view, "divergence", 500)
    assert len(lines) == 2  # one polyline per shot
    ys = {round(y, 3) for _, y in lines[1]}
    assert len(ys) > 1  # shot 2's divergence changes from 3 to 6 between frames 40 and 70
    points = dict(lines[1])
    assert points[view.x_of(70.5)] == pytest.approx(value_y("divergence", 6.0))  # through the keyframe
    assert len(lines[1]) == 60 + 2  # zoomed in: one point per frame (and the shot's two ends)
    narrow = curve_points(c, TimelineView(100, scale=0.5), "divergence", 500)
    assert all(len(line) <= 60 * 0.5 / 2 + 4 for line in narrow)  # at most one point every 2 px


def test_timeline_widget_adds_moves_and_deletes_keyframes(qtbot, clip_project):
    project, _clip = clip_project
    doc, widget = _timeline(qtbot, clip_project, 800)
    widget.add_keyframe("convergence", 20, 0.6)
    assert doc.clip.shots[0].grade.track("convergence").key_at(20).value == 0.6
    widget.move_keyframe(widget.selected, 30)
    assert doc.clip.shots[0].grade.track("convergence").key_at(30) is not None
    widget.set_interpolation(widget.selected, "smooth")
    assert doc.clip.shots[0].grade.track("convergence").key_at(30).interpolation == "smooth"
    widget.delete_selected()
    assert doc.clip.shots[0].grade.track("convergence").key_at(30) is None
    assert doc.stack.count() == 4
    for _ in range(4):
        doc.stack.undo()
    assert doc.project == project


def test_timeline_scrub_by_mouse(qtbot, clip_project):
    from PySide6.QtCore import QPoint, Qt

    _doc, widget = _timeline(qtbot, clip_project, 1000)
    widget.show()
    qtbot.waitExposed(widget)
    with qtbot.waitSignal(widget.seek_requested, timeout=2000) as blocker:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(int(widget.view.x_of(50) + 1), 30))
    assert blocker.args == [50]


def test_timeline_repaints_only_the_playhead_until_something_else_changes(qtbot, clip_project):
    """Playback moves the playhead every frame: the ruler, shots and curves are painted once and reused."""
    _doc, widget = _timeline(qtbot, clip_project, 900)
    painted = []
    original = widget._paint_background
    widget._paint_background = lambda: painted.append(1) or original()
    first = widget.grab().toImage()
    for frame in (10, 11, 12):
        widget.set_playhead(frame)
        widget.grab()
    assert len(painted) == 1
    widget.set_playhead(0)
    assert widget.grab().toImage() == first  # the cached background is the same picture
    widget.add_keyframe("divergence", 20, 8.0)  # an edit: a new clip object, painted again
    edited = widget.grab().toImage()
    assert len(painted) == 2 and edited != first
    x, y = round(widget.view.x_of(20.5)), round(value_y("divergence", 8.0))
    assert edited.pixelColor(x, y).red() > 150  # the new keyframe's diamond is drawn where it belongs
