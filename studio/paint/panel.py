"""The inspector's depth-paint section: brush controls, the shot's stroke list, matte import and the notes.

The list shows the strokes of the shot at the playhead in creation order (the order they apply in): the
check box is the stroke's visibility (a hidden stroke stays in the project and changes nothing), a click
selects it (its footprint is outlined on its painted frame), a double click goes to that frame; Delete
removes it. Every change is one undo step on the document's stack.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.document import STROKE_KINDS
from studio.paint.brush import BrushSettings

KIND_LABELS = {"push": "Push / pull (Alt)", "flatten": "Flatten", "smooth": "Smooth", "set": "Set depth"}
_ID = Qt.ItemDataRole.UserRole


def stroke_summary(stroke) -> tuple[str, str, str, str]:
    """(what, frame, size, amount) columns of a stroke's list row."""
    what = f"{stroke.kind} · matte" if stroke.matte else stroke.kind + (" · edges" if stroke.edge_aware else "")
    size = "matte" if stroke.matte else f"r {stroke.radius:.0f}+{stroke.softness:.0f}"
    amount = f"δ→{stroke.value:.2f}" if stroke.kind == "set" else (
        f"{stroke.amount:+.2f}" if stroke.kind == "push" else f"{stroke.amount:.2f}")
    return what, str(stroke.frame), size, amount


