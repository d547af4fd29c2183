"""The headset shows the GL viewer's own eyes, copied GPU-side: real GL (Mesa under Xvfb), a fake runtime.

The studio window's GlViewer renders the eyes; the XR thread's GLX context is in the viewer's share
group and blits them into swapchain images that are real GL textures (the fake runtime makes them in
the application's context, as a runtime imports its images, and leaves no context current after each
call). Checked: the swapchain holds exactly the viewer's eyes, nothing is read back or uploaded on the
way, no CPU render runs for the headset, and the next headset frame begun after the viewer built new
eyes (grade, playhead, playback) carries them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from OpenGL import GL

from studio.xr import gl_swapchain
from studio.xr.gpu_share import ShareTarget
from studio.xr.session import Status, XrPreview
from tests.studio.xr.fake_xr import FakeRuntime, add_gl_swapchains, make_fake_xr, record_headset_jobs

DEMO = Path(__file__).resolve().parents[3] / "resources" / "demo" / "demo.mp4"


class GlCalls:
    """Counts read-backs and uploads per thread (wrapping PyOpenGL's entry points)."""

    NAMES = ("glReadPixels", "glGetTexImage", "glTexImage2D", "glTexSubImage2D")

    def __init__(self, monkeypatch) -> None:
        self.calls: list[tuple[str, str]] = []
        for name in self.NAMES:
            original = getattr(GL, name)
            monkeypatch.setattr(GL, name, self._wrap(name, original))

    def _wrap(self, name, original):
        def call(*args, **kwargs):
            self.calls.append((name, threading.current_thread().name))
            return original(*args, **kwargs)
        return call

    def on(self, thread: str, start: int = 0) -> list[str]:
        return [name for name, t in self.calls[start:] if t == thread]


@pytest.fixture
def shared(window, qtbot, monkeypatch):
    window.show()  # the GL viewer initialises (and paints) only when shown
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.first_frame_shown, timeout=60_000):
        window.open_media(DEMO)
    assert window.viewer.is_gpu, "the studio tests run the GL viewer (Xvfb, llvmpipe)"
    rt = FakeRuntime(frame_period_s=0.005)
    xr = make_fake_xr(rt)
    thief = add_gl_swapchains(xr, rt)
    made: list[XrPreview] = []

    def factory(**kwargs) -> XrPreview:
        preview = XrPreview(xr_module=xr, retry_s=0.01, **kwargs)  # the real GL graphics
        made.append(preview)
        return preview

    window.headset._factory = factory
    headset_jobs = record_headset_jobs(window, monkeypatch)
    published: list[tuple[int, int, int]] = []
    window.headset.published.connect(lambda *_: published.append(window.headset.last_published))
    gl_calls = GlCalls(monkeypatch)
    window.headset.action.setChecked(True)
    qtbot.waitUntil(lambda: window.headset.report.status is Status.RUNNING, timeout=20_000)
    preview = made[-1]
    gl = window.viewer.viewer
    # progressive eyes: a preview-size pair may be handed over first; wait until the full-size pair shown now
    # is the one handed over last, and the headset shows it
    qtbot.waitUntil(lambda: bool(published) and gl._refine is None and gl.renderer.eye_size == (640, 360)
                    and window.headset._share._last_key == gl._eyes_key
                    and any(f.content_id == published[-1][0] for f in preview.stats.recent), timeout=20_000)
    return window, preview, published, headset_jobs, gl_calls, thief


def _capture(preview: XrPreview, qtbot) -> tuple[np.ndarray, tuple, int]:
    got: list = []
    preview.capture_next(lambda rgba, layers, frame_id: got.append((rgba, layers, frame_id)))
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    return got[0]


def _viewer_eyes(window) -> tuple[np.ndarray, np.ndarray]:
    (left, _), (right, _) = window.viewer.viewer.read_eyes()
    return left[..., :3], right[..., :3]


def _assert_layers_hold(capture, left: np.ndarray, right: np.ndarray) -> None:
    rgba, layers, _ = capture
    h = rgba.shape[0]
    for layer, eye in zip(layers, (left, right), strict=True):
        x, y, w, hh = layer.rect
        shown = rgba[h - (y + hh): h - y, x: x + w, :3]
        assert shown.shape == eye.shape, (layer.eye, shown.shape, eye.shape)
        assert np.array_equal(shown, eye), f"the {layer.eye} layer is not the viewer's {layer.eye} eye"
    assert np.abs(left.astype(int) - right).mean() > 1.0  # two different eyes, so a swap would show


