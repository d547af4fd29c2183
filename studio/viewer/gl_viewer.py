"""The GPU viewer widget: a QOpenGLWindow in a window container that builds both eyes live with the
shaders of ``shaders/``.

Why a window and not a QOpenGLWidget: one QOpenGLWidget makes Qt compose the whole top-level window
through OpenGL on every repaint of any widget in it (on llvmpipe ~50 ms per timeline or inspector
repaint), while a native GL window inside ``QWidget.createWindowContainer`` swaps on its own and the
rest of the window stays on the raster backing store (~1.4 ms). :class:`GlViewer` is the QWidget the
studio holds (focus, event filters, cursor, size); its :class:`GlSurface` child window does the GL
work and forwards the pointer's events to it, so gestures (zoom, pan, the depth brush's event filter)
see the same events as on any widget. What draws over the picture (the overlay, the depth brush's
layer: :attr:`GlViewer.overlay_painters`) is painted inside the GL window, which stacks over every
sibling widget.

Dragging a keyframe only changes uniforms: the eyes are rebuilt on the GPU from the frame and
δ textures already there, with no round trip to the engine. The eyes are rendered at the size
they are shown (capped at the source size), so a 1080p source in a 1280-pixel view costs a
1280-pixel eye.

Progressive eyes: where building both eyes at the shown size costs more than a frame's budget
(software GL, a small GPU, a 4K source), a change (new frame, grade, zoom) is first shown from
eyes built at a preview size that fits what :data:`FRAME_BUDGET_MS` leaves after a margin and the paint's own cost
(composition, overlay and swap, measured; :class:`BuildCost`); once nothing new has been asked
for :data:`REFINE_SETTLE_MS` (a keyframe drag or a scrub settled: while it goes on, each step costs
only a preview and the cores stay with it), the full-size eyes are built in bands of rows between
events (each band ≤ :data:`BAND_BUDGET_MS`), replacing the preview when the last band is done.
The UI thread never waits for a whole full-size build, a scrub or a slider drag keeps up, and the
picture that stays on screen is the exact one. During playback
(:meth:`set_playing`) the preview alone is shown; the full size follows when playback stops. On a
GPU where a full build fits the budget, it is built at once and nothing changes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QSurfaceFormat, QWheelEvent
from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLPaintDevice, QOpenGLWindow
from PySide6.QtWidgets import QWidget

from studio.viewer.base import ViewerControls
from studio.viewer.modes import EYE_MODES, FrameData, ViewState
from studio.viewer.overlay import paint_overlay, warm_glyph_cache

GL_VERSION = (3, 3)
FRAME_BUDGET_MS = 16.0  # a change on screen within one 60 Hz frame: the preview build and the paint's own cost
FRAME_MARGIN_MS = 3.0  # left free in that frame: a build or a paint on a shared machine runs ~20 % over its
# estimate now and then, and a budget planned to the full frame put half the pictures over it
PREVIEW_BUDGET_MS = 12.0  # the most a preview build may take; during playback, what it may take (see BuildCost.budget)
MIN_PREVIEW_BUDGET_MS = 4.0  # the least, however much the paint itself costs
BAND_BUDGET_MS = 20.0  # one band of the full-size build, between two events
REFINE_SETTLE_MS = 120  # the full-size build starts once nothing new was asked for this long (a drag settled)
MIN_PREVIEW_SCALE = 0.25
PREVIEW_SCALES = tuple(2.0 ** (-k / 4.0) for k in range(1, 9))  # quarter-octave steps, 0.84 … 0.25
FIRST_BUILD_PIXELS = 640 * 360  # larger eyes, with no build measured yet, start from a quarter-size preview
COST_EXPONENT = 1.0  # build time ∝ eye pixels (llvmpipe, reused targets: 16× the pixels, 14.8× the time)
OVERHEAD_SMOOTHING = 0.3  # weight of the newest paint in the paint-overhead average


class BuildCost:
    """A running model of the eyes' build time, ms ≈ k · (w · h)^COST_EXPONENT with k from measured builds,
    and of what a paint costs besides the build (composition, overlay, the swap), which decides how much
    of the frame budget a preview may take.

    Previews come in the fixed sizes of :data:`PREVIEW_SCALES`, so a drag or playback keeps building into
    the same targets (a target's first build costs more: llvmpipe allocates it then) and the preview does
    not change size from one picture to the next.
    """

    def __init__(self) -> None:
        self.k: float | None = None
        self._preview_overhead: float | None = None
        self._other_overhead: float | None = None

    @staticmethod
    def _work(size: tuple[int, int], rows: int | None = None) -> float:
        w, h = size
        return float(w * h) ** COST_EXPONENT * ((rows if rows is not None else h) / h)

    def measured(self, size: tuple[int, int], ms: float, rows: int | None = None) -> None:
        k = ms / max(self._work(size, rows), 1.0)
        self.k = k if self.k is None else 0.5 * self.k + 0.5 * k

    def painted(self, paint_ms: float, build_ms: float, preview: bool = False) -> None:
        """A paint took `paint_ms` (swap included), `build_ms` of it building eyes; `preview`: it showed a
        preview it had just built. Those paints alone set the overhead once there are any (measured: they
        cost ~3 ms more besides the build than a paint of eyes already built, which would overrun the
        budget by as much)."""
        overhead = max(0.0, paint_ms - build_ms)
        if preview:
            self._preview_overhead = overhead if self._preview_overhead is None else \
                (1.0 - OVERHEAD_SMOOTHING) * self._preview_overhead + OVERHEAD_SMOOTHING * overhead
        else:
            self._other_overhead = overhead if self._other_overhead is None else \
                (1.0 - OVERHEAD_SMOOTHING) * self._other_overhead + OVERHEAD_SMOOTHING * overhead

    @property
    def overhead_ms(self) -> float | None:
        """ms a paint costs besides building eyes (None: no paint measured yet)."""
        return self._preview_overhead if self._preview_overhead is not None else self._other_overhead

    def estimate(self, size: tuple[int, int], rows: int | None = None) -> float | None:
        return None if self.k is None else self.k * self._work(size, rows)

    def budget(self, playing: bool = False) -> float:
        """ms a preview build may take: what the frame budget leaves after the paint's own cost.

        playing: the pictures come at the clip's rate, not at 60 Hz, and the cores also decode and
        read δ for them: PREVIEW_BUDGET_MS (measured: 24 fps playback of a 1080p clip at 1050-pixel
        eyes keeps up on 2 cores with llvmpipe)."""
        if playing or self.overhead_ms is None:
            return PREVIEW_BUDGET_MS
        return min(PREVIEW_BUDGET_MS, max(MIN_PREVIEW_BUDGET_MS, FRAME_BUDGET_MS - FRAME_MARGIN_MS - self.overhead_ms))

    def preview_size(self, size: tuple[int, int], playing: bool = False) -> tuple[int, int]:
        """The largest preview size (a step of PREVIEW_SCALES, same aspect) whose build fits the budget."""
        if self.k is None:
            return self._scaled(size, MIN_PREVIEW_SCALE)  # nothing measured yet: start small
        budget = self.budget(playing)
        for scale in PREVIEW_SCALES:
            scaled = self._scaled(size, scale)
            if self.estimate(scaled) <= budget:
                return scaled
        return self._scaled(size, MIN_PREVIEW_SCALE)

    @staticmethod
    def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
        w = max(2, round(size[0] * scale))
        return w, max(2, round(w * size[1] / size[0]))

    def band_rows(self, size: tuple[int, int]) -> int:
        """Rows per band of a full-size build that fit BAND_BUDGET_MS."""
        per_row = (self.estimate(size) or 0.0) / size[1]
        return size[1] if per_row <= 0 else max(8, min(size[1], int(BAND_BUDGET_MS / per_row)))


def gl_format() -> QSurfaceFormat:
    """The context the viewer asks for: OpenGL 3.3 core, no multisampling, vsync off."""
    fmt = QSurfaceFormat()
    fmt.setVersion(*GL_VERSION)
    fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
    fmt.setDepthBufferSize(0)
    fmt.setSwapInterval(0)
    return fmt


@dataclass
class _Refine:
    """A full-size build in progress: what it is for and the next row to build."""

    key: tuple
    size: tuple[int, int]
    grade: object
    next_row: int = 0


_FORWARDED = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick,
              QEvent.Type.MouseMove, QEvent.Type.Wheel, QEvent.Type.Enter, QEvent.Type.Leave)


class GlSurface(QOpenGLWindow):
    """The native GL window inside a :class:`GlViewer`: its GL calls go to the viewer, its input to the
    viewer widget (same coordinates: the window covers the widget exactly). It never takes the keyboard
    focus, so shortcuts and key presses stay with the widget tree."""

    def __init__(self, owner: GlViewer) -> None:
        super().__init__(QOpenGLWindow.UpdateBehavior.NoPartialUpdate)
        self.owner = owner
        self.setFormat(gl_format())
        self.setFlag(Qt.WindowType.WindowDoesNotAcceptFocus, True)

    def initializeGL(self) -> None:
        self.owner._initialize_gl()

    def paintGL(self) -> None:
        self.owner._paint_gl(self.defaultFramebufferObject(), self)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.UpdateRequest:  # the paint and the swap: timed for the preview budget
            t = time.perf_counter()
            handled = super().event(event)
            self.owner._painted((time.perf_counter() - t) * 1000.0)
            return handled
        if event.type() in _FORWARDED:
            forwarded = _copy_event(event)
            if event.type() == QEvent.Type.MouseButtonPress:
                self.owner.setFocus(Qt.FocusReason.MouseFocusReason)
            QCoreApplication.sendEvent(self.owner, forwarded)
            event.setAccepted(forwarded.isAccepted())
            return True
        return super().event(event)


def _copy_event(event: QEvent) -> QEvent:
    """A copy of a pointer event for the viewer widget (positions unchanged: the surface covers it)."""
    if isinstance(event, QWheelEvent):
        return QWheelEvent(event.position(), event.globalPosition(), event.pixelDelta(), event.angleDelta(),
                           event.buttons(), event.modifiers(), event.phase(), event.inverted())
    if isinstance(event, QMouseEvent):
        return QMouseEvent(event.type(), event.position(), event.scenePosition(), event.globalPosition(),
                           event.button(), event.buttons(), event.modifiers())
    return QEvent(event.type())


class GlViewer(ViewerControls, QWidget):
    """Stereo viewer on the GPU (a widget holding a :class:`GlSurface`).

    Signals:
        frame_drawn(int): a paint finished showing source frame n as it is (full-size eyes).
        preview_drawn(int): a paint showed frame n from preview-size eyes (the full size follows).
        gl_failed(str): no usable OpenGL 3.3 context or a shader failed (the panel falls back to the CPU).
    """

    frame_drawn = Signal(int)
    preview_drawn = Signal(int)
    gl_failed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._init_controls()
        self.surface = GlSurface(self)
        self.container = QWidget.createWindowContainer(self.surface, self)
        self.container.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.container.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.container.setGeometry(self.rect())
        # what draws over the picture after the viewer's own overlay: callables painter -> None, in
        # widget coordinates (the depth brush's layer registers here: child widgets would be hidden)
        self.overlay_painters: list[Callable[[QPainter], None]] = []
        self.renderer = None
        self._uploaded: int | None = None
        self._pending_frame = False
        self._pending_master: tuple | None = None
        self._eyes_key: tuple | None = None  # (frame, size, grade) of the eyes shown now
        self._refine: _Refine | None = None  # the full-size build in progress, band by band
        self._preview_shown = False
        self.cost = BuildCost()
        self.progressive = True  # False: always build the full size at once (tests of exact timing)
        self.last_eyes_ms = 0.0  # the last build (preview, full or band), ms
        self.last_paint_ms = 0.0
        self.bands_built = 0  # bands of full-size builds so far (how much refining a drag cost)
        self._settle = QTimer(self, singleShot=True, interval=REFINE_SETTLE_MS, timeout=self._start_refine)
        # the headset preview's GPU share (studio.xr.controller): called with this context current as
        # hook(left_tex, right_tex, (w, h), key, frame_index) whenever the shown eyes are new; while set,
        # the eyes are built at the source size in every mode (the headset shows them whole)
        self.eyes_hook = None
        self._master_serial = 0
        self._glyphs_warm = None  # the GL context whose glyph cache holds the overlay's glyphs
        self._paint_build_ms = 0.0  # ms of the paint under way spent building eyes
        self._painted_frame = False  # the last paint showed a picture (its cost informs the budget)
        self._paint_built_preview = False  # ... and it built the preview it showed

    # ---------------------------------------------------------------- inputs

    def set_frame(self, frame: FrameData) -> None:
        self.frame = frame
        self._pending_frame = True
        self.update()

    def set_state(self, state: ViewState) -> None:
        self.state = state
        self.update()

    def set_master_eyes(self, left, right) -> None:
        """The master-path eyes of the current frame (None, None clears them)."""
        self._pending_master = (left, right)
        self.update()

    # ---------------------------------------------------------------- GL

    def update(self) -> None:
        """Schedule a paint of the GL window (the widget itself shows nothing but the window)."""
        self.surface.update()

    def repaint(self) -> None:
        """Paint the GL window now (as QWidget.repaint: before returning)."""
        self.surface.update()
        if self.surface.isExposed():
            QCoreApplication.sendEvent(self.surface, QEvent(QEvent.Type.UpdateRequest))

    def resizeEvent(self, event) -> None:
        self.container.setGeometry(self.rect())
        super().resizeEvent(event)

    def setCursor(self, cursor) -> None:
        super().setCursor(cursor)
        self.surface.setCursor(cursor)

    def context(self):
        return self.surface.context()

    def isValid(self) -> bool:
        return self.surface.isValid()

    def makeCurrent(self) -> None:
        self.surface.makeCurrent()

    def doneCurrent(self) -> None:
        self.surface.doneCurrent()

    def grabFramebuffer(self) -> QImage:
        """What the viewer shows now (picture and overlays), rendered into a framebuffer and read back."""
        if not self.isValid():
            return QImage()
        dpr = self.devicePixelRatioF()
        size = (max(1, round(self.width() * dpr)), max(1, round(self.height() * dpr)))
        self.makeCurrent()
        try:
            fbo = QOpenGLFramebufferObject(*size)
            fbo.bind()
            device = QOpenGLPaintDevice(*size)
            device.setDevicePixelRatio(dpr)
            self._paint_gl(fbo.handle(), device, emit=False)
            image = fbo.toImage()
            fbo.release()
            del fbo
        finally:
            self.doneCurrent()
        return image

    def _initialize_gl(self) -> None:
        version = self.context().format().version() if self.context() else (0, 0)
        if tuple(version) < GL_VERSION:
            self._fail(f"OpenGL {version[0]}.{version[1]} found, the viewer needs 3.3")
            return
        try:
            from studio.viewer.gl_renderer import StereoRenderer

            self.renderer = StereoRenderer()
        except Exception as exc:  # a driver without what the shaders need: fall back, say why
            self._fail(f"OpenGL viewer unavailable ({' '.join(str(exc).split())[:200]})")


    def _fail(self, reason: str) -> None:
        self.failure = reason
        QTimer.singleShot(0, lambda: self.gl_failed.emit(reason))

    def release_gl(self) -> None:
        """Free the GL objects while the widget and its context are alive (the window's shutdown)."""
        if self.renderer is not None and self.context() is not None and self.isValid():
            self.makeCurrent()
            self.renderer.release()
            self.doneCurrent()
        self.renderer = None

    def eye_size(self) -> tuple[int, int]:
        """The eyes are built at their displayed size, at most the source size."""
        h, w = self.frame.rgb.shape[:2]
        dpr = self.devicePixelRatioF()
        widget = (self.width() * dpr, self.height() * dpr)
        scale = self.zoom.effective_scale(widget, self.content())
        eye_w = w if self.eyes_hook is not None else max(2, min(w, math.ceil(w * scale)))
        return eye_w, max(2, round(eye_w * h / w))

    def _paint_gl(self, framebuffer: int, device, emit: bool = True) -> None:
        """Draw into `framebuffer` (the window's, or a grab's) and paint the overlays on `device`."""
        t0 = time.perf_counter()
        self._paint_build_ms = 0.0
        self._preview_shown = False  # _build_eyes says when the eyes shown are the preview's
        r = self.renderer
        dpr = self.devicePixelRatioF()
        widget = (round(self.width() * dpr), round(self.height() * dpr))
        if r is not None:
            self._sync_inputs(r)
            if r.has_frame and self.frame is not None and not self.state.show_master \
                    and (self.state.shown_mode in EYE_MODES or self.eyes_hook is not None):
                self._build_eyes(r)
            if self.eyes_hook is not None and self.frame is not None:
                self._share_eyes(r)
            x, y, w, h = self.zoom.rect(widget, self.content())
            rect = (math.floor(x), math.floor(y), w, h)  # whole pixels: 1:1 shows the source pixels exactly
            r.draw(framebuffer, widget, rect, self.state)
        painter = QPainter(device)
        if self._glyphs_warm is not self.context():  # the context's first paint (the window coming up)
            warm_glyph_cache(painter)
            self._glyphs_warm = self.context()
        paint_overlay(painter, (self.width(), self.height()), self.frame, self.state,
                      self.notice or self.failure)
        for paint in self.overlay_painters:
            paint(painter)
        painter.end()
        self.last_paint_ms = (time.perf_counter() - t0) * 1000.0
        self._painted_frame = emit and self.frame is not None and r is not None
        self._paint_built_preview = self._preview_shown and self._paint_build_ms > 0.0
        if emit and self.frame is not None and r is not None:
            (self.preview_drawn if self._preview_shown else self.frame_drawn).emit(self.frame.index)

    def _painted(self, ms: float) -> None:
        """A paint of the window took `ms`, swap included: what it cost besides building eyes goes into
        the preview budget (a paint with no picture, or a first build that allocated targets, says little)."""
        if self._painted_frame:
            self.cost.painted(ms, self._paint_build_ms, preview=self._paint_built_preview)
        self._painted_frame = False

    def _sync_inputs(self, r) -> None:
        if self._pending_frame and self.frame is not None:
            r.set_frame(self.frame.rgb, self.frame.delta, self.frame.delta_range)
            r.set_bars(self.frame.bars)
            self._uploaded = self.frame.index
            self._pending_frame = False
            self._eyes_key = None
        if self._pending_master is not None:
            r.set_master_eyes(*self._pending_master)
            self._pending_master = None
            self._master_serial += 1

    def _full_key(self) -> tuple:
        return (self._uploaded, self.eye_size(), self.state.grade)

    def _build_eyes(self, r) -> bool:
        """Make the eyes for what is asked now; True when they are the full-size ones."""
        size = self.eye_size()
        key = (self._uploaded, size, self.state.grade)
        if key == self._eyes_key:
            return True
        if self._refine is not None and self._refine.key == key:
            self._preview_shown = True
            return False  # the preview of this very picture is up; its bands are on their way
        full_ms = self.cost.estimate(size)
        if full_ms is None and size[0] * size[1] > FIRST_BUILD_PIXELS:
            full_ms = math.inf  # a large first build could block for seconds on a slow GL: preview first
        if not self.progressive or full_ms is None or full_ms <= self.cost.budget(self.playing) * 1.5:
            self._timed_build(r, size, self.state.grade)
            self._eyes_key, self._refine = key, None
            return True
        preview = self.cost.preview_size(size, self.playing)
        preview_key = (self._uploaded, preview, self.state.grade)
        if preview_key != self._eyes_key:
            self._timed_build(r, preview, self.state.grade)
            self._eyes_key = preview_key
        self._preview_shown = True
        if self.playing:  # the next frame comes before the bands would be done: keep moving
            self._refine = None
            return False
        self._refine = _Refine(key, size, self.state.grade)
        self._settle.start()  # (re)started by every new preview: the bands wait for the drag to settle
        return False

    def _start_refine(self) -> None:
        if self._refine is not None:
            self._refine_step(self._refine)

    def _timed_build(self, r, size: tuple[int, int], grade, rows: tuple[int, int] | None = None,
                     show: bool = True) -> None:
        """One build (all rows or a band), timed to the end of the GPU's work, into the cost model."""
        from OpenGL import GL

        GL.glFinish()  # what was queued before (the last paint's composition) is not this build's cost
        t = time.perf_counter()
        r.render_eyes(size, grade, rows=rows, show=show)
        GL.glFinish()
        self.last_eyes_ms = (time.perf_counter() - t) * 1000.0
        self._paint_build_ms += self.last_eyes_ms
        self.cost.measured(size, self.last_eyes_ms, None if rows is None else rows[1] - rows[0])

    def _refine_step(self, job: _Refine) -> None:
        """Build the next band of the full-size eyes; show them when the last band is done."""
        r = self.renderer
        if job is not self._refine or r is None or not self.isValid() or job.key != self._full_key():
            return  # superseded: the next paint starts over for what is asked then
        self.makeCurrent()
        try:
            rows = (job.next_row, min(job.size[1], job.next_row + self.cost.band_rows(job.size)))
            self._timed_build(r, job.size, job.grade, rows, show=False)
            self.bands_built += 1
            job.next_row = rows[1]
            done = job.next_row >= job.size[1]
            if done:
                r.show(job.size)
                self._eyes_key, self._refine = job.key, None
        finally:
            from studio.viewer.gl_renderer import restore_qt_state

            restore_qt_state()
            self.doneCurrent()
        if done:
            self.update()
        else:
            QTimer.singleShot(0, lambda: self._refine_step(job))

    def _share_eyes(self, r) -> None:
        if self.state.show_master and len(r.master_eyes) == 2:
            self.eyes_hook(*r.master_eyes, r.master_size, ("master", self._master_serial), self.frame.index)
        elif not self.state.show_master and r.eye_targets and self._eyes_key is not None:
            left, right = r.eye_targets
            self.eyes_hook(left.colour, right.colour, r.eye_size, self._eyes_key, self.frame.index)

    def eye_textures(self) -> tuple[int, int, tuple[int, int]] | None:
        """GL names of the current left and right eye textures and their size (for the headset preview)."""
        r = self.renderer
        if r is None or not r.eye_targets:
            return None
        return r.eye_targets[0].colour, r.eye_targets[1].colour, r.eye_size

    def read_eyes(self):
        """Both eyes as rendered now, read back with glReadPixels: [(colour, aux), (colour, aux)]."""
        self.makeCurrent()
        try:
            return [self.renderer.read_eye(i) for i in (0, 1)]
        finally:
            self.doneCurrent()
