"""The studio's main window (first cut): open a clip, scrub, grade, preview the stereo frame.

The viewer shows what `spatialdreamer frame` writes: the engine's exact
per-frame path, rendered in the background worker.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine import api
from studio.workers import Worker
from studio.xr.controller import HeadsetPreview

PREVIEW_LAYOUTS = ("anaglyph", "sbs-half", "sbs-full", "tb-half", "anaglyph-half-colour")


def to_qimage(image: np.ndarray) -> QImage:
    """(H, W, 3) uint8/uint16 RGB -> a QImage that owns a copy of the pixels."""
    rgb8 = (image >> 8).astype(np.uint8) if image.dtype == np.uint16 else image
    rgb8 = np.ascontiguousarray(rgb8)
    h, w, _ = rgb8.shape
    return QImage(rgb8.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class MainWindow(QMainWindow):
    """Open media, pick a frame, set divergence/convergence and layout, see the graded stereo frame."""

    preview_ready = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("SpatialDreamer Studio")
        self.media_path: Path | None = None
        self.frame_count = 0
        self.worker = Worker(self)
        self.worker.result.connect(self._show_preview)
        self.worker.error.connect(self._show_error)
        self.worker.busy.connect(lambda busy: self.statusBar().showMessage("rendering…" if busy else "ready"))
        self._build_ui()

    def _build_ui(self) -> None:
        open_action = QAction("&Open…", self, shortcut="Ctrl+O", triggered=self._choose_file)
        self.menuBar().addMenu("&File").addAction(open_action)
        self.headset = HeadsetPreview(self)  # "Preview in headset": fed from every preview result below
        self.menuBar().addMenu("&View").addActions(self.headset.actions)
        self.headset.action.toggled.connect(self.request_preview)
        self.viewer = QLabel("Open a clip (File ▸ Open)", alignment=Qt.AlignmentFlag.AlignCenter)
        self.viewer.setMinimumSize(480, 270)
        self.slider = QSlider(Qt.Orientation.Horizontal, enabled=False)
        self.slider.valueChanged.connect(self.request_preview)
        self.divergence = QDoubleSpinBox(minimum=0.0, maximum=20.0, singleStep=0.1,
                                         value=api.StereoParams().divergence, suffix=" %")
        self.convergence = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=3,
                                          value=api.StereoParams().convergence)
        self.layout_box = QComboBox()
        self.layout_box.addItems(PREVIEW_LAYOUTS)
        for control in (self.divergence, self.convergence):
            control.valueChanged.connect(self.request_preview)
        self.layout_box.currentTextChanged.connect(self.request_preview)
        form = QFormLayout()
        form.addRow("Divergence", self.divergence)
        form.addRow("Convergence", self.convergence)
        form.addRow("Preview", self.layout_box)
        side = QWidget()
        side.setLayout(form)
        top = QHBoxLayout()
        top.addWidget(self.viewer, 1)
        top.addWidget(side)
        root = QVBoxLayout()
        root.addLayout(top, 1)
        root.addWidget(self.slider)
        central = QWidget()
        central.setLayout(root)
        self.setCentralWidget(central)
        self.statusBar().showMessage("ready")
        self.statusBar().addPermanentWidget(self.headset.indicator)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open media")
        if path:
            self.open_media(Path(path))

    def open_media(self, path: Path) -> None:
        """Probe `path` (errors shown in a dialog) and preview its first frame."""
        try:
            info = api.probe(path)
        except api.SpatialDreamerError as exc:
            self._show_error(exc.one_line())
            return
        self.media_path, self.frame_count = Path(path), info.video.frame_count
        self.setWindowTitle(f"SpatialDreamer Studio — {self.media_path.name}")
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, self.frame_count - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(self.frame_count > 1)
        self.request_preview()

    def current_request(self) -> api.ConvertRequest:
        params = api.StereoParams(self.divergence.value(), self.convergence.value())
        return api.ConvertRequest(input=self.media_path, layout=self.layout_box.currentText(), params=params,
                                  max_width=960)

    def request_preview(self, *_: object) -> None:
        if self.media_path is None:
            return
        request, at = self.current_request(), f"{self.slider.value()}f"
        stereo = replace(request, layout="sbs-full") if self.headset.active else None
        self.worker.submit(lambda: (api.preview_images(request, at)[0],
                                    api.preview_images(stereo, at)[0] if stereo else None))

    def _show_preview(self, result: tuple[np.ndarray, np.ndarray | None]) -> None:
        image, sbs = result
        if sbs is not None:
            self.headset.show_sbs(sbs)  # the headset's next frame carries what the viewer shows now
        pixmap = QPixmap.fromImage(to_qimage(image))
        self.viewer.setPixmap(pixmap.scaled(self.viewer.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation))
        self.preview_ready.emit()

    def _show_error(self, message: str) -> None:
        self.statusBar().showMessage(message)
        if self.isVisible():
            QMessageBox.warning(self, "SpatialDreamer Studio", message)

    def closeEvent(self, event) -> None:
        self.headset.shutdown()
        self.worker.wait()
        super().closeEvent(event)