def test_xr_gpu_share_swapchain_holds_the_viewers_eyes_without_cpu_copies(shared, qtbot):
    window, preview, published, headset_jobs, gl_calls, thief = shared
    assert preview.gpu_shared is True and window.headset._share is not None
    assert not window.headset.needs_cpu_frames
    assert "GL textures" in window.headset.indicator.toolTip()
    mark = len(gl_calls.calls)
    qtbot.waitUntil(lambda: preview.stats.frames_ended > 20, timeout=10_000)
    gpu_frames = [f for f in preview.stats.recent if f.content_id is not None]
    assert gpu_frames and all(f.source == "gpu" for f in gpu_frames)
    # the shared path: no upload, no read-back, no CPU render of the stereo pair for the headset
    assert gl_calls.on("xr-preview") == [] and gl_calls.on("MainThread", mark) == []
    assert preview.stats.uploads == 0 and preview.stats.readbacks == 0 and preview.stats.gpu_copies >= 1
    assert headset_jobs == []
    assert thief.steals > 20  # the runtime dropped the context on every call; the loop put it back

    capture = _capture(preview, qtbot)
    assert capture[2] == published[-1][0]
    assert gl_calls.on("xr-preview", mark) == ["glReadPixels"]  # the capture's own, nothing else
    size = window.viewer.viewer.renderer.eye_size
    assert size == (640, 360)  # while the headset is on the eyes are built at the source size
    _assert_layers_hold(capture, *_viewer_eyes(window))


def test_xr_gpu_share_grade_and_playhead_reach_the_next_headset_frame(shared, qtbot):
    window, preview, published, headset_jobs, gl_calls, _ = shared
    before = _viewer_eyes(window)
    gl = window.viewer.viewer

    def settled(count: int, frame: int) -> bool:
        # the viewer may show a preview first and the full size later (progressive eyes): wait for the last
        return len(published) > count and published[-1][1] == frame and getattr(gl, "_refine", None) is None \
            and gl.renderer.eye_size == (640, 360)

    for change, frame in ((lambda: window.divergence.setValue(6.0), 0), (lambda: window.seek(30), 30)):
        count = len(published)
        change()
        qtbot.waitUntil(lambda c=count, n=frame: settled(c, n), timeout=30_000)
        for _ in range(10):  # until ten headset frames pass with no new hand-over (the picture is final)
            seen, ended = len(published), preview.stats.frames_ended
            qtbot.waitUntil(lambda e=ended: preview.stats.frames_ended >= e + 10, timeout=10_000)
            if len(published) == seen:
                break
        frame_id, source_frame, t_published = published[-1]
        qtbot.waitUntil(lambda t=t_published: any(f.render_start_ns > t for f in preview.stats.recent),
                        timeout=10_000)
        first_after = next(f for f in preview.stats.recent if f.render_start_ns > t_published)
        assert first_after.content_id == frame_id, "the next headset frame did not carry the viewer's new eyes"
        assert source_frame == window.controller.position
        capture = _capture(preview, qtbot)
        assert capture[2] == frame_id
        _assert_layers_hold(capture, *_viewer_eyes(window))
    assert published[-1][1] == 30
    assert not np.array_equal(_viewer_eyes(window)[0], before[0])
    assert headset_jobs == [] and preview.stats.uploads == 0


def test_xr_gpu_share_playback_every_headset_frame_is_the_viewers_latest(shared, qtbot):
    window, preview, published, headset_jobs, _, _ = shared
    start = len(published)

    def drawn_enough() -> bool:
        if not window.controller.playing:  # at the clip's end (a loaded machine drops frames): again
            window.controller.seek(0)
            window.controller.play()
        return len({p[1] for p in published[start:]}) >= 5

    window.controller.play()
    try:
        qtbot.waitUntil(drawn_enough, timeout=90_000)
    finally:
        window.controller.pause()
    qtbot.waitUntil(lambda: any(f.render_start_ns > published[-1][2] for f in preview.stats.recent), timeout=10_000)
    frames = [f for f in preview.stats.recent if f.render_start_ns > published[start][2]]
    assert len({p[1] for p in published[start:]}) >= 5  # the viewer drew successive frames
    for f in frames:
        latest = max(p[0] for p in published if p[2] < f.render_start_ns)
        assert f.content_id >= latest, "a headset frame showed older eyes than the viewer had already drawn"
    assert headset_jobs == [] and preview.stats.uploads == 0


def test_xr_gpu_share_refused_falls_back_to_cpu_frames(window, qtbot, monkeypatch):
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.first_frame_shown, timeout=60_000):
        window.open_media(DEMO)
    rt = FakeRuntime(frame_period_s=0.005)
    xr = make_fake_xr(rt)
    add_gl_swapchains(xr, rt)

    def refuse(self, display_name=None, share=None):
        if share is not None:
            raise gl_swapchain.GlxUnavailable("glXCreateNewContext failed (sharing the viewer's context)")
        original(self, display_name)

    original = gl_swapchain.GlxContext.__init__
    monkeypatch.setattr(gl_swapchain.GlxContext, "__init__", refuse)
    made: list[XrPreview] = []
    window.headset._factory = lambda **kw: made.append(XrPreview(xr_module=xr, retry_s=0.01, **kw)) or made[-1]
    reports: list = []
    window.headset.status_changed.connect(reports.append)
    window.headset.action.setChecked(True)
    qtbot.waitUntil(lambda: window.headset.report.gpu_shared is False, timeout=20_000)
    assert window.headset.needs_cpu_frames and window.viewer.viewer.eyes_hook is None
    qtbot.waitUntil(lambda: any(f.source == "cpu" for f in made[-1].stats.recent), timeout=60_000)
    assert made[-1].stats.uploads >= 1
    assert "CPU images" in window.headset.indicator.toolTip()
    assert any("GPU sharing with the viewer refused" in r.message for r in reports)
    window.headset.action.setChecked(False)
    assert not any(t.name == "xr-preview" for t in threading.enumerate())


