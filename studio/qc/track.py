"""The timeline's QC track: one colour per frame from the last QC run (ok / brief excursion / over budget /
diverges / not measured), aligned with the timeline's frames (it reads the timeline's view), dimmed and
marked stale once the document has changed since the run. A click seeks to the frame."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

TRACK_H = 18
STATE_COLOURS = {
    "ok": QColor(60, 170, 90),
    "excursion": QColor(235, 180, 40),
    "over": QColor(225, 60, 50),
    "diverges": QColor(200, 60, 220),
    "none": QColor(80, 80, 88),
}
STATE_LABELS = {"ok": "inside the budget", "excursion": "brief excursion (≤ 1 s, allowed)",
                "over": "over the budget", "diverges": "diverges (wider than the eyes)", "none": "not measured"}


def runs(states: list[str]) -> list[tuple[int, int, str]]:
    """Consecutive frames with one state: [(first, end, state)], end exclusive."""
    out: list[tuple[int, int, str]] = []
    for i, state in enumerate(states):
        if out and out[-1][2] == state and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1, state)
        else:
            out.append((i, i + 1, state))
    return out


class QcTrack(QWidget):
    """Signals:
        seek_requested(int): the user clicked a frame.
    """

    seek_requested = Signal(int)

    def __init__(self, timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self.states: list[str] = []
        self.label = "QC: not run (QC ▸ Run QC on the clip, Ctrl+Shift+Q)"
        self.stale = False
        self.setFixedHeight(TRACK_H)
        self.setMouseTracking(True)

    def set_result(self, states: list[str], label: str) -> None:
        self.states, self.label, self.stale = list(states), label, False
        self.update()

    def set_stale(self, stale: bool) -> None:
        if stale != self.stale:
            self.stale = stale
            self.update()

    def state_at(self, frame: int) -> str | None:
        return self.states[frame] if 0 <= frame < len(self.states) else None

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 34))
        view = self.timeline.view
        alpha = 110 if self.stale else 255
        for first, end, state in runs(self.states):
            x0, x1 = view.x_of(first), view.x_of(end)
            if x1 < 0 or x0 > self.width():
                continue
            colour = QColor(STATE_COLOURS.get(state, STATE_COLOURS["none"]))
            colour.setAlpha(alpha)
            p.fillRect(QRectF(x0, 2, max(x1 - x0, 1.0), TRACK_H - 4), colour)
        p.setPen(QColor(235, 235, 235))
        text = self.label + ("  (stale: the project changed — run QC again)" if self.stale and self.states else "")
        p.drawText(QRectF(6, 0, self.width() - 12, TRACK_H), Qt.AlignmentFlag.AlignVCenter, text)
        x = view.x_of(self.timeline.playhead + 0.5)
        p.setPen(QColor(255, 80, 60))
        p.drawLine(int(x), 0, int(x), TRACK_H)
        p.end()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.seek_requested.emit(self.timeline.view.frame_at(event.position().x()))

    def mouseMoveEvent(self, event) -> None:
        frame = self.timeline.view.frame_at(event.position().x())
        state = self.state_at(frame)
        self.setToolTip(f"frame {frame}: {STATE_LABELS.get(state, '')}" if state else "")
