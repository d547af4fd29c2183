"""Media / shot bin: clips with their shots; import media, detect shots, import cuts (OTIO / EDL)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from engine.document.timecode import frames_to_timecode


class BinPanel(QWidget):
    """Signals:
        action(str): 'import', 'detect', 'cuts' or 'remove' (the main window carries them out).
        clip_chosen(str): a clip was picked (its id).
        seek_requested(int): a shot was double-clicked (its first frame).
    """

    action = Signal(str)
    clip_chosen = Signal(str)
    seek_requested = Signal(int)

    def __init__(self, document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Clip / shot", "Frames", "Start"])
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.tree.itemClicked.connect(self._clicked)
        row = QHBoxLayout()
        for key, text in (("import", "Import media…"), ("detect", "Detect shots"), ("cuts", "Import cuts…"),
                          ("remove", "Remove clip")):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, k=key: self.action.emit(k))
            row.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        document.changed.connect(lambda _p: self.refresh())

    def refresh(self) -> None:
        self.tree.clear()
        project = self.document.project
        if project is None:
            return
        for clip in project.clips:
            top = QTreeWidgetItem([clip.name or clip.media.rsplit("/", 1)[-1], str(clip.frame_count),
                                   f"{float(clip.fps):.3g} fps"])
            top.setData(0, Qt.ItemDataRole.UserRole, ("clip", clip.id))
            for i, shot in enumerate(clip.shots):
                item = QTreeWidgetItem([shot.name or f"Shot {i + 1}", f"{shot.start}–{shot.end - 1}",
                                        frames_to_timecode(shot.start, clip.fps)])
                item.setData(0, Qt.ItemDataRole.UserRole, ("shot", clip.id, shot.start))
                top.addChild(item)
            self.tree.addTopLevelItem(top)
            top.setExpanded(clip.id == self.document.clip_id)

    def _clicked(self, item, _column) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if data and data[1] != self.document.clip_id:
            self.clip_chosen.emit(data[1])

    def _double_clicked(self, item, _column) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if data and data[0] == "shot":
            self.seek_requested.emit(data[2])
