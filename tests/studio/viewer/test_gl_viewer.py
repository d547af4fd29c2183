"""The GL viewer on a real display (Xvfb): it shows the decoded frame, every mode draws, zoom works."""

from __future__ import annotations

import numpy as np
import pytest

from studio.viewer.geometry import Zoom
from studio.viewer.modes import MODES, Budget, FrameData, ViewState
from studio.viewer.panel import ViewerPanel
from tests.support.data import DEMO_CLIP, DEMO_DEPTH


@pytest.fixture(scope="module")
def demo_frame():
    from engine import api

    with api.open_media(DEMO_CLIP) as media:
        rgb = media.frame(10).image
    z = np.load(DEMO_DEPTH)["depth"][10].astype(np.float32)
    inv = 1.0 / z
    lo, hi = np.percentile(inv, [2, 98])
    delta = np.clip((hi - inv) / (hi - lo), 0.0, 1.0).astype(np.float32)
    return FrameData(10, rgb, delta, "00:00:00:10")


@pytest.fixture
def panel(qtbot):
    p = ViewerPanel()
    qtbot.addWidget(p)
    p.resize(640, 360)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.shutdown()


def _grab(panel) -> np.ndarray:
    image = panel.viewer.grabFramebuffer().convertToFormat(panel.viewer.grabFramebuffer().Format.Format_RGB888)
    ptr = image.constBits()
    return np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3] \
        .reshape(image.height(), image.width(), 3).copy()


def test_gl_viewer_shows_the_decoded_frame(panel, demo_frame, qtbot):
    assert panel.is_gpu, panel.fallback_reason
    panel.set_state(ViewState(mode="source"))
    panel.set_zoom(Zoom().one_to_one())
    with qtbot.waitSignal(panel.frame_drawn, timeout=20_000):
        panel.set_frame(demo_frame)
    shown = _grab(panel)
    h, w = demo_frame.rgb.shape[:2]
    # 1:1 and centred in a widget of the frame's size: the pixels are the frame's, below the overlay box
    region = (slice(120, h), slice(0, w))
    assert shown.shape[:2] == (h, w)
    diff = np.abs(shown[region].astype(int) - demo_frame.rgb[region].astype(int))
    assert diff.max() <= 1


def test_the_first_paint_warms_the_glyph_cache_and_draws_none_of_it(panel, demo_frame, qtbot):
    """The overlay's glyphs go into the context's glyph cache in its first paint (so no frame's label grows
    it mid-scrub: studio/viewer/overlay.py), drawn above the top edge: the rows over the labels are the frame's."""
    assert panel.is_gpu, panel.fallback_reason
    viewer = panel.viewer
    qtbot.waitUntil(lambda: viewer._glyphs_warm is not None, timeout=20_000)
    assert viewer._glyphs_warm is viewer.context()
    viewer._glyphs_warm = None  # warm again in the next paint (the grab), over the frame shown 1:1
    panel.set_state(ViewState(mode="source"))
    panel.set_zoom(Zoom().one_to_one())
    with qtbot.waitSignal(panel.frame_drawn, timeout=20_000):
        panel.set_frame(demo_frame)
    viewer._glyphs_warm = None
    shown = _grab(panel)
    assert viewer._glyphs_warm is viewer.context()
    top = (slice(0, 8), slice(0, demo_frame.rgb.shape[1]))  # above the overlay's first box (y = 8)
    assert np.abs(shown[top].astype(int) - demo_frame.rgb[top].astype(int)).max() <= 1


def test_every_mode_draws_and_differs(panel, demo_frame, qtbot, screenshot_dir):
    panel.set_frame(demo_frame)
    pictures = {}
    for name, _label, _id in MODES:
        state = ViewState(mode=name, budget=Budget())
        with qtbot.waitSignal(panel.frame_drawn, timeout=20_000):
            panel.set_state(state)
        pictures[name] = _grab(panel)
        panel.viewer.grabFramebuffer().save(str(screenshot_dir / f"viewer_{name}.png"))
    for name, image in pictures.items():
        assert image.std() > 5, f"mode {name} drew a flat picture"
    assert not np.array_equal(pictures["left"], pictures["right"])
    assert not np.array_equal(pictures["anaglyph"], pictures["source"])
    assert not np.array_equal(pictures["depth"], pictures["depth-colour"])
    # the anaglyph's red channel carries the left eye, so it differs from its green/blue (right eye)
    ana = pictures["anaglyph"].astype(int)
    assert np.abs(ana[..., 0] - ana[..., 1]).mean() > 5


def test_grade_change_rebuilds_eyes_without_new_frame(panel, demo_frame, qtbot):
    panel.set_state(ViewState(mode="right"))
    with qtbot.waitSignal(panel.frame_drawn, timeout=20_000):
        panel.set_frame(demo_frame)
    before = _grab(panel)
    from engine.document import StereoParams

    with qtbot.waitSignal(panel.frame_drawn, timeout=20_000):
        panel.set_state(ViewState(mode="right", params=StereoParams(8.0, 0.5)))
    after = _grab(panel)
    assert np.abs(before.astype(int) - after.astype(int)).mean() > 1