class PaintPanel(QGroupBox):
    """Signals none: it calls its PaintTool (`tool`) directly."""

    def __init__(self, tool, parent: QWidget | None = None) -> None:
        super().__init__("Depth paint", parent)
        self.tool = tool
        self._quiet = False
        self.paint_button = QPushButton("Paint (B)", checkable=True)
        self.paint_button.toggled.connect(lambda on: None if self._quiet else tool.set_active(on))
        self.kind = QComboBox()
        for kind in STROKE_KINDS:
            self.kind.addItem(KIND_LABELS[kind], kind)
        self.radius = QDoubleSpinBox(minimum=1.0, maximum=4000.0, decimals=0, suffix=" px", singleStep=5.0)
        self.softness = QDoubleSpinBox(minimum=0.0, maximum=4000.0, decimals=0, suffix=" px", singleStep=5.0)
        self.amount = QDoubleSpinBox(minimum=0.0, maximum=1.0, decimals=2, singleStep=0.05)
        self.pull = QCheckBox("Pull nearer (Alt inverts)")
        self.value = QDoubleSpinBox(minimum=0.0, maximum=1.0, decimals=3, singleStep=0.05)
        self.sample = QCheckBox("sample at press")
        self.edge_aware = QCheckBox("Snap to image edges")
        self.show_overlay = QCheckBox("Show painted regions", checked=True)
        self.show_overlay.toggled.connect(tool.set_show_overlay)
        for box in (self.radius, self.softness, self.amount, self.value):
            box.setKeyboardTracking(False)
            box.valueChanged.connect(self._changed)
        for w in (self.kind,):
            w.currentIndexChanged.connect(self._changed)
        for w in (self.sample, self.edge_aware, self.pull):
            w.toggled.connect(self._changed)
        value_row = QHBoxLayout()
        value_row.addWidget(self.value)
        value_row.addWidget(self.sample)
        form = QFormLayout()
        form.addRow(self.paint_button, self.kind)
        form.addRow("Radius", self.radius)
        form.addRow("Soft edge", self.softness)
        form.addRow("Amount / strength", self.amount)
        form.addRow("", self.pull)
        form.addRow("Set value δ", value_row)
        form.addRow("", self.edge_aware)
        self.strokes = QTreeWidget()
        self.strokes.setHeaderLabels(["Stroke", "Kind", "Frame", "Size", "Amount"])
        self.strokes.setRootIsDecorated(False)
        self.strokes.setMinimumHeight(110)
        self.strokes.itemChanged.connect(self._item_changed)
        self.strokes.itemSelectionChanged.connect(self._selection_changed)
        self.strokes.itemDoubleClicked.connect(lambda item, _col: tool.go_to_stroke(item.data(0, _ID)))
        self.delete_button = QPushButton("Delete stroke")
        self.delete_button.clicked.connect(self.delete_selected)
        self.matte_button = QPushButton("Import matte…")
        self.matte_button.clicked.connect(tool.choose_matte)
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.matte_button)
        self.notes = QLabel("", wordWrap=True)
        self.notes.setProperty("warning", True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.show_overlay)
        layout.addWidget(self.strokes)
        layout.addLayout(buttons)
        layout.addWidget(self.notes)
        self.show_settings(tool.settings)

    # ---------------------------------------------------------------- brush

    def show_settings(self, s: BrushSettings) -> None:
        self._quiet = True
        self.kind.setCurrentIndex(STROKE_KINDS.index(s.kind))
        self.radius.setValue(s.radius)
        self.softness.setValue(s.softness)
        self.amount.setValue(s.amount)
        self.sample.setChecked(s.value is None)
        self.value.setValue(0.5 if s.value is None else s.value)
        self.edge_aware.setChecked(s.edge_aware)
        self._enable()
        self._quiet = False

    def _enable(self) -> None:
        kind = self.kind.currentData()
        self.value.setEnabled(kind == "set" and not self.sample.isChecked())
        self.sample.setEnabled(kind == "set")
        self.pull.setEnabled(kind == "push")

    def settings(self) -> BrushSettings:
        return BrushSettings(self.kind.currentData(), self.radius.value(), self.softness.value(), self.amount.value(),
                             None if self.sample.isChecked() else self.value.value(), self.edge_aware.isChecked())

    def _changed(self, *_args) -> None:
        self._enable()
        if not self._quiet:
            self.tool.pull_default = self.pull.isChecked()
            self.tool.set_settings(self.settings())

    def set_paint_checked(self, on: bool) -> None:
        self._quiet = True
        self.paint_button.setChecked(on)
        self._quiet = False

    # ---------------------------------------------------------------- strokes

    def refresh(self) -> None:
        """Rebuild the list from the shot at the playhead (keeps the selection)."""
        strokes = self.tool.shot_strokes()
        rows = [(s.id, s.visible, stroke_summary(s)) for s in strokes]
        if rows == getattr(self, "_rows", None):
            return
        self._rows = rows
        self._quiet = True
        self.strokes.clear()
        for stroke_id, visible, columns in rows:
            item = QTreeWidgetItem([stroke_id, *columns])
            item.setData(0, _ID, stroke_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(0, Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)
            item.setToolTip(0, "visible (applies); untick to hide the stroke")
            self.strokes.addTopLevelItem(item)
            if stroke_id == self.tool.selected:
                item.setSelected(True)
        for col in range(5):
            self.strokes.resizeColumnToContents(col)
        self._quiet = False
        self.delete_button.setEnabled(bool(rows))

    def item_of(self, stroke_id: str) -> QTreeWidgetItem | None:
        for i in range(self.strokes.topLevelItemCount()):
            item = self.strokes.topLevelItem(i)
            if item.data(0, _ID) == stroke_id:
                return item
        return None

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._quiet or column != 0:
            return
        self.tool.set_visible(item.data(0, _ID), item.checkState(0) == Qt.CheckState.Checked)

    def _selection_changed(self) -> None:
        if self._quiet:
            return
        items = self.strokes.selectedItems()
        self.tool.select(items[0].data(0, _ID) if items else None)

    def delete_selected(self) -> None:
        items = self.strokes.selectedItems()
        if items:
            self.tool.delete(items[0].data(0, _ID))

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Backspace and self.strokes.hasFocus():
            self.delete_selected()
        else:
            super().keyPressEvent(event)

    def show_notes(self, notes: tuple[str, ...], final: bool) -> None:
        text = "\n".join(notes) if notes else ("" if final else "carrying the strokes across the shot…")
        self.notes.setText(text)
