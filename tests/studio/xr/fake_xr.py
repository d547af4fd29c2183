"""A fake `xr` (pyopenxr) module with a scriptable runtime, and a fake graphics side, for the XR unit tests.

It implements the calls studio.xr.session makes with the same names, argument shapes and exception
types as pyopenxr, and drives the session states the way a runtime does: READY after creation,
SYNCHRONIZED → VISIBLE → FOCUSED after xrBeginSession, STOPPING after xrRequestExitSession, IDLE →
EXITING after xrEndSession. Failures are switched on per test (`FakeRuntime` fields).
"""

from __future__ import annotations

import ctypes
import threading
import time
import types
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class _Struct:
    _positional: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs) -> None:
        for name, value in zip(self._positional, args, strict=False):
            setattr(self, name, value)
        for name, value in kwargs.items():
            setattr(self, name, value)


def _struct(name: str, *positional: str) -> type:
    return type(name, (_Struct,), {"_positional": positional})


class _LayerHeader(ctypes.Structure):
    _fields_ = [("tag", ctypes.c_int)]


_live_layers: dict[int, object] = {}


class CompositionLayerQuad(ctypes.Structure):
    """A ctypes struct (the session casts pointers to it) that remembers its Python fields."""

    _fields_ = [("tag", ctypes.c_int)]

    def __init__(self, **kwargs) -> None:
        super().__init__(tag=7)
        self.fields = kwargs
        _live_layers[ctypes.addressof(self)] = self


class EventDataBuffer(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("session", ctypes.c_void_p), ("state", ctypes.c_int),
                ("pad", ctypes.c_byte * 64)]


class EventDataSessionStateChanged(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("session", ctypes.c_void_p), ("state", ctypes.c_int)]


class StructureType(IntEnum):
    EVENT_DATA_INSTANCE_LOSS_PENDING = 17
    EVENT_DATA_SESSION_STATE_CHANGED = 18
    EVENT_DATA_REFERENCE_SPACE_CHANGE_PENDING = 19


class _XrError(Exception):
    pass


ERRORS = ("EventUnavailable", "RuntimeUnavailableError", "RuntimeFailureError", "ExtensionNotPresentError",
          "InitializationFailedError", "FormFactorUnavailableError", "InstanceLostError", "SessionLostError",
          "SessionLossPending", "InstanceLossPending", "ValidationFailureError", "HandleInvalidError")