def test_progressive_eyes_show_a_preview_then_exactly_the_full_build(panel, demo_frame, qtbot):
    """Where a full build is too slow for a frame, a preview shows first; the bands then give the same eyes."""
    from engine.document import StereoParams

    viewer = panel.viewer
    assert panel.is_gpu, panel.fallback_reason
    near = ViewState(mode="left", params=StereoParams(3.0, 0.3))
    far = ViewState(mode="left", params=StereoParams(6.0, 0.5))
    viewer.progressive = False
    with qtbot.waitSignal(panel.frame_drawn, timeout=20_000):
        panel.set_state(far)
        panel.set_frame(demo_frame)
    exact, full_size = viewer.read_eyes(), viewer.renderer.eye_size
    with qtbot.waitSignal(panel.frame_drawn, timeout=20_000):
        panel.set_state(near)
    viewer.progressive = True
    viewer.cost.k = 1.0  # as if a full build took far longer than a frame
    previews = []
    viewer.preview_drawn.connect(lambda n: previews.append((n, viewer.renderer.eye_size)))
    with qtbot.waitSignal(panel.frame_drawn, timeout=60_000):
        panel.set_state(far)
    assert previews and previews[0][0] == demo_frame.index
    assert previews[0][1][0] < full_size[0]  # the first picture came from smaller eyes
    assert viewer.renderer.eye_size == full_size
    for (colour, aux), (want_colour, want_aux) in zip(viewer.read_eyes(), exact, strict=True):
        assert np.array_equal(colour, want_colour) and np.array_equal(aux, want_aux)  # band by band = at once


def test_during_playback_only_the_preview_is_built_and_the_full_size_follows_the_stop(panel, demo_frame, qtbot):
    from engine.document import StereoParams

    viewer = panel.viewer
    panel.set_state(ViewState(mode="left", params=StereoParams(5.0, 0.4)))
    with qtbot.waitSignal(panel.frame_drawn, timeout=20_000):
        panel.set_frame(demo_frame)
    full_size = viewer.renderer.eye_size
    viewer.cost.k = 1.0  # as if a full build took far longer than a frame
    panel.set_playing(True)
    with qtbot.waitSignal(panel.preview_drawn, timeout=20_000):
        panel.set_state(ViewState(mode="left", params=StereoParams(6.0, 0.4)))
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()  # a refine would have been queued by now
    assert viewer._refine is None and viewer.renderer.eye_size[0] < full_size[0]
    with qtbot.waitSignal(panel.frame_drawn, timeout=60_000):
        panel.set_playing(False)
    assert viewer.renderer.eye_size == full_size


def test_a_drag_builds_previews_only_and_the_full_size_once_it_settles(panel, demo_frame, qtbot):
    """Grade changes in quick succession (a keyframe drag) each cost a preview; no full-size band is built
    until the changes stop for REFINE_SETTLE_MS, then the full size replaces the last preview."""
    from engine.document import StereoParams

    viewer = panel.viewer
    panel.set_state(ViewState(mode="left", params=StereoParams(3.0, 0.3)))
    with qtbot.waitSignal(panel.frame_drawn, timeout=20_000):
        panel.set_frame(demo_frame)
    full_size = viewer.renderer.eye_size
    viewer.cost.k = 1.0  # as if a full build took far longer than a frame
    bands = viewer.bands_built
    previews = []
    viewer.preview_drawn.connect(previews.append)
    for i in range(6):  # the drag: each step painted at once, the next one well within the settle time
        panel.set_state(ViewState(mode="left", params=StereoParams(3.2 + 0.2 * i, 0.3)))
        viewer.repaint()
        qtbot.wait(10)
    assert len(previews) >= 6 and viewer.bands_built == bands
    with qtbot.waitSignal(panel.frame_drawn, timeout=60_000):
        pass
    assert viewer.renderer.eye_size == full_size and viewer.bands_built > bands


def test_a_large_first_build_starts_from_a_preview(qtbot):
    """No build measured yet and big eyes: the first picture is a quarter-size preview, the full size follows."""
    from studio.viewer.gl_viewer import MIN_PREVIEW_SCALE

    p = ViewerPanel()
    qtbot.addWidget(p)
    p.resize(1280, 720)
    p.show()
    qtbot.waitExposed(p)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    delta = np.tile(np.linspace(0, 1, 1280, dtype=np.float32), (720, 1))
    previews = []
    p.preview_drawn.connect(lambda n: previews.append(p.viewer.renderer.eye_size))
    p.set_state(ViewState(mode="left"))
    with qtbot.waitSignal(p.frame_drawn, timeout=120_000):
        p.set_frame(FrameData(3, rgb, delta, "00:00:00:03"))
    full = p.viewer.renderer.eye_size
    assert previews and previews[0][0] == round(full[0] * MIN_PREVIEW_SCALE)
    assert full[0] > previews[0][0]
    p.shutdown()


def test_a_paint_measures_what_it_costs_besides_the_build(panel, demo_frame, qtbot):
    """The swap and composition of each paint are timed, so the preview's budget leaves room for them."""
    viewer = panel.viewer
    assert panel.is_gpu, panel.fallback_reason
    with qtbot.waitSignal(panel.frame_drawn, timeout=20_000):
        panel.set_frame(demo_frame)
    viewer.repaint()  # nothing new to build: all of this paint is overhead
    assert viewer.cost.overhead_ms is not None and viewer.cost.overhead_ms > 0.0
    assert viewer.cost.budget() <= viewer.cost.budget(playing=True)
