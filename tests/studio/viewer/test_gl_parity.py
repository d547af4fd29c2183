"""The GL viewer's eyes against the engine session's render (the master's per-frame path).

A source-coordinate texture goes through both paths: the GPU's (shaders, read back with glReadPixels
from the offscreen eye framebuffers) and the engine's (api.render_frame with the session's δ and
grade, the function Session.render runs). Where the GPU landed a surface, the source position it
shows must agree with the engine's within half a pixel (the eyes sit ±d/2 from the centre view, so
that is a disparity within 1 px) for at least 90 % of the pixels, both eyes, on the demo clip's real
(analysed) depth at D = 4. The real frame's eyes are compared with Session.render as well. Both eye
builders are held to it: the compute shader (GL 4.3) and the fragment gather (the GL 3.3 fallback).
Letterbox bars: both builders keep them at d = 0, as the master does.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine import api
from engine.document import DepthCurve, StereoParams
from studio.viewer.modes import LiveGrade
from tests.support.data import DEMO_CLIP
from tests.support.gl import offscreen_gl_context

FRAME = 30


@pytest.fixture(scope="module")
def session():
    request = api.ConvertRequest(input=None, max_width=320, temporal=False, shots="off",
                                 params=StereoParams(4.0, 1 / 3))
    s = api.open_session(str(DEMO_CLIP), request=request)
    yield s
    s.close()


@pytest.fixture(params=["compute", "gather"])
def gl_renderer(qapp, request):
    from studio.viewer.gl_renderer import COMPUTE_VERSION, StereoRenderer, gl_version

    with offscreen_gl_context():
        if request.param == "compute" and gl_version() < COMPUTE_VERSION:
            pytest.skip("this display's OpenGL has no compute shaders (4.3)")
        renderer = StereoRenderer(builder=request.param)
        assert renderer.builder == request.param
        yield renderer
        renderer.release()


@pytest.mark.parametrize("curve", [None, DepthCurve(near=0.1, far=0.85, gamma=0.6)], ids=["linear", "curved"])
def test_gl_eyes_match_the_session_render(session, gl_renderer, curve):
    """Both eyes' source positions and colours as the master's; with the default (linear) depth curve and
    with a curved one (the compute builder has a program for each: no pow per pixel at gamma 1)."""
    depth = session.depth(FRAME, exact=True)
    assert not depth.provisional
    delta = depth.delta
    h, w = delta.shape
    params = session.params_at(FRAME)
    if curve is not None:
        params = replace(params, curve=curve)
    assert params.divergence >= 3.0
    coords = np.zeros((h, w, 3), np.uint16)
    coords[..., 0] = np.round((np.arange(w) + 0.5) / w * 65535).astype(np.uint16)[None, :]
    coords[..., 1] = np.round((np.arange(h) + 0.5) / h * 65535).astype(np.uint16)[:, None]
    engine_eyes = api.render_frame(coords, delta, params)
    gl_renderer.set_frame(coords, delta)
    gl_renderer.render_eyes((w, h), LiveGrade.of(params))
    for eye in (0, 1):
        _colour, aux = gl_renderer.read_eye(eye)
        landed = aux[..., 3] > 0.5
        gl_x = aux[..., 1] * w - 0.5
        engine_x = engine_eyes[eye][..., 0].astype(np.float64) / 65535 * w - 0.5
        err = np.abs(gl_x - engine_x)[landed]
        assert landed.mean() > 0.9
        agree = (err <= 0.5).mean()
        assert agree >= 0.9, f"eye {eye}: {agree:.3f} of the pixels agree within 1 px of disparity"
    # the real frame through both paths: the GPU's eyes look like the master's
    if curve is not None:  # the curve moved the eyes: a curved build is not the linear one
        linear = api.render_frame(coords, delta, replace(params, curve=DepthCurve()))
        assert np.abs(linear[1].astype(int) - engine_eyes[1].astype(int)).mean() > 20
        return
    rgb = session.frame(FRAME)
    gl_renderer.set_frame(rgb, delta)
    gl_renderer.render_eyes((w, h), LiveGrade.of(params))
    left, right = session.render(FRAME)
    for eye, ref in ((0, left), (1, right)):
        colour, _aux = gl_renderer.read_eye(eye)
        diff = np.abs(colour[..., :3].astype(int) - ref.astype(int))
        assert colour.shape[:2] == ref.shape[:2]
        assert np.median(diff) <= 3


def test_bars_stay_on_the_screen_plane(session, gl_renderer):
    """Rows and columns of letterbox / pillarbox bars get d = 0 (each eye shows them unshifted), as the
    master's flat bars; the picture between them still gets its disparity."""
    from engine.ops.bars import Bars

    delta = session.depth(FRAME, exact=True).delta
    h, w = delta.shape
    params = session.params_at(FRAME)
    coords = np.zeros((h, w, 3), np.uint16)
    coords[..., 0] = np.round((np.arange(w) + 0.5) / w * 65535).astype(np.uint16)[None, :]
    bars = Bars(top=h // 8, bottom=h // 8, left=w // 10, right=0, size=(w, h))
    gl_renderer.set_frame(coords, delta)
    gl_renderer.set_bars(bars)
    gl_renderer.render_eyes((w, h), LiveGrade.of(params))
    mask = bars.mask()
    inner = ~mask
    inner[:, : w // 10 + 8] = False  # the picture's own pixels, clear of the pillar's edge
    for eye in (0, 1):
        _colour, aux = gl_renderer.read_eye(eye)
        d = aux[..., 0] * w
        bar_rows = np.zeros((h, w), bool)
        bar_rows[: h // 8] = bar_rows[h - h // 8:] = True
        assert np.all(aux[..., 3][bar_rows] > 0.5)
        assert np.abs(d[bar_rows]).max() == 0.0
        shown_x = aux[..., 1] * w - 0.5
        assert np.abs(shown_x - np.arange(w)[None, :])[bar_rows].max() < 1e-3  # unshifted
        assert np.abs(d[inner]).mean() > 1.0  # the picture itself is graded
    gl_renderer.set_bars(None)
    gl_renderer.render_eyes((w, h), LiveGrade.of(params))
    _colour, aux = gl_renderer.read_eye(0)
    assert np.abs(aux[..., 0][: h // 8] * w).mean() > 1.0  # without bars those rows are graded again


def _composed(renderer, mode: str, srgb_target: bool, swap: bool = False) -> np.ndarray:
    """`mode` composed 1:1 into an RGBA8 or SRGB8_ALPHA8 framebuffer of the eye size, read back (H, W, 3)."""
    from OpenGL import GL

    from studio.viewer.modes import ViewState

    w, h = renderer.eye_size
    tex = GL.glGenTextures(1)
    GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
    GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_SRGB8_ALPHA8 if srgb_target else GL.GL_RGBA8, w, h, 0, GL.GL_RGBA,
                    GL.GL_UNSIGNED_BYTE, None)
    fbo = GL.glGenFramebuffers(1)
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
    GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, tex, 0)
    try:
        renderer.draw(fbo, (w, h), (0, 0, w, h), ViewState(mode=mode, swap_eyes=swap))
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, fbo)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        raw = GL.glReadPixels(0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
    finally:
        GL.glDeleteFramebuffers(1, [fbo])
        GL.glDeleteTextures(1, [tex])
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)[::-1].copy()  # GL's row 0 is the bottom


@pytest.mark.parametrize("srgb_target", [True, False], ids=["srgb-framebuffer", "rgba8-framebuffer"])
def test_linear_light_modes_match_the_cpu_composition(session, gl_renderer, srgb_target):
    """Anaglyph (Dubois) and blend mix the eyes in linear light: through the eyes' sRGB views and an sRGB
    framebuffer's encoding where there are some, else by the shader's own transfer functions; either
    way the picture is cpu_compose's (the numpy twin) of the same eyes within 1 level (a few dark pixels
    within 4 where the GL's own sRGB conversions do it)."""
    from studio.viewer.cpu_compose import compose
    from studio.viewer.modes import Budget

    rgb, delta = session.frame(FRAME), session.depth(FRAME, exact=True).delta
    h, w = delta.shape
    grade = LiveGrade.of(session.params_at(FRAME))
    gl_renderer.set_frame(rgb, delta)
    gl_renderer.render_eyes((w, h), grade)
    eyes = tuple(gl_renderer.read_eye(i)[0][..., :3] for i in (0, 1))
    for mode in ("anaglyph", "blend"):
        shown = _composed(gl_renderer, mode, srgb_target).astype(int)
        expected = compose(mode, eyes[0], delta, eyes, grade, Budget()).astype(int)
        err = np.abs(shown - expected)
        # the texture unit's sRGB decode and the framebuffer's encode may put a dark value a few levels
        # off (llvmpipe's are fits); the shader's own pow is exact
        by_hardware = srgb_target or gl_renderer.builder == "compute"
        assert (err > 1).mean() <= 0.005, mode
        assert err.max() <= (4 if by_hardware else 1), mode


@pytest.mark.parametrize("swap", [False, True], ids=["eyes", "swapped"])
def test_eye_arrangements_match_the_cpu_composition(session, gl_renderer, swap):
    """Side by side, top and bottom and anaglyph, with the eyes as they are and swapped (the master's
    --swap-eyes): the GL picture is cpu_compose's of the same eyes (each eye sampled once, then placed)."""
    from studio.viewer.cpu_compose import compose
    from studio.viewer.modes import Budget

    rgb, delta = session.frame(FRAME), session.depth(FRAME, exact=True).delta
    h, w = delta.shape
    grade = LiveGrade.of(session.params_at(FRAME))
    gl_renderer.set_frame(rgb, delta)
    gl_renderer.render_eyes((w, h), grade)
    eyes = tuple(gl_renderer.read_eye(i)[0][..., :3] for i in (0, 1))
    assert np.abs(eyes[0].astype(int) - eyes[1].astype(int)).mean() > 1.0  # the eyes differ
    for mode in ("sbs", "tb", "anaglyph"):
        cw, ch = (2 * w, h) if mode == "sbs" else (w, 2 * h) if mode == "tb" else (w, h)
        shown = _composed_at(gl_renderer, mode, (cw, ch), swap).astype(int)
        expected = compose(mode, eyes[0], delta, eyes, grade, Budget(), swap).astype(int)
        assert shown.shape == expected.shape, mode
        err = np.abs(shown - expected)
        assert (err > 1).mean() <= 0.005, mode
        if mode != "anaglyph":  # the eyes placed as they are: exact
            first, second = (eyes[1], eyes[0]) if swap else eyes
            half = (slice(None), slice(0, w)) if mode == "sbs" else (slice(0, h), slice(None))
            assert np.array_equal(shown[half], first.astype(int)), mode
            assert not np.array_equal(shown[half], second.astype(int)), mode


def _composed_at(renderer, mode: str, size: tuple[int, int], swap: bool) -> np.ndarray:
    """`mode` composed into an RGBA8 framebuffer of `size` (the mode's whole content 1:1), read back."""
    from OpenGL import GL

    from studio.viewer.modes import ViewState

    w, h = size
    tex = GL.glGenTextures(1)
    GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
    GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, w, h, 0, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, None)
    fbo = GL.glGenFramebuffers(1)
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
    GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, tex, 0)
    try:
        renderer.draw(fbo, (w, h), (0, 0, w, h), ViewState(mode=mode, swap_eyes=swap))
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, fbo)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        raw = GL.glReadPixels(0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
    finally:
        GL.glDeleteFramebuffers(1, [fbo])
        GL.glDeleteTextures(1, [tex])
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)[::-1].copy()


