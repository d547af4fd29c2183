"""The studio's QC: the one-click suggestion changes the shot's grade to one inside the screen's budget as one
undo step (undo restores the grade exactly), the QC track colours the frames by the verdicts of a real QC
run and turns stale after an edit, and the parallax heatmap follows the inspector's screen (screenshots)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from engine import api
from studio.qc.track import STATE_COLOURS, runs
from tests.support.studio import open_demo


def set_divergence(window, qtbot, value: float) -> None:
    window.inspector.editors["divergence"].spin.setValue(value)
    qtbot.waitUntil(lambda: window.document.clip.params_at(window.controller.position).divergence
                    == pytest.approx(value), timeout=10_000)


def test_qc_runs_the_suggestion_and_undo_restores_the_grade(window, qtbot):
    open_demo(window, qtbot)
    set_divergence(window, qtbot, 9.0)  # far too strong for a TV
    before = window.document.clip.shots[0]
    steps = window.document.stack.index()
    window.inspector.screen.setCurrentText("tv65")
    window.qc.panel.suggest_button.click()
    qtbot.waitUntil(lambda: window.qc.suggestion is not None, timeout=240_000)
    s = window.qc.suggestion
    assert window.document.stack.index() == steps + 1  # one undo step
    after = window.document.clip.shots[0]
    budget = api.budget_for("tv65")
    for n in (0, 35, 71):
        params = window.document.clip.params_at(n)
        assert params.divergence == pytest.approx(s.divergence) and params.convergence == pytest.approx(s.convergence)
    assert budget.low <= s.p_low < s.p_high <= budget.high
    assert s.budget_used(budget) >= 0.8  # a real suggestion, not a flat grade
    assert after.strokes == before.strokes and after.grade.near == before.grade.near
    # the readout of the frame under the new grade is inside the budget
    with qtbot.waitSignal(window.controller.frame_ready, timeout=60_000):
        window.seek(35)
    qtbot.waitUntil(lambda: "inside" in window.inspector.verdict.text(), timeout=60_000)
    window.document.stack.undo()
    assert window.document.clip.shots[0] == before
    window.document.stack.redo()
    assert window.document.clip.shots[0] == after
    assert "D " in window.qc.panel.suggestion.text() and "% of" in window.qc.panel.suggestion.text()


def test_qc_track_colours_frames_by_the_qc_verdicts(window, qtbot, screenshot_dir):
    open_demo(window, qtbot)
    window.qc.run_qc()
    qtbot.waitUntil(lambda: window.qc.report is not None, timeout=300_000)
    report = window.qc.report
    assert len(window.qc.track.states) == window.document.clip.frame_count == len(report.states)
    assert not window.qc.track.stale
    set_divergence(window, qtbot, 9.0)
    assert window.qc.track.stale  # the project changed since the run
    window.qc.run_qc()
    qtbot.waitUntil(lambda: window.qc.report is not report and window.qc.report is not None, timeout=300_000)
    states = window.qc.track.states
    assert states.count("over") + states.count("diverges") > 0 and not window.qc.report.passed
    assert "FAILS" in window.qc.panel.verdict.text()
    track = window.qc.track
    track.repaint()
    image = track.grab().toImage()
    view = window.timeline.view
    for first, end, state in runs(states):
        x = int(view.x_of((first + end) / 2))
        if 0 <= x < image.width() and view.x_of(end) - view.x_of(first) >= 3:
            colour = image.pixelColor(x, image.height() - 4)
            expected = STATE_COLOURS[state]
            assert (colour.red(), colour.green(), colour.blue()) == (expected.red(), expected.green(), expected.blue())
    window.grab().toImage().save(str(screenshot_dir / "qc_track.png"))


def test_qc_heatmap_follows_the_inspector_screen(window, qtbot, screenshot_dir):
    open_demo(window, qtbot)
    window.set_mode("heatmap")

    def shown():
        with qtbot.waitSignal(window.viewer.frame_drawn, timeout=20_000):
            window.viewer.viewer.update()
        frame = window.viewer.viewer.grabFramebuffer()
        img = frame.convertToFormat(frame.Format.Format_RGB888)
        raw = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
        return raw[:, : img.width() * 3].copy()

    window.inspector.screen.setCurrentText("tv65")
    tv = shown()
    window.inspector.screen.setCurrentText("headset")
    b = api.budget_for("headset")
    assert (window.viewer.state.budget.low, window.viewer.state.budget.high) == (b.low, b.high)
    headset = shown()
    assert not np.array_equal(tv, headset)  # the out-of-budget hatch and the scale follow the screen
    path = screenshot_dir / "qc_heatmap_headset.png"
    window.raise_()
    xwd = subprocess.run(["xwd", "-root", "-silent"], capture_output=True, check=False)
    if xwd.returncode == 0:
        subprocess.run(["convert", "xwd:-", str(path)], input=xwd.stdout, check=False)