def test_xr_gpu_share_target_is_none_without_a_current_glx_context():
    assert ShareTarget.current() is None  # this thread has no GL context current


@pytest.fixture
def gl_context(qapp):
    from tests.support.gl import offscreen_gl_context

    with offscreen_gl_context() as context:
        yield context


def _eye_texture(image: np.ndarray) -> int:
    tex = int(GL.glGenTextures(1))
    GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
    GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
    GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, image.shape[1], image.shape[0], 0, GL.GL_RGBA,
                    GL.GL_UNSIGNED_BYTE, np.ascontiguousarray(image))
    return tex


def _read_texture(tex: int, size: tuple[int, int]) -> np.ndarray:
    fbo = GL.glGenFramebuffers(1)
    GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, fbo)
    GL.glFramebufferTexture2D(GL.GL_READ_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, tex, 0)
    GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
    data = GL.glReadPixels(0, 0, size[0], size[1], GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
    GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, 0)
    GL.glDeleteFramebuffers(1, [fbo])
    return np.frombuffer(data, np.uint8).reshape(size[1], size[0], 4)


def test_xr_gpu_share_ring_copies_both_eyes_and_never_rewrites_a_slot_being_read(gl_context):
    from studio.xr.gpu_share import SLOTS, EyeShare

    rng = np.random.default_rng(3)
    left, right = (rng.integers(0, 256, (6, 10, 4), dtype=np.uint8) for _ in range(2))
    textures = [_eye_texture(left), _eye_texture(right)]
    share = EyeShare(ShareTarget.current())
    first = share.publish(*textures, (10, 6), frame_id=1, key="a")
    assert first.size == (20, 6) and share.publish(*textures, (10, 6), frame_id=2, key="a") is None  # unchanged
    assert np.array_equal(_read_texture(first.texture, first.size), np.concatenate([left, right], axis=1))
    assert first.acquire()  # the XR thread holds it while it copies
    later = [share.publish(*textures, (10, 6), frame_id=i, key=i) for i in range(3, 3 + 3 * SLOTS)]
    assert all(c._slot != first._slot for c in later)  # a held slot is never written
    assert first.acquire()  # still the same contents
    first.release()
    first.release()
    share.publish(*textures, (10, 6), frame_id=99, key="b")
    share.publish(*textures, (10, 6), frame_id=100, key="c")
    assert not first.acquire()  # rewritten once free: the XR thread takes the newer content instead
    share.forget_key()
    assert share.publish(*textures, (10, 6), frame_id=101, key="c") is not None
    share.release()
    assert not later[-1].acquire()
    GL.glDeleteTextures(2, textures)


def test_xr_gpu_share_studio_close_stops_the_session_and_frees_the_slots(shared, qtbot):
    window, preview, _, _, _, _ = shared
    viewer = window.viewer.viewer
    share = window.headset._share
    assert share is not None and share.published >= 1 and viewer.eyes_hook is not None
    window.close()
    assert not any(t.name == "xr-preview" for t in threading.enumerate()), "the XR thread outlived the studio"
    assert not preview.running and window.headset._share is None and viewer.eyes_hook is None
    assert all(slot.tex == 0 for slot in share._slots)  # the shared textures were freed in the viewer's context


def test_xr_gpu_share_a_failing_hand_over_falls_back_and_the_viewer_keeps_painting(shared, qtbot, monkeypatch):
    window, preview, _, _, _, _ = shared

    def broken(*args, **kwargs):
        raise RuntimeError("glBlitFramebuffer: GL_OUT_OF_MEMORY")

    monkeypatch.setattr(window.headset._share, "publish", broken)
    gl = window.viewer.viewer
    paints: list[int] = []
    for signal in (gl.frame_drawn, getattr(gl, "preview_drawn", gl.frame_drawn)):
        signal.connect(paints.append)
    window.divergence.setValue(5.0)
    qtbot.waitUntil(lambda: bool(paints), timeout=30_000)  # the paint that hit the failure completed
    assert window.headset.needs_cpu_frames and gl.eyes_hook is None
    assert "GPU hand-over failed" in window.headset.share_note
    qtbot.waitUntil(lambda: any(f.source == "cpu" for f in preview.stats.recent), timeout=60_000)
    count = len(paints)
    window.divergence.setValue(4.0)
    qtbot.waitUntil(lambda: len(paints) > count, timeout=30_000)  # and the viewer keeps painting