@dataclass
class FakeRuntime:
    """The runtime's behaviour; counters record what the session did."""

    missing_for: int = 0  # xrCreateInstance raises RuntimeUnavailableError this many times
    no_headset_for: int = 0  # xrGetSystem raises FormFactorUnavailableError this many times
    lose_instance_at_frame: int | None = None  # xrEndFrame raises InstanceLostError at this frame count
    loss_pending_at_frame: int | None = None  # an INSTANCE_LOSS_PENDING event after this many frames
    never_exit: bool = False  # ignore xrRequestExitSession (a hung runtime)
    steals_context: bool = True  # every runtime call leaves another GL context current
    frame_period_s: float = 0.002
    instances_created: int = 0
    sessions_created: int = 0
    destroyed: list[str] = field(default_factory=list)
    frames_ended: int = 0
    ended_layers: list[list[dict]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    events: deque = field(default_factory=deque)
    graphics: object = None  # the FakeGraphics, so calls can "change the current context"

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.steals_context and self.graphics is not None:
            self.graphics.current = False

    def _state(self, state: int) -> None:
        self.events.append((StructureType.EVENT_DATA_SESSION_STATE_CHANGED, state))


def make_fake_xr(rt: FakeRuntime) -> types.ModuleType:
    xr = types.ModuleType("fake_xr")
    for name in ERRORS:
        setattr(xr, name, type(name, (_XrError,), {}))
    xr.KHR_OPENGL_ENABLE_EXTENSION_NAME = "XR_KHR_opengl_enable"
    xr.StructureType = StructureType
    xr.FormFactor = types.SimpleNamespace(HEAD_MOUNTED_DISPLAY=1)
    xr.ReferenceSpaceType = types.SimpleNamespace(VIEW=1, LOCAL=2)
    xr.ViewConfigurationType = types.SimpleNamespace(PRIMARY_STEREO=2)
    xr.EnvironmentBlendMode = types.SimpleNamespace(OPAQUE=1)
    xr.EyeVisibility = types.SimpleNamespace(BOTH=0, LEFT=1, RIGHT=2)
    for name, pos in (("InstanceCreateInfo", ()), ("ApplicationInfo", ()), ("SystemGetInfo", ()),
                      ("SessionCreateInfo", ()), ("ReferenceSpaceCreateInfo", ()), ("SessionBeginInfo", ()),
                      ("FrameWaitInfo", ()), ("FrameBeginInfo", ()), ("FrameEndInfo", ()),
                      ("SwapchainSubImage", ()), ("Posef", ()), ("Quaternionf", ("x", "y", "z", "w")),
                      ("Vector3f", ("x", "y", "z")), ("Extent2Df", ("width", "height")),
                      ("Extent2Di", ("width", "height")), ("Offset2Di", ("x", "y")), ("Rect2Di", ())):
        setattr(xr, name, _struct(name, *pos))
    xr.CompositionLayerQuad = CompositionLayerQuad
    xr.CompositionLayerBaseHeader = _LayerHeader
    xr.EventDataSessionStateChanged = EventDataSessionStateChanged
    lock = threading.Lock()

    def create_instance(info):
        rt._call("create_instance")
        if rt.missing_for > 0:
            rt.missing_for -= 1
            raise xr.RuntimeUnavailableError("no runtime")
        assert info.enabled_extension_names == ["XR_KHR_opengl_enable"]
        rt.instances_created += 1
        rt.events.clear()
        return f"instance{rt.instances_created}"

    def get_system(instance, info):
        rt._call("get_system")
        if rt.no_headset_for > 0:
            rt.no_headset_for -= 1
            raise xr.FormFactorUnavailableError("no HMD")
        assert info.form_factor == xr.FormFactor.HEAD_MOUNTED_DISPLAY
        return 1

    def create_session(instance, info):
        rt._call("create_session")
        assert {"check_requirements", "get_opengl_graphics_requirements_khr"} & set(rt.calls), \
            "xrCreateSession before the graphics-requirements call"
        assert info.next == "xlib-binding"
        rt.sessions_created += 1
        rt._state(1)  # IDLE
        rt._state(2)  # READY
        return f"session{rt.sessions_created}"

    def poll_event(instance):
        rt._call("poll_event")
        with lock:
            if not rt.events:
                raise xr.EventUnavailable()
            kind, state = rt.events.popleft()
        return EventDataBuffer(type=int(kind), state=state)

    def begin_session(session, info):
        rt._call("begin_session")
        for state in (3, 4, 5):
            rt._state(state)

    def request_exit_session(session):
        rt._call("request_exit_session")
        if not rt.never_exit:
            rt._state(4)
            rt._state(3)
            rt._state(6)  # STOPPING

    def end_session(session):
        rt._call("end_session")
        rt._state(1)
        rt._state(8)  # EXITING

    def wait_frame(session, info):
        rt._call("wait_frame")
        time.sleep(rt.frame_period_s)  # the runtime's display period (xrWaitFrame blocks)
        return types.SimpleNamespace(predicted_display_time=1_000_000 * (rt.frames_ended + 1), should_render=True)

    def begin_frame(session, info):
        rt._call("begin_frame")

    def end_frame(session, info):
        rt._call("end_frame")
        if rt.lose_instance_at_frame is not None and rt.frames_ended >= rt.lose_instance_at_frame:
            rt.lose_instance_at_frame = None
            raise xr.InstanceLostError("runtime went away")
        layers = [_live_layers[ctypes.addressof(p.contents)].fields for p in info.layers]
        rt.ended_layers.append(layers)
        rt.frames_ended += 1
        if rt.loss_pending_at_frame is not None and rt.frames_ended >= rt.loss_pending_at_frame:
            rt.loss_pending_at_frame = None
            rt.events.append((StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING, 0))

    def locate_space(space, base, time_):
        rt._call("locate_space")
        pose = types.SimpleNamespace(position=types.SimpleNamespace(x=0.0, y=1.6, z=0.0),
                                     orientation=types.SimpleNamespace(x=0.0, y=0.7071068, z=0.0, w=0.7071068))
        return types.SimpleNamespace(pose=pose)

    def destroyer(kind):
        def destroy(handle):
            rt._call(f"destroy_{kind}")
            rt.destroyed.append(f"{kind}:{handle}")
        return destroy

    def create_reference_space(session, info):
        rt._call("create_reference_space")
        return f"space{info.reference_space_type}"

    for fn in (create_instance, get_system, create_session, poll_event, begin_session, request_exit_session,
               end_session, wait_frame, begin_frame, end_frame, locate_space, create_reference_space):
        setattr(xr, fn.__name__, fn)
    for kind in ("instance", "session", "space"):
        setattr(xr, f"destroy_{kind}", destroyer(kind))
    return xr


class FakeGraphics:
    """Stands in for GlSwapchainGraphics: the 'swapchain image' is the SBS image itself."""

    def __init__(self, rt: FakeRuntime) -> None:
        self.rt = rt
        rt.graphics = self
        self.current = True
        self.swapchain = "swapchain"
        self.image_size = (0, 0)
        self.closed = False
        self.renders = 0

    def check_requirements(self, instance, system) -> None:
        self.rt.calls.append("check_requirements")

    def binding(self):
        return "xlib-binding"

    def attach(self, session, instance, system) -> None:
        self.rt.calls.append("attach")

    def ensure_current(self) -> bool:
        was = self.current
        self.current = True
        return not was

    def render(self, content, readback: bool):
        assert self.current, "rendered with another GL context current"
        self.renders += 1
        h, w2 = content.sbs.shape[:2]
        self.image_size = (w2, h)
        if not readback:
            return None
        alpha = np.full((h, w2, 1), 255, np.uint8)
        return np.concatenate([content.sbs[..., :3], alpha], axis=2)

    def close(self) -> None:
        self.closed = True


class GlContextThief:
    """With real GL: each runtime call leaves no context current on the XR thread (as some runtimes do)."""

    def __init__(self) -> None:
        self.display = None
        self.steals = 0

    @property
    def current(self) -> bool:
        return True

    @current.setter
    def current(self, value: bool) -> None:
        if not value and self.display is not None:
            from OpenGL import GLX

            GLX.glXMakeContextCurrent(self.display, 0, 0, None)
            self.steals += 1


def add_gl_swapchains(xr: types.ModuleType, rt: FakeRuntime, max_eye: tuple[int, int] = (4096, 4096),
                      images: int = 3) -> GlContextThief:
    """Give the fake module what gl_swapchain.GlSwapchainGraphics calls, with real GL textures as images.

    The swapchain images are RGBA8 textures made in the application's context (taken from the session's
    Xlib binding, as a runtime imports its images there); the binding's five fields must all be set.
    """
    from OpenGL import GL, GLX

    thief = GlContextThief()
    rt.graphics = thief
    chains: dict[str, dict] = {}
    xr.GraphicsBindingOpenGLXlibKHR = _struct("GraphicsBindingOpenGLXlibKHR")
    xr.SwapchainCreateInfo = _struct("SwapchainCreateInfo")
    for name in ("SwapchainImageAcquireInfo", "SwapchainImageWaitInfo", "SwapchainImageReleaseInfo"):
        setattr(xr, name, _struct(name))
    xr.SwapchainImageOpenGLKHR = "SwapchainImageOpenGLKHR"
    xr.SwapchainUsageFlags = types.SimpleNamespace(COLOR_ATTACHMENT_BIT=1, TRANSFER_DST_BIT=2, SAMPLED_BIT=4)
    xr.INFINITE_DURATION = 0x7FFFFFFFFFFFFFFF
    fake_create_session = xr.create_session

    def create_session(instance, info):
        b = info.next
        assert all(getattr(b, f) for f in ("x_display", "visualid", "glx_fbconfig", "glx_drawable", "glx_context"))
        thief.display = b.x_display
        thief.binding = b
        info.next = "xlib-binding"
        return fake_create_session(instance, info)

    def get_opengl_graphics_requirements_khr(instance, system):
        rt._call("get_opengl_graphics_requirements_khr")
        version = types.SimpleNamespace(major=3, minor=3)
        return types.SimpleNamespace(min_api_version_supported=version, max_api_version_supported=version)

    def enumerate_view_configuration_views(instance, system, kind):
        rt._call("enumerate_view_configuration_views")
        view = types.SimpleNamespace(max_image_rect_width=max_eye[0], max_image_rect_height=max_eye[1])
        return [view, view]

    def enumerate_swapchain_formats(session):
        rt._call("enumerate_swapchain_formats")
        return [0x8058]  # GL_RGBA8

    def create_swapchain(session, info):
        rt._call("create_swapchain")
        b = thief.binding
        GLX.glXMakeContextCurrent(b.x_display, b.glx_drawable, b.glx_drawable, b.glx_context)
        names = [int(t) for t in GL.glGenTextures(images)]
        for tex in names:
            GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
            GL.glTexStorage2D(GL.GL_TEXTURE_2D, 1, GL.GL_RGBA8, info.width, info.height)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        handle = f"swapchain{len(chains) + 1}"
        chains[handle] = {"images": names, "next": 0, "size": (info.width, info.height)}
        rt.swapchains = chains
        thief.current = False
        return handle

    def enumerate_swapchain_images(swapchain, kind):
        rt._call("enumerate_swapchain_images")
        return [types.SimpleNamespace(image=t) for t in chains[swapchain]["images"]]

    def acquire_swapchain_image(swapchain, info):
        rt._call("acquire_swapchain_image")
        chain = chains[swapchain]
        index = chain["next"]
        chain["next"] = (index + 1) % len(chain["images"])
        chain["acquired"] = index
        return index

    def wait_swapchain_image(swapchain, info):
        rt._call("wait_swapchain_image")

    def release_swapchain_image(swapchain, info):
        rt._call("release_swapchain_image")

    def destroy_swapchain(swapchain):
        rt._call("destroy_swapchain")
        rt.destroyed.append(f"swapchain:{swapchain}")

    for fn in (create_session, get_opengl_graphics_requirements_khr, enumerate_view_configuration_views,
               enumerate_swapchain_formats, create_swapchain, enumerate_swapchain_images, acquire_swapchain_image,
               wait_swapchain_image, release_swapchain_image, destroy_swapchain):
        setattr(xr, fn.__name__, fn)
    return thief


def record_headset_jobs(window, monkeypatch) -> list[str]:
    """The studio window's CPU renders for the headset (its "headset" frame jobs), recorded as they are submitted."""
    jobs: list[str] = []
    submit = window.controller.frames.submit

    def recording(job, key=None, **kwargs):
        if key == "headset":
            jobs.append(key)
        return submit(job, key=key, **kwargs)

    monkeypatch.setattr(window.controller.frames, "submit", recording)
    return jobs
