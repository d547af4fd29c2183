"""The studio's side of the headset preview: a "Preview in headset" action, a status indicator, frames in.

`HeadsetPreview` owns an `XrPreview` (its own thread) while the action is checked. With the studio's GL
viewer attached (`attach_viewer`), the headset shows the viewer's own eyes: each time the viewer has
built new eyes (playhead, playback, a grading change) it calls back with its context current, the eyes
are blitted into a shared texture (`gpu_share.EyeShare`) and the XR thread — whose GLX context is in the
viewer's share group — copies that into the swapchain: GPU to GPU, no re-render and no read-back.
When that cannot be (the CPU viewer, a non-GLX context, the share refused by the driver) the studio
hands it CPU frames instead — `show_stereo` / `show_sbs`, asked for by `wants_frame` and
`needs_cpu_frames`. Status reports cross from the XR thread by a queued signal; `shutdown()` (called
when the window closes) stops the session, joins the thread and frees the shared textures.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from studio.xr.geometry import Placement, ScreenGeometry
from studio.xr.gpu_share import EyeShare, ShareTarget
from studio.xr.session import Content, Status, StatusReport, XrPreview

_SESSION_UP = (Status.WAITING, Status.RUNNING)  # a session exists: frames sent now are shown
_COLOURS = {Status.RUNNING: "#5fbf6f", Status.WAITING: "#d9b84a", Status.CONNECTING: "#d9b84a",
            Status.NO_RUNTIME: "#e06c5f", Status.NO_HEADSET: "#e06c5f", Status.LOST: "#e06c5f",
            Status.FAILED: "#e06c5f", Status.STOPPED: "#8a8a8a"}


class HeadsetPreview(QObject):
    """Signals (GUI thread): status_changed(StatusReport); wants_frame() — the headset needs a CPU frame
    now (it was turned on, or GPU sharing is not possible); published(frame_id, source_frame) — the
    viewer's eyes of source frame n went to the headset on the GPU."""

    status_changed = Signal(object)
    wants_frame = Signal()
    published = Signal(int, int)
    _from_xr = Signal(object)

    def __init__(self, parent: QObject | None = None,
                 preview_factory: Callable[..., XrPreview] = XrPreview) -> None:
        super().__init__(parent)
        self._factory = preview_factory
        self._preview: XrPreview | None = None
        self._ids = itertools.count(1)
        self._last: Content | None = None
        self._panel = None  # the studio's ViewerPanel, when attached
        self._share: EyeShare | None = None
        self._share_viewer = None  # the GlViewer whose eyes_hook feeds _share
        self.share_note = ""  # why the GPU path is not used, when it is not
        self.last_published: tuple[int, int, int] | None = None  # (frame id, source frame, monotonic ns)
        self.geometry = ScreenGeometry()
        self.report = StatusReport(Status.STOPPED, "headset preview is off")
        self.action = QAction("Preview in &headset", self, checkable=True, shortcut="Ctrl+Shift+H")
        self.action.setStatusTip("Show the graded stereo frame in an OpenXR headset")
        self.action.toggled.connect(self.set_enabled)
        self.recentre_action = QAction("&Recentre headset screen", self, enabled=False)
        self.recentre_action.triggered.connect(self.recentre)
        self.head_locked_action = QAction("Head-locked &comfort view", self, checkable=True)
        self.head_locked_action.toggled.connect(self._set_head_locked)
        self.screen_action = QAction("Headset &screen size and distance…", self)
        self.screen_action.triggered.connect(self.edit_screen)
        self.indicator = QLabel()
        self._from_xr.connect(self._on_report, Qt.ConnectionType.QueuedConnection)
        self._on_report(self.report)

    @property
    def active(self) -> bool:
        return self._preview is not None

    @property
    def needs_cpu_frames(self) -> bool:
        """True while a headset session is there to show frames and is not fed the viewer's eyes on the GPU.

        With no runtime or no headset nothing is rendered for it (the studio's CPU stays with the editor);
        `wants_frame` asks for the current frame as soon as a session exists.
        """
        return self.active and self._share is None and self.report.status in _SESSION_UP

    def attach_viewer(self, panel) -> None:
        """Feed the headset from `panel`'s GL viewer (studio.viewer.panel.ViewerPanel) while it is on."""
        self._panel = panel
        panel.fell_back.connect(self._viewer_fell_back)

    @Slot(bool)
    def set_enabled(self, on: bool) -> None:
        if on and self._preview is None:
            target = self._start_share()
            self._preview = self._factory(geometry=self.geometry, on_status=self._from_xr.emit, gl_share=target)
            if self._last is not None and target is None:
                self._preview.show(self._last)
            self._preview.start()
            if self._share_viewer is not None:
                self._share_viewer.update()  # the next paint hands the current eyes over
        elif not on:
            self.shutdown()
        self.recentre_action.setEnabled(self.active)
        if self.action.isChecked() != on:
            self.action.setChecked(on)
        if on and self.needs_cpu_frames:
            self.wants_frame.emit()

    def _start_share(self) -> ShareTarget | None:
        """Set up the GPU path from the attached GL viewer; None (and `share_note`) when there is none."""
        viewer = getattr(self._panel, "viewer", None)
        if viewer is None or not getattr(self._panel, "is_gpu", False) or viewer.renderer is None \
                or not viewer.isValid():
            self.share_note = "no GL viewer to share textures with"
            return None
        viewer.makeCurrent()
        try:
            target = ShareTarget.current()
            self._share = EyeShare(target) if target is not None else None
        finally:
            viewer.doneCurrent()
        if self._share is None:
            self.share_note = "the viewer's GL context is not a GLX one"
            return None
        self.share_note = ""
        self._share_viewer = viewer
        viewer.eyes_hook = self._publish
        return target

    def _publish(self, left: int, right: int, size: tuple[int, int], key, frame_index: int) -> None:
        """The viewer's eyes_hook (its GL context is current): new eyes go to the headset GPU-side."""
        if self._share is None or self._preview is None:
            return
        try:
            content = self._share.publish(left, right, size, next(self._ids), key)
        except Exception as exc:  # a driver refusing the copy must not break the viewer's paint
            self._share_viewer.eyes_hook = None
            self._share_viewer = self._share = None
            self.share_note = f"GPU hand-over failed ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
            if self.needs_cpu_frames:
                self.wants_frame.emit()
            return
        if content is None:
            return
        self._preview.show(content)
        self.last_published = (content.frame_id, frame_index, time.monotonic_ns())
        self.published.emit(content.frame_id, frame_index)

    def _stop_share(self) -> None:
        """Unhook the viewer and free the shared textures (the XR thread no longer reads them)."""
        viewer, self._share_viewer = self._share_viewer, None
        share, self._share = self._share, None
        if viewer is None:
            return
        viewer.eyes_hook = None
        if share is not None and viewer.isValid():
            viewer.makeCurrent()
            try:
                share.release()
            finally:
                viewer.doneCurrent()

    @Slot(str)
    def _viewer_fell_back(self, reason: str) -> None:
        self._share_viewer = None  # that widget and its context are going away with its textures
        self._share = None
        self.share_note = f"CPU viewer ({reason})"
        if self.needs_cpu_frames:
            self.wants_frame.emit()

    def show_stereo(self, left: np.ndarray, right: np.ndarray) -> int:
        """Queue a stereo frame (two (H, W, 3) images) for the next headset frame; returns its frame id."""
        if left.shape != right.shape:
            raise ValueError(f"left {left.shape} and right {right.shape} eyes differ in size")
        sbs = np.concatenate([_to_uint8(left), _to_uint8(right)], axis=1)
        return self.show_sbs(sbs)

    def show_sbs(self, sbs: np.ndarray) -> int:
        """Queue a full side-by-side image (left eye on the left); returns its frame id."""
        content = Content(next(self._ids), _to_uint8(sbs))
        self._last = content
        if self._preview is not None:
            self._preview.show(content)
        return content.frame_id

    def set_geometry(self, geometry: ScreenGeometry) -> None:
        self.geometry = geometry
        if self._preview is not None:
            self._preview.set_geometry(geometry)

    @Slot()
    def recentre(self) -> None:
        if self._preview is not None:
            self._preview.recentre()

    @property
    def actions(self) -> list[QAction]:
        """The menu entries, in order: preview on/off, recentre, head-locked, screen geometry."""
        return [self.action, self.recentre_action, self.head_locked_action, self.screen_action]

    @Slot()
    def edit_screen(self) -> None:
        dialog = ScreenDialog(self.geometry, self.parent() if isinstance(self.parent(), QWidget) else None)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.set_geometry(dialog.geometry_value())

    @Slot(bool)
    def _set_head_locked(self, on: bool) -> None:
        from dataclasses import replace

        self.set_geometry(replace(self.geometry, placement=Placement.HEAD_LOCKED if on else Placement.WORLD))

    def shutdown(self) -> bool:
        """Stop the session and join the XR thread (the studio calls this when it closes)."""
        preview, self._preview = self._preview, None
        stopped = preview.stop() if preview is not None else True
        self._stop_share()
        self.recentre_action.setEnabled(False)
        if self.action.isChecked():
            self.action.blockSignals(True)
            self.action.setChecked(False)
            self.action.blockSignals(False)
        self._on_report(StatusReport(Status.STOPPED, "headset preview is off"))
        return stopped

    @Slot(object)
    def _on_report(self, report: StatusReport) -> None:
        if self._preview is None and report.status is not Status.STOPPED:
            return  # a late report from a session already shut down
        was_up = self.report.status in _SESSION_UP
        self.report = report
        if report.gpu_shared is False and self._share is not None:
            # the XR context could not join the viewer's share group: CPU frames from now on
            self._stop_share()
            self.share_note = "the headset's GL context cannot share the viewer's"
            if self.needs_cpu_frames:
                self.wants_frame.emit()
        elif self.needs_cpu_frames and not was_up:
            self.wants_frame.emit()  # a session (again): send it the current frame
        colour = _COLOURS.get(report.status, "#8a8a8a")
        self.indicator.setText(f'<span style="color:{colour}">●</span> Headset: {report.status.value}')
        frames = ""
        if self._preview is not None:
            frames = ("\nframes: the viewer's GL textures, copied on the GPU" if self._share is not None
                      else f"\nframes: CPU images ({self.share_note or 'no GPU sharing'})")
        self.indicator.setToolTip(report.message + frames)
        self.status_changed.emit(report)


