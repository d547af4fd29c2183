"""GPU stereo rendering with PyOpenGL: both eyes from a frame and its δ, then every viewer mode.

Two eye builders, both in the GLSL of ``shaders/`` and both giving engine.ops' row splat + fill:

* ``compute`` (OpenGL ≥ 4.3; Mesa llvmpipe has 4.5): ``eyes.comp``, one invocation per eye row walks
  the row in order — graded disparity from δ, the z-buffered segment splat (nearer wins), the
  colour, then the hole fill — O(width) per row. On llvmpipe both eyes at 1280×720 cost a fraction
  of the gather's CPU (bench/bench_studio.py).
* ``gather`` (the OpenGL 3.3 fallback), four fragment passes:

  1. ``disparity``: the graded disparity of every eye pixel from δ (the same depth curve and
     grade formula as engine.ops).
  2. ``splat``: each eye by the engine's row splat run as a gather: every target pixel visits
     the source pixels that can land on it, rasterises their piecewise-linear row segments and
     keeps the largest disparity — the z-buffer's nearer-wins without drawing geometry.
     (A displaced grid mesh with the depth test gives the same picture, but llvmpipe sets up
     triangles at ~36 ms per 640×360 eye on 2 cores.)
  3. ``fill``: holes take their background-side neighbour's colour, as engine.ops.fill does.

Letterbox / pillarbox bars (:meth:`StereoRenderer.set_bars`, the session's own detection) get d = 0
in both builders, as the master puts them on the screen plane. Then ``compose``: anaglyph / SBS /
TB / eyes / blend / difference / depth / heatmap / source into the bound framebuffer, inside a
content rectangle (zoom and pan).

A :class:`StereoRenderer` needs a current OpenGL ≥ 3.3 core context; it is used by the viewer
widget and, with an offscreen surface, by tests that read the eyes back with glReadPixels.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from OpenGL import GL

from engine import api
from studio.viewer.modes import MODE_IDS, LiveGrade, ViewState, content_size, delta_range
from studio.viewer.shaders import ShaderError, build_compute, build_program

MAX_SEGMENT_PX = 2.0  # engine.ops.splat: 1 + DISCONTINUITY_PX
MAX_TARGET_SETS = 3  # eye target sets kept (the shown one, a preview size, the size being refined)
COMPUTE_VERSION = (4, 3)
COMPUTE_ROWS = 8  # eyes.comp's local_size_x: rows per work group
BUILDERS = ("compute", "gather")
LINEAR_MODES = frozenset({"anaglyph", "blend"})  # modes that mix the eyes in linear light
# A linear mode whose eyes cover at most this share of the pixels it is drawn on mixes them once at eye
# size (a pass into an 8-bit target) and the view samples that mix, as the left / right modes sample an
# eye: on llvmpipe the anaglyph's per-pixel mix costs ~2.5× a plain sample, so a preview's first picture
# (quarter-width eyes) pays the mix on a sixteenth of the pixels.
MIXED_SHARE = 0.5
STAMP_LIMIT = 1 << 23  # eyes.comp's build stamps stay exact in float32


@dataclass
class _Target:
    """One framebuffer: a colour attachment and, for an eye, an aux (RGBA32F) one; `srgb`: an sRGB view of
    the colour (GL 4.3 texture view: sampling it gives linear light, decoded by the texture unit), or 0."""

    fbo: int
    colour: int
    aux: int | None
    size: tuple[int, int]
    srgb: int = 0


def _texture(internal: int, size: tuple[int, int], fmt: int, kind: int, data=None, linear: bool = True) -> int:
    tex = GL.glGenTextures(1)
    GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
    GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
    GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, internal, size[0], size[1], 0, fmt, kind, data)
    _sampling(linear)
    return tex


def _sampling(linear: bool) -> None:
    """Filter (linear or nearest) and clamp-to-edge wrapping of the bound 2-D texture."""
    filt = GL.GL_LINEAR if linear else GL.GL_NEAREST
    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, filt)
    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, filt)
    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE)
    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)


def _storage(internal: int, size: tuple[int, int], linear: bool = True) -> int:
    """A texture with immutable storage (glTexStorage2D, GL 4.2): what an image unit writes."""
    tex = GL.glGenTextures(1)
    GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
    GL.glTexStorage2D(GL.GL_TEXTURE_2D, 1, internal, size[0], size[1])
    _sampling(linear)
    return tex


def _make_target(size: tuple[int, int], disparity_only: bool = False, immutable: bool = False) -> _Target:
    """An eye target (RGBA8 colour + RGBA32F aux) or, with `disparity_only`, one R32F attachment.

    immutable: storage by glTexStorage2D (the compute builder writes them as images)."""
    srgb = 0
    if disparity_only:
        colour, aux = _texture(GL.GL_R32F, size, GL.GL_RED, GL.GL_FLOAT, linear=False), None
    elif immutable:
        colour, aux = _storage(GL.GL_RGBA8, size), _storage(GL.GL_RGBA32F, size, linear=False)
        # nearest: eyes are built at the size they are shown, so it samples 1:1 like the linear filter, and
        # llvmpipe decodes sRGB per texel before filtering (bilinear would cost four decodes a sample)
        srgb = GL.glGenTextures(1)
        GL.glTextureView(srgb, GL.GL_TEXTURE_2D, colour, GL.GL_SRGB8_ALPHA8, 0, 1, 0, 1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, srgb)
        for name, value in ((GL.GL_TEXTURE_MIN_FILTER, GL.GL_NEAREST), (GL.GL_TEXTURE_MAG_FILTER, GL.GL_NEAREST),
                            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE), (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, name, value)
    else:
        colour = _texture(GL.GL_RGBA8, size, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
        aux = _texture(GL.GL_RGBA32F, size, GL.GL_RGBA, GL.GL_FLOAT, linear=False)
    fbo = GL.glGenFramebuffers(1)
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
    GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, colour, 0)
    if aux is None:
        GL.glDrawBuffers(1, [GL.GL_COLOR_ATTACHMENT0])
    else:
        GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT1, GL.GL_TEXTURE_2D, aux, 0)
        GL.glDrawBuffers(2, [GL.GL_COLOR_ATTACHMENT0, GL.GL_COLOR_ATTACHMENT1])
    status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
    if status != GL.GL_FRAMEBUFFER_COMPLETE:
        raise RuntimeError(f"eye framebuffer incomplete (status 0x{status:x})")
    return _Target(fbo, colour, aux, size, srgb if immutable and not disparity_only else 0)


def _colour_target(size: tuple[int, int]) -> _Target:
    """One RGBA8 colour attachment (linear filter) and its framebuffer: a picture drawn once and sampled."""
    colour = _texture(GL.GL_RGBA8, size, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
    fbo = GL.glGenFramebuffers(1)
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
    GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, colour, 0)
    GL.glDrawBuffers(1, [GL.GL_COLOR_ATTACHMENT0])
    status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
    if status != GL.GL_FRAMEBUFFER_COMPLETE:
        raise RuntimeError(f"mixed-eyes framebuffer incomplete (status 0x{status:x})")
    return _Target(fbo, colour, None, size)


def mixes_at_eye_size(mode: str, eye_size: tuple[int, int], viewport: tuple[int, int],
                      rect: tuple[float, float, float, float]) -> bool:
    """Whether `mode` is drawn from its eyes mixed once at `eye_size` rather than per shown pixel: a
    linear-light mode whose eyes cover at most MIXED_SHARE of the device pixels it is drawn on (the
    content `rect` (x, y, w, h) clipped to the `viewport` (w, h))."""
    if mode not in LINEAR_MODES:
        return False
    shown_w = max(0.0, min(rect[0] + rect[2], viewport[0]) - max(rect[0], 0.0))
    shown_h = max(0.0, min(rect[1] + rect[3], viewport[1]) - max(rect[1], 0.0))
    return eye_size[0] * eye_size[1] <= MIXED_SHARE * shown_w * shown_h


def _free_target(target: _Target) -> None:
    GL.glDeleteFramebuffers(1, [target.fbo])
    if target.srgb:
        GL.glDeleteTextures(1, [target.srgb])
    GL.glDeleteTextures(1, [target.colour])
    if target.aux is not None:
        GL.glDeleteTextures(1, [target.aux])


@dataclass
class _EyeSet:
    """The targets of both eyes at one size: graded disparity and splat results (the gather builder's
    intermediate passes; None / empty for the compute builder), filled eyes."""

    disparity: _Target | None
    splats: list[_Target]
    eyes: list[_Target]

    def free(self) -> None:
        for target in (self.disparity, *self.splats, *self.eyes):
            if target is not None:
                _free_target(target)


def gl_version() -> tuple[int, int]:
    """(major, minor) of the current context."""
    return int(GL.glGetIntegerv(GL.GL_MAJOR_VERSION)), int(GL.glGetIntegerv(GL.GL_MINOR_VERSION))


def bar_pixels(bars, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """(left, right, top, bottom) bar widths in pixels of an eye of `size` (w, h) from engine Bars at
    their own size (Bars.scaled: rounded inward, as the master's); zeros without bars."""
    if bars is None:
        return 0.0, 0.0, 0.0, 0.0
    b = bars.scaled(size)
    return float(b.left), float(b.right), float(b.top), float(b.bottom)


def curved_depth(delta: float, grade: LiveGrade) -> float:
    """common.glsl's depth curve on one value (for the disparity range of a frame)."""
    t = min(max((delta - grade.near) / max(grade.far - grade.near, 1e-6), 0.0), 1.0)
    return t ** grade.gamma


def _uniform_grade(program: int, grade: LiveGrade) -> None:
    GL.glUniform2f(GL.glGetUniformLocation(program, "u_grade"), grade.divergence, grade.convergence)
    GL.glUniform3f(GL.glGetUniformLocation(program, "u_curve"), grade.near, grade.far, grade.gamma)


def restore_qt_state() -> None:
    """Leave the GL state as Qt's own painting (the overlay's QPainter) expects it."""
    GL.glBindVertexArray(0)
    GL.glUseProgram(0)
    for unit in range(4, -1, -1):
        GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glBindSampler(unit, 0)
    GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 4)
    GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 4)


