"""Inspector panel: edit the grade of the shot at the playhead; read the frame's parallax on a screen.

Editing a value on a keyframe's frame changes that keyframe; anywhere else it adds one
(engine.document.edits.set_value). A slider drag is one undo step (merged by gesture).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine.document import GRADE_TRACKS, TRACK_LIMITS, edits
from studio.timeline.model import track_value
from studio.timeline.widget import TRACK_LABELS

SLIDER_STEPS = 1000
DECIMALS = {"divergence": 2, "convergence": 3, "near": 3, "far": 3, "gamma": 2}


class TrackEditor(QWidget):
    """A labelled slider with a spin box for one grade track; emits edited(track, value) on user edits."""

    edited = Signal(str, float)

    def __init__(self, track: str, parent=None) -> None:
        super().__init__(parent)
        self.track = track
        lo, hi = TRACK_LIMITS[track]
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.spin = QDoubleSpinBox(minimum=lo, maximum=hi, decimals=DECIMALS[track],
                                   singleStep=(hi - lo) / 200.0)
        self.spin.setKeyboardTracking(False)
        self.keyed = QLabel("◆")
        self.keyed.setToolTip("a keyframe sits on this frame")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        layout.addWidget(self.keyed)
        self.slider.valueChanged.connect(self._slid)
        self.spin.valueChanged.connect(self._typed)
        self._quiet = False

    def _to_slider(self, value: float) -> int:
        lo, hi = TRACK_LIMITS[self.track]
        return round((value - lo) / (hi - lo) * SLIDER_STEPS)

    def _from_slider(self, position: int) -> float:
        lo, hi = TRACK_LIMITS[self.track]
        return lo + position / SLIDER_STEPS * (hi - lo)

    def show_value(self, value: float, keyed: bool) -> None:
        self._quiet = True
        self.spin.setValue(value)
        self.slider.setValue(self._to_slider(value))
        self.keyed.setStyleSheet(f"color: {'#ffc83c' if keyed else '#555'};")
        self._quiet = False

    def _slid(self, position: int) -> None:
        if not self._quiet:
            value = round(self._from_slider(position), DECIMALS[self.track])
            self._quiet = True
            self.spin.setValue(value)
            self._quiet = False
            self.edited.emit(self.track, value)

    def _typed(self, value: float) -> None:
        if not self._quiet:
            self._quiet = True
            self.slider.setValue(self._to_slider(value))
            self._quiet = False
            self.edited.emit(self.track, value)


class InspectorPanel(QWidget):
    """Signals:
        screen_changed(str): the readout's screen preset.
    """

    screen_changed = Signal(str)

    def __init__(self, document, screens: tuple[str, ...], parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.frame = 0
        self.shot_label = QLabel("no shot")
        grade = QGroupBox("Grade at the playhead")
        form = QFormLayout(grade)
        self.editors: dict[str, TrackEditor] = {}
        for track in GRADE_TRACKS:
            editor = TrackEditor(track)
            editor.edited.connect(self._edited)
            self.editors[track] = editor
            form.addRow(TRACK_LABELS[track], editor)
        readout = QGroupBox("Parallax of this frame")
        rform = QFormLayout(readout)
        self.screen = QComboBox()
        self.screen.addItems(list(screens))
        self.screen.currentTextChanged.connect(self.screen_changed)
        self.near = QLabel("–")
        self.far = QLabel("–")
        self.verdict = QLabel("–")
        self.verdict.setWordWrap(True)  # "(provisional depth)" goes to a second line in a narrow dock
        rform.addRow("Screen", self.screen)
        rform.addRow("Nearest (1st pct.)", self.near)
        rform.addRow("Farthest (99th pct.)", self.far)
        rform.addRow("Budget", self.verdict)
        self.setMinimumWidth(380)
        layout = QVBoxLayout(self)
        layout.addWidget(self.shot_label)
        layout.addWidget(grade)
        layout.addWidget(readout)
        layout.addStretch(1)
        document.changed.connect(lambda _p: self.refresh())

    def set_frame(self, frame: int) -> None:
        self.frame = frame
        self.refresh()

    def refresh(self) -> None:
        clip = self.document.clip
        shot_index = clip.shot_index_at(self.frame) if clip else None
        enabled = shot_index is not None
        for editor in self.editors.values():
            editor.setEnabled(enabled)
        if not enabled:
            self.shot_label.setText("no shot at the playhead")
            return
        shot = clip.shots[shot_index]
        self.shot_label.setText(f"{shot.name or f'Shot {shot_index + 1}'} — frames {shot.start}–{shot.end - 1}")
        for track, editor in self.editors.items():
            keyed = shot.grade.track(track).key_at(self.frame) is not None
            editor.show_value(track_value(clip, track, self.frame), keyed)

    def _edited(self, track: str, value: float) -> None:
        clip = self.document.clip
        shot = clip.shot_index_at(self.frame) if clip else None
        if shot is None:
            return
        try:
            self.document.apply(f"Set {track}", edits.set_value, clip.id, shot, track, self.frame, value,
                                merge=f"{track}:{clip.id}:{shot}:{self.frame}")
        except ValueError as exc:
            self.shot_label.setText(str(exc))
            self.refresh()

    def show_readout(self, readout) -> None:
        """Show a session Readout (nearest / farthest parallax in %, px and mm; budget verdict)."""
        def line(pct: float, px: float, mm: float) -> str:
            return f"{pct:+.2f} % · {px:+.1f} px · {mm:+.0f} mm"

        self.near.setText(line(readout.near_pct, readout.near_px, readout.near_mm))
        self.far.setText(line(readout.far_pct, readout.far_px, readout.far_mm))
        low, high = readout.budget
        text = f"{low:+.2f} … {high:+.2f} % " + ("inside" if readout.ok else "BROKEN")
        if readout.provisional:
            text += " (provisional depth)"
        self.verdict.setText(text)
        for label in (self.near, self.far, self.verdict):
            label.setProperty("warning", not readout.ok)
            label.setProperty("ok", bool(readout.ok))
            label.style().unpolish(label)
            label.style().polish(label)
