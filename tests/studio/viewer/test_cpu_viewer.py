"""The CPU viewer (no OpenGL 3.3): its eyes put letterbox / pillarbox bars on the screen plane, as the GL
builders and the master do (tests/studio/viewer/test_gl_parity.py::test_bars_stay_on_the_screen_plane)."""

from __future__ import annotations

import numpy as np

from engine.document import StereoParams
from engine.ops.bars import Bars
from studio.viewer.cpu_viewer import CpuViewer
from studio.viewer.modes import FrameData, ViewState

W, H = 160, 90


def _coords() -> np.ndarray:
    """(H, W, 3) uint16: red = the source column, green = the source row (exact after any unshifted copy)."""
    out = np.zeros((H, W, 3), np.uint16)
    out[..., 0] = (np.arange(W) * 256)[None, :]
    out[..., 1] = (np.arange(H) * 256)[:, None]
    return out


def _eyes(qtbot, bars) -> tuple[np.ndarray, np.ndarray]:
    viewer = CpuViewer()
    qtbot.addWidget(viewer)
    try:
        viewer.set_state(ViewState(params=StereoParams(4.0, 1 / 3), mode="sbs"))
        delta = np.tile(np.linspace(0.0, 1.0, W, dtype=np.float32)[None, :], (H // 2, 1))  # δ at half size
        with qtbot.waitSignal(viewer.lane.finished, timeout=60_000):
            viewer.set_frame(FrameData(3, _coords(), delta, "00:00:00:03", bars=bars))
        assert viewer._eyes is not None
        return viewer._eyes
    finally:
        viewer.close_lane()


def test_cpu_viewer_keeps_the_bars_on_the_screen_plane(qtbot):
    top, left = H // 8, W // 10
    bars = Bars(top=top, bottom=top, left=left, right=0, size=(W // 2, H // 2)).scaled((W, H))  # any size
    source = _coords()
    mask = bars.mask()
    for eye in _eyes(qtbot, bars):
        assert eye.shape == source.shape
        assert np.array_equal(eye[mask], source[mask])  # every bar pixel unshifted: d = 0
        inner = ~mask
        inner[:, : left + 8] = False
        assert np.abs(eye[..., 0].astype(int) - source[..., 0])[inner].mean() > 128  # graded: > 0.5 px
    unbarred = _eyes(qtbot, None)
    assert not np.array_equal(unbarred[0][:top], source[:top])  # without bars those rows are graded
