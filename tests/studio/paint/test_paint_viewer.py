"""The depth brush wired into the studio: a stroke painted with the mouse on the viewer changes δ in the painted
region only (as the session's render path computes it), Alt pulls, the overlay shows the painted and the
carried footprint, the stroke list hides / deletes strokes, every step undoes exactly, a matte sequence
imports as a stroke; screenshots of the painted view."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from tests.support.studio import open_demo

RADIUS, SOFT = 20.0, 6.0
A, B = (120.0, 110.0), (220.0, 120.0)  # the stroke, source pixels


def open_analysed(window, qtbot):
    open_demo(window, qtbot)
    with qtbot.waitSignal(window.controller.analysed, timeout=180_000):
        window.analyse_current_shot()
    qtbot.waitUntil(lambda: not window.viewer.frame.provisional, timeout=60_000)
    window.seek(10)
    qtbot.waitUntil(lambda: window.viewer.frame.index == 10, timeout=30_000)
    return window.viewer.frame.delta.copy()


def near_segment(shape, source, a, b, reach: float) -> np.ndarray:
    """(H, W) bool: δ pixels whose centre is within `reach` source px of the segment a-b."""
    h, w = shape
    sx, sy = source[0] / w, source[1] / h
    ys, xs = np.mgrid[0:h, 0:w]
    px, py = (xs + 0.5) * sx, (ys + 0.5) * sy
    ax, ay, bx, by = *a, *b
    t = np.clip(((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2), 0, 1)
    return np.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay))) <= reach


def near_polyline(shape, source, points, reach: float) -> np.ndarray:
    """(H, W) bool: δ pixels whose centre is within `reach` source px of the polyline through `points`."""
    near = np.zeros(shape, bool)
    for a, b in zip(points[:-1], points[1:], strict=True):
        near |= near_segment(shape, source, a, b, reach)
    return near


def drag(qtbot, window, a, b, modifier=Qt.KeyboardModifier.NoModifier, steps: int = 8):
    tool, viewer = window.paint, window.viewer.viewer
    m = tool.mapping()
    points = [m.to_view(a[0] + (b[0] - a[0]) * i / steps, a[1] + (b[1] - a[1]) * i / steps) for i in range(steps + 1)]
    qpoints = [QPoint(round(x), round(y)) for x, y in points]
    qtbot.mousePress(viewer, Qt.MouseButton.LeftButton, modifier, qpoints[0])
    for p in qpoints[1:]:
        qtbot.mouseMove(viewer, p)
    qtbot.mouseRelease(viewer, Qt.MouseButton.LeftButton, modifier, qpoints[-1])


def shown_delta(window):
    return window.viewer.frame.delta


def wait_delta(qtbot, window, predicate, timeout=60_000):
    qtbot.waitUntil(lambda: window.viewer.frame.index == 10 and predicate(shown_delta(window)), timeout=timeout)


def set_brush(window, kind="push", amount=0.3, edge_aware=False, value=None):
    panel = window.paint.panel
    panel.kind.setCurrentIndex(panel.kind.findData(kind))
    panel.radius.setValue(RADIUS)
    panel.softness.setValue(SOFT)
    panel.amount.setValue(amount)
    panel.edge_aware.setChecked(edge_aware)
    panel.sample.setChecked(value is None)
    if value is not None:
        panel.value.setValue(value)
    window.paint.set_active(True)


def test_paint_stroke_with_the_mouse_changes_delta_in_the_painted_region_only(window, qtbot, screenshot_dir):
    before = open_analysed(window, qtbot)
    set_brush(window, "push", 0.3)
    assert window.paint.active and window.paint.toggle_action.isChecked()
    drag(qtbot, window, A, B)
    strokes = window.document.clip.shots[0].strokes
    assert len(strokes) == 1 and strokes[0].frame == 10 and strokes[0].amount == pytest.approx(0.3)
    s = strokes[0]
    assert s.points[0] == pytest.approx(A, abs=1.5) and s.points[-1] == pytest.approx(B, abs=1.5)
    wait_delta(qtbot, window, lambda d: not np.array_equal(d, before))
    after = shown_delta(window).copy()
    source = window.paint.source_size()
    # the footprint follows the recorded polyline (mouse positions rounded to view pixels), not the ideal segment
    outside = ~near_polyline(after.shape, source, s.points, RADIUS + SOFT + 1.5)
    core = near_segment(after.shape, source, s.points[0], s.points[-1], RADIUS - 2)
    assert np.array_equal(after[outside], before[outside])  # bit-identical outside the footprint
    pushed = np.clip(before[core] + 0.3, 0, 1)
    np.testing.assert_allclose(after[core], pushed, atol=1e-5)  # δ += a·w with w = 1 in the core
    # the viewer's δ is the session's (the FrameAssembly path the master renders with)
    assert np.array_equal(after, window.controller.session.depth(10).delta)
    # the overlay: the stroke's weight on the shown frame, then its carried extent on another frame
    qtbot.waitUntil(lambda: window.paint.overlay_for_frame() is not None, timeout=60_000)
    qtbot.waitUntil(lambda: window.paint.panel.notes.text() != "carrying the strokes across the shot…",
                    timeout=120_000)
    window.paint.select(s.id)
    qtbot.wait(50)
    window.grab().toImage().save(str(screenshot_dir / "paint_stroke.png"))
    with qtbot.waitSignal(window.controller.frame_ready, timeout=30_000):
        window.seek(20)
    qtbot.waitUntil(lambda: window.paint._overlay is not None and window.paint._overlay[0] == 20, timeout=60_000)
    weight, _ = window.controller.session.edit_overlay(20)
    assert weight.max() > 0.5  # carried by flow to frame 20
    window.grab().toImage().save(str(screenshot_dir / "paint_carried.png"))
    window.seek(10)
    wait_delta(qtbot, window, lambda d: np.array_equal(d, after))
    # undo removes the stroke's effect exactly; redo brings it back
    window.document.stack.undo()
    wait_delta(qtbot, window, lambda d: np.array_equal(d, before))
    assert window.document.clip.shots[0].strokes == ()
    window.document.stack.redo()
    wait_delta(qtbot, window, lambda d: np.array_equal(d, after))


def test_paint_pull_modifier_stroke_list_visibility_and_delete(window, qtbot):
    before = open_analysed(window, qtbot)
    set_brush(window, "push", 0.25)
    drag(qtbot, window, A, B, Qt.KeyboardModifier.AltModifier)
    (s,) = window.document.clip.shots[0].strokes
    assert s.amount == pytest.approx(-0.25)  # Alt pulls nearer
    wait_delta(qtbot, window, lambda d: not np.array_equal(d, before))
    painted = shown_delta(window).copy()
    core = near_segment(painted.shape, window.paint.source_size(), s.points[0], s.points[-1], RADIUS - 2)
    assert (painted[core] <= before[core]).all() and (painted[core] < before[core]).mean() > 0.9
    panel = window.paint.panel
    item = panel.item_of(s.id)
    assert item is not None and item.checkState(0) == Qt.CheckState.Checked
    item.setCheckState(0, Qt.CheckState.Unchecked)  # hide: one undo step, δ unedited
    assert window.document.clip.shots[0].strokes[0].visible is False
    wait_delta(qtbot, window, lambda d: np.array_equal(d, before))
    window.document.stack.undo()  # shown again
    wait_delta(qtbot, window, lambda d: np.array_equal(d, painted))
    panel.item_of(s.id).setSelected(True)
    assert window.paint.selected == s.id
    panel.delete_button.click()
    assert window.document.clip.shots[0].strokes == ()
    wait_delta(qtbot, window, lambda d: np.array_equal(d, before))
    window.document.stack.undo()
    wait_delta(qtbot, window, lambda d: np.array_equal(d, painted))
    assert panel.strokes.topLevelItemCount() == 1


def test_paint_set_to_sampled_value_and_brush_keys(window, qtbot):
    before = open_analysed(window, qtbot)
    set_brush(window, "set", 1.0, value=None)
    source = window.paint.source_size()
    drag(qtbot, window, A, B)
    (s,) = window.document.clip.shots[0].strokes
    h, w = before.shape  # δ under the press point (the stroke's first point: the pointer's whole view pixel)
    sampled = float(before[int((s.points[0][1] + 0.5) * h / source[1]), int((s.points[0][0] + 0.5) * w / source[0])])
    assert s.kind == "set" and s.value == pytest.approx(sampled, abs=1e-6)
    r = window.paint.settings.radius
    window.paint.resize_brush(1.25)
    assert window.paint.settings.radius == pytest.approx(r * 1.25) and window.paint.panel.radius.value() == \
        pytest.approx(round(r * 1.25))


def test_paint_matte_sequence_import(window, qtbot, tmp_path):
    before = open_analysed(window, qtbot)
    source = window.paint.source_size()
    folder = tmp_path / "roto"
    folder.mkdir()
    for j in range(5):  # roto.0100.png … roto.0104.png, a white box on each
        matte = np.zeros((source[1], source[0]), np.uint8)
        matte[40:90, 60 + 4 * j:140 + 4 * j] = 255
        cv2.imwrite(str(folder / f"roto.{100 + j:04d}.png"), matte)
    set_brush(window, "set", 1.0, value=0.9)
    window.dialogs.open_to = folder / "roto.0100.png"
    window.paint.choose_matte()
    (s,) = window.document.clip.shots[0].strokes
    assert s.matte == str(folder / "roto.%04d.png") and s.frame == 10 and s.points == ()
    wait_delta(qtbot, window, lambda d: not np.array_equal(d, before))
    after = shown_delta(window)
    h, w = after.shape
    sy, sx = h / source[1], w / source[0]
    box = (slice(int(41 * sy), int(89 * sy)), slice(int(61 * sx), int(139 * sx)))
    assert after[box] == pytest.approx(0.9, abs=1e-6)
    window.dialogs.open_to = folder / "roto.0103.png"  # file 4 of 5 at frame 1: it would start before the shot
    window.seek(1)
    qtbot.waitUntil(lambda: window.viewer.frame.index == 1, timeout=30_000)
    window.paint.choose_matte()
    assert "before the shot" in window.dialogs.errors[-1]