def _read_colour(target) -> np.ndarray:
    """A renderer target's colour attachment, read back (H, W, 3), first row the picture's top."""
    from OpenGL import GL

    w, h = target.size
    GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, target.fbo)
    GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
    raw = GL.glReadPixels(0, 0, w, h, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy()  # stored top row first (numpy order)


def _bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 magnified to `size` (W, H) as GL's linear filter does (texel centres, clamp to edge)."""
    h, w = image.shape[:2]
    out_w, out_h = size

    def taps(n_out: int, n_in: int):
        x = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0, n_in - 1.0)
        lo = np.floor(x).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), x - lo

    x0, x1, fx = taps(out_w, w)
    y0, y1, fy = taps(out_h, h)
    img = image.astype(np.float64)
    top = img[y0][:, x0] * (1 - fx)[None, :, None] + img[y0][:, x1] * fx[None, :, None]
    bottom = img[y1][:, x0] * (1 - fx)[None, :, None] + img[y1][:, x1] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bottom * fy[:, None, None]


@pytest.mark.parametrize("swap", [False, True], ids=["eyes", "swapped"])
def test_eyes_shown_magnified_are_mixed_once_at_their_size(session, gl_renderer, swap):
    """A preview (eyes smaller than the view) in anaglyph or blend: the eyes are mixed in linear light at
    eye size (cpu_compose's picture of them, within the 1:1 composition's tolerance) and that mix is
    magnified by the linear filter (within its rounding); a rebuild of the eyes or another swap mixes
    them again."""
    from studio.viewer.cpu_compose import compose
    from studio.viewer.gl_renderer import mixes_at_eye_size
    from studio.viewer.modes import Budget

    rgb, delta = session.frame(FRAME), session.depth(FRAME, exact=True).delta
    h, w = delta.shape
    grade = LiveGrade.of(session.params_at(FRAME))
    gl_renderer.set_frame(rgb, delta)
    gl_renderer.render_eyes((w, h), grade)
    eyes = tuple(gl_renderer.read_eye(i)[0][..., :3] for i in (0, 1))
    view = (2 * w, 2 * h)
    assert mixes_at_eye_size("anaglyph", (w, h), view, (0, 0, *view))
    for mode in ("anaglyph", "blend"):
        shown = _composed_at(gl_renderer, mode, view, swap).astype(float)
        mixed = _read_colour(gl_renderer._mixed)
        err = np.abs(mixed.astype(int) - compose(mode, eyes[0], delta, eyes, grade, Budget(), swap).astype(int))
        assert (err > 1).mean() <= 0.005, mode
        assert err.max() <= (4 if gl_renderer.builder == "compute" else 1), mode  # as the 1:1 composition
        assert np.abs(shown - _bilinear(mixed, view)).max() <= 1.0, mode
    before = _composed_at(gl_renderer, "anaglyph", view, swap)
    gl_renderer.render_eyes((w, h), replace(grade, divergence=2.0 * grade.divergence))
    assert not np.array_equal(_composed_at(gl_renderer, "anaglyph", view, swap), before)  # mixed again
    assert not np.array_equal(_composed_at(gl_renderer, "anaglyph", view, not swap),
                              _composed_at(gl_renderer, "anaglyph", view, swap))