def shown_one_to_one(mode: str, eye_size: tuple[int, int], rect: tuple[float, float, float, float]) -> bool:
    """Whether `mode`'s content (its eyes of `eye_size` arranged as the mode does) fills `rect` (x, y, w, h,
    device pixels) at one eye pixel per device pixel, within half a pixel over the whole width and height."""
    w, h = content_size(mode, *eye_size)
    return abs(abs(rect[2]) - w) < 0.5 and abs(abs(rect[3]) - h) < 0.5  # a rect flipped upside down too


def framebuffer_is_srgb(framebuffer: int) -> bool:
    """Whether the colour buffer `framebuffer` draws into (0: the window's back buffer) stores sRGB, so that
    with GL_FRAMEBUFFER_SRGB on, writes of linear light are encoded on the way in."""
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, framebuffer)
    attachment = GL.GL_BACK_LEFT if framebuffer == 0 else GL.GL_COLOR_ATTACHMENT0
    encoding = GL.glGetFramebufferAttachmentParameteriv(GL.GL_FRAMEBUFFER, attachment,
                                                        GL.GL_FRAMEBUFFER_ATTACHMENT_COLOR_ENCODING)
    return int(encoding) == GL.GL_SRGB


def compute_aux(raw: np.ndarray) -> np.ndarray:
    """eyes.comp's aux (H, W, 4) = (d px, source x px, build stamp, covered) as the gather's (d / W,
    source u, source v, covered); zeros where nothing reached the pixel (source x < 0)."""
    h, w = raw.shape[:2]
    out = np.empty_like(raw)
    out[..., 0] = raw[..., 0] / w
    out[..., 1] = (raw[..., 1] + 0.5) / w
    out[..., 2] = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
    out[..., 3] = raw[..., 3]
    out[raw[..., 1] < 0] = 0.0
    return out