class ScreenDialog(QDialog):
    """Size, distance and height of the headset's virtual screen (the `headset` preset by default)."""

    def __init__(self, geometry: ScreenGeometry, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Headset screen")
        self.width_box = _metres(geometry.width_m, 0.1, 100.0)
        self.distance_box = _metres(geometry.distance_m, 0.1, 100.0)
        self.height_box = _metres(geometry.height_m, -10.0, 10.0)
        reset = QPushButton("Headset preset (3 m at 2.5 m)")
        reset.clicked.connect(self.reset)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Width", self.width_box)
        form.addRow("Distance", self.distance_box)
        form.addRow("Height", self.height_box)
        form.addRow(reset)
        form.addRow(buttons)
        self._base = geometry

    def reset(self) -> None:
        preset = ScreenGeometry()
        self.width_box.setValue(preset.width_m)
        self.distance_box.setValue(preset.distance_m)
        self.height_box.setValue(preset.height_m)

    def geometry_value(self) -> ScreenGeometry:
        return self._base.resized(width_m=self.width_box.value(), distance_m=self.distance_box.value(),
                                  height_m=self.height_box.value())


def _metres(value: float, low: float, high: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox(minimum=low, maximum=high, singleStep=0.1, decimals=2, suffix=" m")
    box.setValue(value)
    return box


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype != np.uint8:
        raise ValueError(f"stereo frames must be uint8 or uint16, got {image.dtype}")
    return np.ascontiguousarray(image)