def test_only_linear_modes_mostly_magnified_are_mixed_at_eye_size():
    from studio.viewer.gl_renderer import mixes_at_eye_size

    quarter = (320, 180)
    assert mixes_at_eye_size("anaglyph", quarter, (1280, 720), (0, 0, 1280, 720))
    assert mixes_at_eye_size("blend", (640, 360), (1280, 720), (0, 0, 1280, 720))  # exactly a quarter
    assert not mixes_at_eye_size("anaglyph", (1280, 720), (1280, 720), (0, 0, 1280, 720))  # 1:1
    assert not mixes_at_eye_size("anaglyph", (1000, 562), (1280, 720), (0, 0, 1280, 720))  # most shown
    assert not mixes_at_eye_size("sbs", quarter, (1280, 720), (0, 0, 1280, 720))  # no mix to save
    assert not mixes_at_eye_size("difference", quarter, (1280, 720), (0, 0, 1280, 720))
    # zoomed in: only the part of the content inside the view counts
    assert mixes_at_eye_size("anaglyph", quarter, (1280, 720), (-2000, -1000, 5120, 2880))
    assert not mixes_at_eye_size("anaglyph", quarter, (400, 200), (0, 0, 1280, 720))  # a small view


def test_auto_falls_back_to_the_gather_when_the_compute_shader_does_not_build(qapp, monkeypatch):
    from studio.viewer import gl_renderer
    from studio.viewer.shaders import ShaderError

    def broken(name, defines=None):
        raise ShaderError(f"shaders/{name} does not compile: a driver's complaint")

    monkeypatch.setattr(gl_renderer, "build_compute", broken)
    with offscreen_gl_context():
        renderer = gl_renderer.StereoRenderer()
        assert renderer.builder == "gather"
        renderer.release()
        if gl_renderer.gl_version() >= gl_renderer.COMPUTE_VERSION:
            with pytest.raises(ShaderError):
                gl_renderer.StereoRenderer(builder="compute")  # asked for by name: the failure is said


def test_one_to_one_is_judged_on_the_whole_mode_content():
    from studio.viewer.gl_renderer import shown_one_to_one

    assert shown_one_to_one("anaglyph", (640, 360), (3, 7, 640, 360))
    assert shown_one_to_one("sbs", (640, 360), (0, 0, 1280.3, 360))  # two eyes side by side
    assert shown_one_to_one("tb", (640, 360), (0, 0, 640, 720))
    assert not shown_one_to_one("sbs", (640, 360), (0, 0, 640, 360))  # squeezed: filtered
    assert not shown_one_to_one("left", (640, 360), (0, 0, 1280, 720))  # magnified past the eyes' size
    assert not shown_one_to_one("left", (640, 360), (0, 0, 640.6, 360))
