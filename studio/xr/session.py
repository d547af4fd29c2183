"""The headset preview: one OpenXR session and its frame loop on a thread of its own.

`XrPreview(...).start()` connects to the OpenXR runtime (instance with XR_KHR_opengl_enable, the HMD
system, the mandatory graphics-requirements call, a GLX session on Xlib), shows the side-by-side image
last given to `show()` as two quad layers (left half to the left eye, right half to the right eye) on
the virtual screen of `geometry.ScreenGeometry`, and follows the runtime's session states
(`lifecycle.SessionLifecycle`). When the runtime is missing, has no headset, or goes away mid-session
it reports that through `on_status` and keeps trying, so the studio is never affected; `stop()` asks
the runtime to exit the session, waits for EXITING (bounded) and joins the thread.

The `xr` module is injectable (the unit tests pass a fake), and so is the graphics side (`graphics`:
a factory taking the xr module; the default is the GLX/OpenGL one in `gl_swapchain`).

`show()` takes a CPU image (`Content`) or, with `gl_share` (the studio viewer's GLX context), the
viewer's own eyes in a shared texture (`gpu_share.GpuContent`), copied GPU-side into the swapchain.
Whether the share took is reported (`StatusReport.gpu_shared`); when it did not, the studio sends
CPU images instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from studio.xr import runtime_probe
from studio.xr.geometry import Placement, Pose, ScreenGeometry, screen_pose, screen_size
from studio.xr.gpu_share import SLOTS, GpuContent
from studio.xr.lifecycle import Action, SessionLifecycle, XrState

INSTALL_HINT = ("install an OpenXR runtime and start it — e.g. Monado (Debian 13: apt install monado-service "
                "libopenxr1-monado, then run monado-service) or SteamVR — and check XR_RUNTIME_JSON")
RETRY_S = 1.0  # first wait before another attempt to reach a missing runtime or headset
MAX_RETRY_S = 5.0  # the wait doubles per failed attempt up to this (the loader logs every attempt)
EXIT_TIMEOUT_S = 3.0  # how long stop() waits for the runtime to take the session to EXITING


class Status(Enum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    NO_RUNTIME = "no runtime"
    NO_HEADSET = "no headset"
    WAITING = "waiting for the headset"  # session created, not yet running (IDLE / READY)
    RUNNING = "running"  # frames flow (SYNCHRONIZED, VISIBLE, FOCUSED)
    LOST = "runtime lost"  # reconnecting
    FAILED = "failed"


@dataclass(frozen=True)
class StatusReport:
    status: Status
    message: str
    state: XrState | None = None
    gpu_shared: bool | None = None  # set once a session's GL context exists: True when it shares the viewer's


@dataclass(frozen=True)
class Content:
    """A stereo image: `sbs` is (H, 2W, 3 or 4) uint8, left eye in the left half; `frame_id` names it."""

    frame_id: int
    sbs: np.ndarray

    def __post_init__(self) -> None:
        if self.sbs.ndim != 3 or self.sbs.shape[2] not in (3, 4) or self.sbs.dtype != np.uint8:
            raise ValueError(f"SBS image must be (H, 2W, 3|4) uint8, got {self.sbs.shape} {self.sbs.dtype}")
        if self.sbs.shape[1] % 2:
            raise ValueError(f"SBS image width {self.sbs.shape[1]} is odd: the two eyes must be equal")

    @property
    def size(self) -> tuple[int, int]:
        """(2W, H)."""
        return self.sbs.shape[1], self.sbs.shape[0]


@dataclass(frozen=True)
class LayerInfo:
    eye: str  # "left" | "right"
    rect: tuple[int, int, int, int]  # x, y, width, height in the swapchain image (GL: y from the bottom)
    pose: Pose
    size_m: tuple[float, float]


@dataclass(frozen=True)
class SubmittedFrame:
    """One successful xrEndFrame: which content it carried and when its render step began."""

    index: int
    content_id: int | None  # None: ended without layers (not visible, or nothing to show yet)
    display_time: int
    render_start_ns: int  # time.monotonic_ns() when this frame picked its content
    cpu_ms: float  # CPU time of this thread from after xrWaitFrame to after xrEndFrame
    layers: tuple[LayerInfo, ...] = ()
    wall_ms: float = 0.0  # wall time of the same span (includes GL work the driver runs elsewhere)
    wait_ms: float = 0.0  # time blocked in xrWaitFrame (the runtime's pacing)
    source: str = ""  # "gpu" (the viewer's shared texture) or "cpu" (an uploaded image); "" without layers


@dataclass
class Stats:
    frames_ended: int = 0
    sessions_started: int = 0
    reconnects: int = 0
    uploads: int = 0  # CPU images uploaded to the GPU by the XR thread
    gpu_copies: int = 0  # blits from the viewer's shared textures
    readbacks: int = 0  # swapchain images read back (captures only)
    states: list[XrState] = field(default_factory=list)
    recent: deque[SubmittedFrame] = field(default_factory=lambda: deque(maxlen=4096))


class _Reconnect(Exception):
    """The runtime or instance went away: tear down and connect again."""


class XrPreview:
    def __init__(self, *, xr_module=None, graphics: Callable | None = None,
                 geometry: ScreenGeometry | None = None, app_name: str = "SpatialDreamer Studio",
                 on_status: Callable[[StatusReport], None] | None = None,
                 on_frame: Callable[[SubmittedFrame], None] | None = None,
                 retry_s: float = RETRY_S, gl_share=None) -> None:
        self._xr = xr_module
        self._graphics_factory = graphics or (lambda xr: _default_graphics(xr, gl_share))
        self.gl_share = gl_share
        self.gpu_shared: bool | None = None
        self._geometry = geometry or ScreenGeometry()
        self._app_name = app_name
        self._on_status = on_status
        self._on_frame = on_frame
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._content: Content | None = None
        self._recentre = False
        self._capture: Callable[[np.ndarray, tuple[LayerInfo, ...], int], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = Stats()
        self.report = StatusReport(Status.STOPPED, "headset preview is off")
        self.head: Pose | None = None

    # ---- called from any thread -------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="xr-preview", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = EXIT_TIMEOUT_S + 2.0) -> bool:
        """Ask the session to exit and join the thread; True when it ended within `timeout`."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def show(self, content: Content) -> None:
        """The next frame the headset starts carries `content` (latest wins)."""
        with self._lock:
            self._content = content

    def set_geometry(self, geometry: ScreenGeometry) -> None:
        with self._lock:
            self._geometry = geometry

    @property
    def geometry(self) -> ScreenGeometry:
        with self._lock:
            return self._geometry

    def recentre(self) -> None:
        """Put the world screen straight ahead of where the head is at the next frame."""
        with self._lock:
            self._recentre = True

    def capture_next(self, callback: Callable[[np.ndarray, tuple[LayerInfo, ...], int], None]) -> None:
        """Read back the next submitted swapchain image: callback(rgba (H, W, 4) top-down, layers, frame_id)."""
        with self._lock:
            self._capture = callback

    # ---- the XR thread ----------------------------------------------------------------------
    def _status(self, status: Status, message: str, state: XrState | None = None) -> None:
        self.report = StatusReport(status, message, state, self.gpu_shared)
        if self._on_status is not None:
            self._on_status(self.report)

    def _run(self) -> None:
        try:
            xr = self._xr if self._xr is not None else _import_xr()
        except _NoRuntime as exc:
            self._status(Status.NO_RUNTIME, str(exc))
            return
        first = True
        failures = 0  # consecutive attempts that never started a session
        while not self._stop.is_set():
            if not first:
                self.stats.reconnects += 1
            first = False
            conn = _Connection(self, xr)
            sessions = self.stats.sessions_started
            try:
                if self.report.status not in (Status.NO_RUNTIME, Status.NO_HEADSET):
                    self._status(Status.CONNECTING, "connecting to the OpenXR runtime")  # (no flicker on retries)
                conn.open()
                if conn.pump() == "done":
                    break
                self._status(Status.LOST, "the OpenXR runtime ended the session; reconnecting")
            except _NoRuntime as exc:
                self._status(Status.NO_RUNTIME, str(exc))
            except _NoHeadset as exc:
                self._status(Status.NO_HEADSET, str(exc))
            except _Reconnect as exc:
                self._status(Status.LOST, f"lost the OpenXR runtime ({exc}); reconnecting")
            except Exception as exc:  # a runtime bug must not take the studio down
                self._status(Status.LOST, f"headset preview error: {type(exc).__name__}: {exc}; retrying")
            finally:
                conn.close()
            failures = 0 if self.stats.sessions_started > sessions else failures + 1
            self._stop.wait(retry_delay(self._retry_s, failures - 1))
        self._status(Status.STOPPED, "headset preview is off")