def fill_search(grade: LiveGrade, width: int) -> int:
    """Longest hole run the fill searches across, eye pixels: the grade's whole disparity span + 4."""
    return int(np.ceil(grade.divergence / 100.0 * width)) + 4


class StereoRenderer:
    """GL resources and passes of the stereo viewer (create and use with its context current).

    builder: ``compute``, ``gather`` or ``auto`` (compute where the context has OpenGL 4.3, else gather).
    """

    def __init__(self, builder: str = "auto") -> None:
        if builder not in (*BUILDERS, "auto"):
            raise ValueError(f"builder must be one of {BUILDERS} or 'auto', not {builder!r}")
        has_compute = gl_version() >= COMPUTE_VERSION
        if builder == "compute" and not has_compute:
            raise RuntimeError("the compute eye builder needs OpenGL 4.3, found {}.{}".format(*gl_version()))
        self.builder = builder if builder != "auto" else ("compute" if has_compute else "gather")
        self.eyes_program = 0  # eyes.comp for a linear depth curve (gamma 1, the default); the other on first use
        self._eyes_programs: dict[bool, int] = {}  # curve is linear -> eyes.comp built for it
        if self.builder == "compute":
            try:
                self.eyes_program = self._eyes_for(True)
            except ShaderError:
                if builder == "compute":
                    raise
                self.builder = "gather"  # a 4.3 driver that cannot build it: the fragment path still works
        self.disparity = build_program("fullscreen.vert", "disparity.frag")
        self.splat = build_program("fullscreen.vert", "splat.frag")
        self.fill = build_program("fullscreen.vert", "fill.frag")
        self.bars = None  # engine Bars of the frame's shot (d = 0 on them), or None
        self._stamp = 0
        self._compose: dict[int, int] = {}  # one program per mode (compose.frag's COMPOSE_MODE), made on first use
        self.compose_program(MODE_IDS["anaglyph"])
        self.vao = GL.glGenVertexArrays(1)
        # eyes shown 1:1 (they are built at the size they are shown) are sampled nearest: the same pixels
        # as the linear filter there, at ~60-70 % of its cost on llvmpipe; a sampler object, so the eye
        # textures keep their own linear filter for anything else that samples them (the headset)
        self.nearest = GL.glGenSamplers(1)
        for name, value in ((GL.GL_TEXTURE_MIN_FILTER, GL.GL_NEAREST), (GL.GL_TEXTURE_MAG_FILTER, GL.GL_NEAREST),
                            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE), (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)):
            GL.glSamplerParameteri(self.nearest, name, value)
        self.eye_size: tuple[int, int] | None = None
        self.delta_range = (0.0, 1.0)
        self.disparity_target: _Target | None = None
        self.image_tex: int | None = None
        self.delta_tex: int | None = None
        self.frame_size: tuple[int, int] | None = None
        self.delta_size: tuple[int, int] | None = None
        self.splat_targets: list[_Target] = []
        self.eye_targets: list[_Target] = []  # of the shown set (eye_size); the headset shares these
        self._sets: OrderedDict[tuple[int, int], _EyeSet] = OrderedDict()
        self.master_eyes: list[int] = []
        self.master_size: tuple[int, int] | None = None
        self._eyes_serial = 0  # counts changes of the shown eyes' pixels (a build, or another set shown)
        self._mixed: _Target | None = None  # a linear mode's eyes mixed at eye size (mixes_at_eye_size)
        self._mixed_key: tuple | None = None

    def _eyes_for(self, linear_curve: bool) -> int:
        """eyes.comp built for a linear depth curve (gamma 1: no pow per pixel, a third of the build on
        llvmpipe) or for any gamma; each compiled on first use."""
        program = self._eyes_programs.get(linear_curve)
        if program is None:
            program = self._eyes_programs[linear_curve] = build_compute("eyes.comp",
                                                                        {"CURVE_LINEAR": int(linear_curve)})
        return program

    # ---------------------------------------------------------------- inputs

    def set_frame(self, rgb: np.ndarray, delta: np.ndarray, d_range: tuple[float, float] | None = None) -> None:
        """Upload the frame (H, W, 3) uint8/uint16 sRGB and its δ (h, w) float (any size).

        d_range: δ's finite (min, max) when the caller has it (worked out here otherwise).
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"frame must be (H, W, 3), got {rgb.shape}")
        if delta.ndim != 2:
            raise ValueError(f"depth must be (H, W), got {delta.shape}")
        rgb = np.ascontiguousarray(rgb)
        kind = GL.GL_UNSIGNED_SHORT if rgb.dtype == np.uint16 else GL.GL_UNSIGNED_BYTE
        internal = GL.GL_RGB16 if rgb.dtype == np.uint16 else GL.GL_RGB8
        self.image_tex = self._upload(self.image_tex, rgb, (rgb.shape[1], rgb.shape[0]), "frame_size",
                                      internal, GL.GL_RGB, kind)
        delta = np.ascontiguousarray(delta, dtype=np.float32)
        self.delta_range = d_range if d_range is not None else delta_range(delta)
        self.delta_tex = self._upload(self.delta_tex, delta, (delta.shape[1], delta.shape[0]), "delta_size",
                                      GL.GL_R32F, GL.GL_RED, GL.GL_FLOAT)

    def _upload(self, tex: int | None, data: np.ndarray, size: tuple[int, int], attr: str,
                internal: int, fmt: int, kind: int) -> int:
        if tex is None or getattr(self, attr) != size:
            if tex is not None:
                GL.glDeleteTextures(1, [tex])
            setattr(self, attr, size)
            return _texture(internal, size, fmt, kind, data)
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, size[0], size[1], fmt, kind, data)
        return tex

    def set_bars(self, bars) -> None:
        """The letterbox / pillarbox bars of the uploaded frame (engine.ops.bars.Bars at any size, as the
        session's ``bars(n)`` gives them) or None: the eyes put them at d = 0, as the master does."""
        self.bars = bars if bars is not None and bars.any else None

    def set_master_eyes(self, left: np.ndarray | None, right: np.ndarray | None) -> None:
        """Upload the master-path eyes (H, W, 3) to show instead of the live ones (None clears them)."""
        if self.master_eyes:
            GL.glDeleteTextures(len(self.master_eyes), self.master_eyes)
        self.master_eyes, self.master_size = [], None
        if left is None or right is None:
            return
        for eye in (left, right):
            eye8 = (eye >> 8).astype(np.uint8) if eye.dtype == np.uint16 else eye
            size = (eye8.shape[1], eye8.shape[0])
            self.master_eyes.append(_texture(GL.GL_RGB8, size, GL.GL_RGB, GL.GL_UNSIGNED_BYTE,
                                             np.ascontiguousarray(eye8)))
        self.master_size = (left.shape[1], left.shape[0])

    @property
    def has_frame(self) -> bool:
        return self.image_tex is not None and self.delta_tex is not None

    # ---------------------------------------------------------------- eyes

    def _target_set(self, size: tuple[int, int]) -> _EyeSet:
        """The eye targets at `size`, made on first use; the least recently used set beyond two is freed."""
        eyes = self._sets.pop(size, None)
        if eyes is None and self.builder == "compute":
            eyes = _EyeSet(None, [], [_make_target(size, immutable=True) for _ in range(2)])
        elif eyes is None:
            eyes = _EyeSet(_make_target(size, disparity_only=True), [_make_target(size) for _ in range(2)],
                           [_make_target(size) for _ in range(2)])
        self._sets[size] = eyes
        while len(self._sets) > MAX_TARGET_SETS:
            old_size, old = next(iter(self._sets.items()))
            if old_size == self.eye_size:  # never the shown one
                self._sets.move_to_end(old_size)
                continue
            del self._sets[old_size]
            old.free()
        return eyes

    def show(self, size: tuple[int, int]) -> None:
        """Compose from (and share) the eyes last built at `size`."""
        eyes = self._sets[size]
        self.disparity_target, self.splat_targets, self.eye_targets = eyes.disparity, eyes.splats, eyes.eyes
        self.eye_size = size
        self._eyes_serial += 1

    def _free_targets(self) -> None:
        for eyes in self._sets.values():
            eyes.free()
        self._sets.clear()
        self.splat_targets, self.eye_targets, self.disparity_target, self.eye_size = [], [], None, None
        if self._mixed is not None:
            _free_target(self._mixed)
        self._mixed, self._mixed_key = None, None
        self._eyes_serial += 1

    def disparity_range(self, grade: LiveGrade, width: int) -> tuple[float, float]:
        """(min, max) disparity in eye pixels over the uploaded δ (the curve is monotonic)."""
        ends = [width * grade.divergence / 100.0 * (grade.convergence - curved_depth(v, grade))
                for v in self.delta_range]
        return min(ends), max(ends)

    def render_eyes(self, size: tuple[int, int], grade: LiveGrade, rows: tuple[int, int] | None = None,
                    show: bool = True) -> None:
        """Build both eyes at `size` (eye pixels) from the uploaded frame with `grade`.

        rows: only eye rows [y0, y1) (a band: every pass works row by row, so bands built one after
        another give exactly the whole picture); None = all of them.
        show: compose from these eyes from now on (a band build usually waits for its last band).
        """
        if not self.has_frame:
            raise RuntimeError("no frame uploaded")
        eyes = self._target_set(size)
        self._eyes_serial += 1  # these targets may be the shown ones (a rebuild in place)
        if self.builder == "compute":
            self._compute_eyes(eyes, size, grade, rows or (0, size[1]))
            if show:
                self.show(size)
            return
        GL.glViewport(0, 0, size[0], size[1])
        GL.glDisable(GL.GL_BLEND)
        GL.glDisable(GL.GL_DEPTH_TEST)
        if rows is not None:
            GL.glEnable(GL.GL_SCISSOR_TEST)
            GL.glScissor(0, rows[0], size[0], rows[1] - rows[0])
        GL.glBindVertexArray(self.vao)
        self._disparity_pass(eyes.disparity, size, grade)
        d_range = self.disparity_range(grade, size[0])
        if self.bars is not None:  # the bars' d = 0 is in the range too
            d_range = (min(d_range[0], 0.0), max(d_range[1], 0.0))
        search = fill_search(grade, size[0])
        for i, scale in enumerate((-0.5, 0.5)):
            self._splat_pass(eyes.disparity, eyes.splats[i], scale, d_range)
            self._fill_pass(eyes.splats[i], eyes.eyes[i], scale, search)
        GL.glBindVertexArray(0)
        GL.glDisable(GL.GL_SCISSOR_TEST)
        if show:
            self.show(size)

    def _compute_eyes(self, eyes: _EyeSet, size: tuple[int, int], grade: LiveGrade, rows: tuple[int, int]) -> None:
        """eyes.comp over eye rows [y0, y1) of both eyes; the results are visible to every later GL read."""
        p = self._eyes_for(grade.gamma == 1.0)
        GL.glUseProgram(p)
        self._bind(p, "u_delta", 0, self.delta_tex)
        self._bind(p, "u_image", 1, self.image_tex)
        _uniform_grade(p, grade)
        GL.glUniform4f(GL.glGetUniformLocation(p, "u_bars"), *bar_pixels(self.bars, size))
        GL.glUniform1f(GL.glGetUniformLocation(p, "u_max_len"), MAX_SEGMENT_PX)
        GL.glUniform1i(GL.glGetUniformLocation(p, "u_search"), fill_search(grade, size[0]))
        GL.glUniform2i(GL.glGetUniformLocation(p, "u_rows"), rows[0], rows[1])
        self._stamp = self._stamp % STAMP_LIMIT + 1  # a new stamp: whatever an earlier build left is empty
        GL.glUniform1f(GL.glGetUniformLocation(p, "u_stamp"), float(self._stamp))
        groups = max(1, -(-(rows[1] - rows[0]) // COMPUTE_ROWS))
        for i, target in enumerate(eyes.eyes):  # eye e: image units 2e (colour) and 2e + 1 (aux)
            GL.glBindImageTexture(2 * i, target.colour, 0, GL.GL_FALSE, 0, GL.GL_WRITE_ONLY, GL.GL_RGBA8)
            GL.glBindImageTexture(2 * i + 1, target.aux, 0, GL.GL_FALSE, 0, GL.GL_READ_WRITE, GL.GL_RGBA32F)
        GL.glDispatchCompute(groups, 1, 1)  # both eyes: each row's disparity is worked out once
        GL.glMemoryBarrier(GL.GL_ALL_BARRIER_BITS)
        GL.glUseProgram(0)

    def _disparity_pass(self, target: _Target, size: tuple[int, int], grade: LiveGrade) -> None:
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, target.fbo)
        p = self.disparity
        GL.glUseProgram(p)
        self._bind(p, "u_delta", 0, self.delta_tex)
        _uniform_grade(p, grade)
        GL.glUniform4f(GL.glGetUniformLocation(p, "u_bars"), *bar_pixels(self.bars, size))
        GL.glUniform1f(GL.glGetUniformLocation(p, "u_eye_width"), float(size[0]))
        GL.glUniform1f(GL.glGetUniformLocation(p, "u_eye_height"), float(size[1]))
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)

    def _splat_pass(self, disparity: _Target, target: _Target, scale: float, d_range: tuple[float, float]) -> None:
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, target.fbo)
        p = self.splat
        GL.glUseProgram(p)
        self._bind(p, "u_disparity", 0, disparity.colour)
        self._bind(p, "u_image", 1, self.image_tex)
        GL.glUniform1f(GL.glGetUniformLocation(p, "u_scale"), scale)
        GL.glUniform1f(GL.glGetUniformLocation(p, "u_max_len"), MAX_SEGMENT_PX)
        GL.glUniform2f(GL.glGetUniformLocation(p, "u_range"), *d_range)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)

    def _fill_pass(self, source: _Target, target: _Target, scale: float, search: int) -> None:
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, target.fbo)
        p = self.fill
        GL.glUseProgram(p)
        self._bind(p, "u_colour", 0, source.colour)
        self._bind(p, "u_aux", 1, source.aux)
        GL.glUniform1i(GL.glGetUniformLocation(p, "u_search"), search)
        GL.glUniform1i(GL.glGetUniformLocation(p, "u_prefer_right"), int(scale > 0))
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)

    @staticmethod
    def _bind(program: int, name: str, unit: int, tex: int) -> None:
        GL.glActiveTexture(GL.GL_TEXTURE0 + unit)
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        GL.glUniform1i(GL.glGetUniformLocation(program, name), unit)

    def read_eye(self, eye: int) -> tuple[np.ndarray, np.ndarray]:
        """Read an eye back (glReadPixels): colour (H, W, 4) uint8 and aux (H, W, 4) float32.

        aux = (d / W, source u, source v, covered); row 0 is the image's top row.
        """
        target = self.eye_targets[eye]
        w, h = target.size
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, target.fbo)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT0)
        colour = GL.glReadPixels(0, 0, w, h, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
        GL.glReadBuffer(GL.GL_COLOR_ATTACHMENT1)
        aux = GL.glReadPixels(0, 0, w, h, GL.GL_RGBA, GL.GL_FLOAT)
        colour = np.frombuffer(colour, np.uint8).reshape(h, w, 4).copy()
        aux = np.frombuffer(aux, np.float32).reshape(h, w, 4).copy()
        return colour, (compute_aux(aux) if self.builder == "compute" else aux)

    # ---------------------------------------------------------------- composition

    def compose_program(self, mode_id: int, srgb_eyes: bool = False, srgb_out: bool = False) -> int:
        """The composition program of one mode (compiled on first use: only that mode's code).

        srgb_eyes: the eyes are bound through their sRGB views (already linear light when sampled).
        srgb_out: a linear-light mode writes linear light into an sRGB framebuffer (GL_FRAMEBUFFER_SRGB on:
        the blender encodes)."""
        key = (mode_id, srgb_eyes, srgb_out)
        program = self._compose.get(key)
        if program is None:
            defines = {"COMPOSE_MODE": mode_id, "SRGB_EYES": int(srgb_eyes), "SRGB_OUT": int(srgb_out)}
            program = self._compose[key] = build_program("view.vert", "compose.frag", defines)
        return program

    def draw(self, framebuffer: int, viewport: tuple[int, int], rect: tuple[float, float, float, float],
             state: ViewState) -> None:
        """Compose `state`'s mode into `framebuffer` (e.g. the widget's) inside `rect` (x, y, w, h, px)."""
        if self.has_frame and self.eye_size is not None and self.eye_targets and not self._shows_master(state) \
                and mixes_at_eye_size(state.shown_mode, self.eye_size, viewport, rect):
            mixed = self._mixed_eyes(state)
            self._clear(framebuffer, viewport)
            p = self.compose_program(MODE_IDS["left"])
            GL.glUseProgram(p)
            self._bind(p, "u_left", 0, mixed.colour)
            self._bind(p, "u_right", 1, mixed.colour)
            self._bind(p, "u_image", 2, self.image_tex)
            self._bind(p, "u_delta", 3, self.delta_tex)
            self._set_uniforms(p, state, viewport, rect)
            GL.glBindVertexArray(self.vao)
            GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
            restore_qt_state()
            return
        self._clear(framebuffer, viewport)
        if not self.has_frame:
            restore_qt_state()
            return
        self._compose_mode(framebuffer, viewport, rect, state)
        restore_qt_state()

    def _shows_master(self, state: ViewState) -> bool:
        return state.show_master and len(self.master_eyes) == 2

    @staticmethod
    def _clear(framebuffer: int, viewport: tuple[int, int]) -> None:
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, framebuffer)
        GL.glViewport(0, 0, viewport[0], viewport[1])
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glClearColor(0.07, 0.07, 0.08, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)

    def _mixed_eyes(self, state: ViewState) -> _Target:
        """The shown eyes mixed by `state`'s linear mode at eye size, sRGB-encoded (drawn when the eyes,
        the mode or the eye swap changed since the last mix)."""
        key = (self._eyes_serial, self.eye_size, state.shown_mode, state.swap_eyes)
        if self._mixed is None or self._mixed.size != self.eye_size:
            if self._mixed is not None:
                _free_target(self._mixed)
            self._mixed, self._mixed_key = _colour_target(self.eye_size), None
        if key != self._mixed_key:
            w, h = self.eye_size
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self._mixed.fbo)
            GL.glViewport(0, 0, w, h)
            GL.glDisable(GL.GL_DEPTH_TEST)
            GL.glDisable(GL.GL_BLEND)
            # one fragment per eye pixel, at its centre: the eyes' own pixels (nearest), encoded by the shader;
            # the rect upside down, so the mix's first row is the picture's top, as in every texture here
            self._compose_mode(self._mixed.fbo, (w, h), (0.0, float(h), float(w), -float(h)), state, encode=False)
            self._mixed_key = key
        return self._mixed

    def _compose_mode(self, framebuffer: int, viewport: tuple[int, int], rect: tuple[float, float, float, float],
                 state: ViewState, encode: bool | None = None) -> None:
        """Draw `state`'s mode from the eyes (or the master's) into the bound `framebuffer` inside `rect`.

        encode: a linear mode's output goes through the framebuffer's sRGB encoding (None: when it has
        one) or the shader's (False)."""
        use_master = self._shows_master(state)
        mode = state.shown_mode
        views = not use_master and mode in LINEAR_MODES and bool(self.eye_targets) and bool(self.eye_targets[0].srgb)
        if encode is None:
            encode = mode in LINEAR_MODES and framebuffer_is_srgb(framebuffer)
        encode = encode and mode in LINEAR_MODES
        p = self.compose_program(MODE_IDS[mode], views, encode)
        GL.glUseProgram(p)
        if use_master:
            left, right = self.master_eyes
        elif self.eye_targets:
            left, right = (t.srgb if views else t.colour for t in self.eye_targets)
        else:
            left = right = 0
        self._bind(p, "u_left", 0, left)
        self._bind(p, "u_right", 1, right)
        if not use_master and self.eye_size is not None and shown_one_to_one(mode, self.eye_size, rect):
            GL.glBindSampler(0, self.nearest)
            GL.glBindSampler(1, self.nearest)
        self._bind(p, "u_image", 2, self.image_tex)
        self._bind(p, "u_delta", 3, self.delta_tex)
        self._set_uniforms(p, state, viewport, rect)
        GL.glBindVertexArray(self.vao)
        if encode:
            GL.glEnable(GL.GL_FRAMEBUFFER_SRGB)
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
        if encode:
            GL.glDisable(GL.GL_FRAMEBUFFER_SRGB)
        GL.glBindSampler(0, 0)
        GL.glBindSampler(1, 0)

    @staticmethod
    def _set_uniforms(p: int, state: ViewState, viewport: tuple[int, int],
                      rect: tuple[float, float, float, float]) -> None:
        _uniform_grade(p, state.grade)
        # numpy row-major matrices; GLSL mat3 is column-major, so transpose on upload.
        for name, matrix in (("u_dubois_left", api.DUBOIS_LEFT), ("u_dubois_right", api.DUBOIS_RIGHT)):
            GL.glUniformMatrix3fv(GL.glGetUniformLocation(p, name), 1, GL.GL_TRUE,
                                  np.asarray(matrix, np.float32))
        budget = state.budget
        GL.glUniform2f(GL.glGetUniformLocation(p, "u_budget"), budget.low, budget.high)
        GL.glUniform1f(GL.glGetUniformLocation(p, "u_divergence_limit"), budget.divergence_limit)
        GL.glUniform1i(GL.glGetUniformLocation(p, "u_swap"), int(state.swap_eyes))
        GL.glUniform1f(GL.glGetUniformLocation(p, "u_stripe"), 8.0)
        GL.glUniform2f(GL.glGetUniformLocation(p, "u_viewport"), float(viewport[0]), float(viewport[1]))
        GL.glUniform4f(GL.glGetUniformLocation(p, "u_rect"), *map(float, rect))

    # ---------------------------------------------------------------- teardown

    def release(self) -> None:
        """Free every GL object (the context must be current)."""
        self._free_targets()
        textures = [t for t in (self.image_tex, self.delta_tex, *self.master_eyes) if t is not None]
        if textures:
            GL.glDeleteTextures(len(textures), textures)
        self.image_tex = self.delta_tex = None
        self.master_eyes = []
        GL.glDeleteVertexArrays(1, [self.vao])
        GL.glDeleteSamplers(1, [self.nearest])
        for program in (self.disparity, self.splat, self.fill, *self._compose.values()):
            GL.glDeleteProgram(program)
        for program in self._eyes_programs.values():
            GL.glDeleteProgram(program)
        self._eyes_programs.clear()
        self.eyes_program = 0
        self._compose.clear()