def retry_delay(first_s: float, failures: int) -> float:
    """Seconds before the next attempt after `failures` + 1 failed ones in a row: first_s doubling, capped."""
    return min(MAX_RETRY_S, first_s * 2.0 ** max(0, failures))


class _NoRuntime(Exception):
    pass


class _NoHeadset(Exception):
    pass


def _import_xr():
    try:
        import xr  # pyopenxr, with its bundled loader
    except (ImportError, OSError) as exc:
        raise _NoRuntime(f"pyopenxr is not installed or its loader failed ({exc}): pip install pyopenxr; "
                         + INSTALL_HINT) from None
    return xr


_LOST_ERRORS = ("InstanceLostError", "SessionLostError", "RuntimeFailureError", "SessionLossPending",
                "InstanceLossPending", "ValidationFailureError", "HandleInvalidError")


def _error_classes(xr, names: tuple[str, ...]) -> tuple[type, ...]:
    return tuple(getattr(xr, n) for n in names if isinstance(getattr(xr, n, None), type))


class _Connection:
    """One instance + session lifetime; `pump()` returns "done" (we exited) or "reconnect"."""

    def __init__(self, preview: XrPreview, xr) -> None:
        self.p = preview
        self.xr = xr
        self.lost = _error_classes(xr, _LOST_ERRORS)
        self.instance = self.system = self.session = self.gfx = None
        self.spaces: dict[str, object] = {}
        self.life = SessionLifecycle()
        self.exit_deadline: float | None = None
        self._counted: dict[str, int] = {}

    # -- set-up -------------------------------------------------------------------------------
    def open(self) -> None:
        xr = self.xr
        try:
            self.instance = xr.create_instance(xr.InstanceCreateInfo(
                application_info=xr.ApplicationInfo(application_name=self.p._app_name,
                                                    engine_name="spatialdreamer"),
                enabled_extension_names=[xr.KHR_OPENGL_ENABLE_EXTENSION_NAME]))
        except (xr.RuntimeUnavailableError, xr.RuntimeFailureError, xr.ExtensionNotPresentError,
                xr.InitializationFailedError, OSError) as exc:
            why = runtime_probe.diagnose()
            raise _NoRuntime(f"no OpenXR runtime answered ({type(exc).__name__}"
                             + (f": {why}" if why else "") + "): " + INSTALL_HINT) from None
        try:
            self.system = xr.get_system(self.instance, xr.SystemGetInfo(
                form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
        except xr.FormFactorUnavailableError:
            raise _NoHeadset("the OpenXR runtime is running but no headset is connected "
                             "(form factor unavailable): connect and power on the headset; retrying") from None
        self._guard(self._open_session)

    def _open_session(self) -> None:
        xr = self.xr
        self.gfx = self.p._graphics_factory(xr)
        self.p.gpu_shared = bool(getattr(self.gfx, "shared", False))
        self.gfx.check_requirements(self.instance, self.system)  # mandatory before xrCreateSession
        self.session = xr.create_session(self.instance, xr.SessionCreateInfo(
            system_id=self.system, next=self.gfx.binding()))
        self.gfx.ensure_current()
        self.gfx.attach(self.session, self.instance, self.system)
        for name, kind in (("local", xr.ReferenceSpaceType.LOCAL), ("view", xr.ReferenceSpaceType.VIEW)):
            self.spaces[name] = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
                reference_space_type=kind, pose_in_reference_space=xr.Posef()))
        note = getattr(self.gfx, "share_error", "")
        self.p._status(Status.WAITING, "session created; waiting for the headset"
                       + (f" (GPU sharing with the viewer refused: {note}; CPU copies)" if note else ""),
                       XrState.IDLE)

    def close(self) -> None:
        """Destroy whatever exists; errors are ignored (the runtime may be gone)."""
        for step in (self._destroy_gfx, self._destroy_spaces, self._destroy_session, self._destroy_instance):
            with contextlib.suppress(Exception):
                step()

    def _destroy_gfx(self) -> None:
        gfx, self.gfx = self.gfx, None
        if gfx is not None:
            gfx.close()

    def _destroy_spaces(self) -> None:
        spaces, self.spaces = self.spaces, {}
        for space in spaces.values():
            self.xr.destroy_space(space)

    def _destroy_session(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            self.xr.destroy_session(session)

    def _destroy_instance(self) -> None:
        instance, self.instance = self.instance, None
        if instance is not None:
            self.xr.destroy_instance(instance)

    def _guard(self, fn, *args):
        """Run a step; runtime-loss errors become _Reconnect; the GL context is made current after."""
        try:
            return fn(*args)
        except self.lost as exc:
            raise _Reconnect(type(exc).__name__) from None
        finally:
            if self.gfx is not None:
                self.gfx.ensure_current()

    # -- the loop -----------------------------------------------------------------------------
    def pump(self) -> str:
        while True:
            if self.p._stop.is_set() and self.exit_deadline is None and not self._request_exit():
                return "done"
            if self.exit_deadline is not None and time.monotonic() > self.exit_deadline:
                return "done"  # the runtime never took us to EXITING; tear down anyway
            action = self._guard(self._drain_events)
            if action is Action.DESTROY:
                return "done"
            if action is Action.RECONNECT:
                return "reconnect"
            if self.life.should_wait_frame:
                self._guard(self._frame)
            else:
                time.sleep(0.005)  # no frame loop yet: poll the runtime's events at 200 Hz

    def _request_exit(self) -> bool:
        """True when the runtime will take the session to EXITING; False when there is nothing to wait for."""
        self.life.exit_requested = True
        if self.session is None or not self.life.running:
            return False
        self.xr.request_exit_session(self.session)
        self.exit_deadline = time.monotonic() + EXIT_TIMEOUT_S
        return True

    def _drain_events(self) -> Action:
        xr = self.xr
        while True:
            try:
                event = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                return Action.NONE
            kind = event.type
            if kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                return Action.RECONNECT
            if kind != xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                continue
            changed = ctypes.cast(ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents
            action = self._on_state(XrState(int(getattr(changed.state, "value", changed.state))))
            if action is not Action.NONE:
                return action

    def _on_state(self, state: XrState) -> Action:
        self.p.stats.states.append(state)
        action = self.life.on_state(state)
        if action is Action.BEGIN:
            self.xr.begin_session(self.session, self.xr.SessionBeginInfo(
                primary_view_configuration_type=self.xr.ViewConfigurationType.PRIMARY_STEREO))
            self.life.began()
            self.p.stats.sessions_started += 1
            action = Action.NONE
        elif action is Action.END:
            self.xr.end_session(self.session)
            self.life.ended()
            action = Action.NONE
        if state in (XrState.SYNCHRONIZED, XrState.VISIBLE, XrState.FOCUSED):
            self.p._status(Status.RUNNING, f"headset {state.name.lower()}", state)
        elif state in (XrState.IDLE, XrState.READY, XrState.STOPPING, XrState.EXITING, XrState.LOSS_PENDING):
            self.p._status(Status.WAITING, f"session {state.name.lower().replace('_', ' ')}", state)
        return action

    def _frame(self) -> None:
        xr = self.xr
        wait_start = time.monotonic_ns()
        frame_state = xr.wait_frame(self.session, xr.FrameWaitInfo())
        self.gfx.ensure_current()
        t0 = time.thread_time_ns()
        start_ns = time.monotonic_ns()
        xr.begin_frame(self.session, xr.FrameBeginInfo())
        self.gfx.ensure_current()
        with self.p._lock:
            geometry = self.p._geometry
            capture, self.p._capture = self.p._capture, None
            recentre, self.p._recentre = self.p._recentre, False
        display_time = frame_state.predicted_display_time
        if recentre or self.p.head is None:
            geometry = self._track_head(display_time, geometry, recentre)
        layers: tuple[LayerInfo, ...] = ()
        xr_layers = []
        content = self._hold_content() if frame_state.should_render and self.life.shows_layers else None
        try:
            if content is not None:
                image = self.gfx.render(content, capture is not None)
                self.gfx.ensure_current()
                self._count_copies()
                layers = self._layers(content, geometry)
                xr_layers = [self._xr_quad(layer, geometry) for layer in layers]
                if capture is not None:
                    capture(image, layers, content.frame_id)
        finally:
            if isinstance(content, GpuContent):
                content.release()
        xr.end_frame(self.session, xr.FrameEndInfo(
            display_time=display_time, environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE,
            layers=_layer_pointers(xr, xr_layers)))
        self.gfx.ensure_current()
        stats = self.p.stats
        done = SubmittedFrame(stats.frames_ended, content.frame_id if layers else None, display_time,
                              start_ns, (time.thread_time_ns() - t0) / 1e6, layers,
                              wall_ms=(time.monotonic_ns() - start_ns) / 1e6, wait_ms=(start_ns - wait_start) / 1e6,
                              source=("gpu" if isinstance(content, GpuContent) else "cpu") if layers else "")
        stats.frames_ended += 1
        stats.recent.append(done)
        if self.p._on_frame is not None:
            self.p._on_frame(done)

    def _hold_content(self):
        """The latest content this context can show; a GPU one is held (acquired) until released."""
        for _ in range(SLOTS + 1):
            with self.p._lock:
                content = self.p._content
            if not isinstance(content, GpuContent):
                return content
            if not self.p.gpu_shared:
                return None  # the viewer's textures are out of reach of this context; the studio sends CPU images
            if content.acquire():
                return content
            # rewritten since it was published: a newer one is there by now
        return None

    def _count_copies(self) -> None:
        stats, gfx = self.p.stats, self.gfx
        for name in ("uploads", "gpu_copies", "readbacks"):
            setattr(stats, name, getattr(stats, name) + getattr(gfx, name, 0) - self._counted.get(name, 0))
            self._counted[name] = getattr(gfx, name, 0)

    def _track_head(self, display_time: int, geometry: ScreenGeometry, recentre: bool) -> ScreenGeometry:
        loc = self.xr.locate_space(self.spaces["view"], self.spaces["local"], display_time)
        self.gfx.ensure_current()
        p, q = loc.pose.position, loc.pose.orientation
        self.p.head = Pose((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))
        if not recentre:
            return geometry
        geometry = geometry.recentred(self.p.head)
        with self.p._lock:
            self.p._geometry = geometry
        return geometry

    def _layers(self, content, geometry: ScreenGeometry) -> tuple[LayerInfo, ...]:
        w2, h = content.size
        sw, sh = self.gfx.image_size
        size = screen_size(geometry, w2 // 2, h)
        pose = screen_pose(geometry)
        half = sw // 2
        return (LayerInfo("left", (0, 0, half, sh), pose, size),
                LayerInfo("right", (half, 0, half, sh), pose, size))

    def _xr_quad(self, layer: LayerInfo, geometry: ScreenGeometry):
        xr = self.xr
        x, y, w, h = layer.rect
        space = self.spaces["view" if geometry.placement is Placement.HEAD_LOCKED else "local"]
        eye = xr.EyeVisibility.LEFT if layer.eye == "left" else xr.EyeVisibility.RIGHT
        (px, py, pz), (qx, qy, qz, qw) = layer.pose.position, layer.pose.orientation
        return xr.CompositionLayerQuad(
            space=space, eye_visibility=eye,
            sub_image=xr.SwapchainSubImage(swapchain=self.gfx.swapchain, image_rect=xr.Rect2Di(
                offset=xr.Offset2Di(x, y), extent=xr.Extent2Di(w, h)), image_array_index=0),
            pose=xr.Posef(orientation=xr.Quaternionf(qx, qy, qz, qw), position=xr.Vector3f(px, py, pz)),
            size=xr.Extent2Df(*layer.size_m))


def _layer_pointers(xr, layers: list) -> list:
    """XrFrameEndInfo.layers is an array of XrCompositionLayerBaseHeader pointers."""
    base = ctypes.POINTER(xr.CompositionLayerBaseHeader)
    return [ctypes.cast(ctypes.pointer(layer), base) for layer in layers]


def _default_graphics(xr, share=None):
    from studio.xr.gl_swapchain import GlSwapchainGraphics

    return GlSwapchainGraphics(xr, share=share)
