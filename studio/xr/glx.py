"""An off-screen GLX context on Xlib for the XR thread, with everything XrGraphicsBindingOpenGLXlibKHR needs.

Monado checks every field of the binding (display, visual id, FBConfig, drawable, context), so we
create them explicitly: an FBConfig that can render to a pbuffer, a 16×16 pbuffer as the drawable,
and a context made current on it. The runtime may change the current context inside its calls;
`ensure_current()` puts ours back (the frame loop calls it after every runtime call).

With a `share` (`gpu_share.ShareTarget`: the studio viewer's X display and GLX context) the context is
made on the viewer's display in the viewer's share group, so the XR thread can read the viewer's
textures; the display then stays the viewer's (not closed here). Creation errors in that case raise
`GlxUnavailable` (an X error handler is in place meanwhile), and the caller falls back to a context of
its own.
"""

from __future__ import annotations

import ctypes
import os

os.environ.setdefault("PYOPENGL_PLATFORM", "glx")


class GlxUnavailable(RuntimeError):
    """No X display or no usable GLX FBConfig (one line, for the status bar)."""


class GlxContext:
    """Owns X display connection, pbuffer and GLX context; `close()` releases them (idempotent)."""

    def __init__(self, display_name: str | None = None, share=None) -> None:
        from OpenGL import GLX

        self._glx = GLX
        self._x11 = _libx11()
        self.shared = share is not None
        if share is not None:
            self.display = ctypes.cast(ctypes.c_void_p(share.display), ctypes.POINTER(GLX.Display))
            self._own_display = False
            with _XErrors(self._x11, self.display) as errors:
                try:
                    self._create(GLX, ctypes.cast(ctypes.c_void_p(share.context), GLX.GLXContext))
                finally:
                    errors.check()
            return
        self._own_display = True
        name = display_name or os.environ.get("DISPLAY")
        if not name:
            raise GlxUnavailable("no X display for the headset preview's GL context: set DISPLAY")
        self.display = self._x11.XOpenDisplay(name.encode())
        if not self.display:
            raise GlxUnavailable(f"cannot open X display {name!r} for the headset preview")
        try:
            self._create(GLX)
        except Exception:
            self._x11.XCloseDisplay(self.display)
            self.display = None
            raise

    def _create(self, GLX, share_context=None) -> None:
        screen = self._x11.XDefaultScreen(self.display)
        attribs = _int_list([GLX.GLX_X_RENDERABLE, 1,
                             GLX.GLX_DRAWABLE_TYPE, GLX.GLX_PBUFFER_BIT | GLX.GLX_WINDOW_BIT,
                             GLX.GLX_RENDER_TYPE, GLX.GLX_RGBA_BIT,
                             GLX.GLX_RED_SIZE, 8, GLX.GLX_GREEN_SIZE, 8, GLX.GLX_BLUE_SIZE, 8,
                             GLX.GLX_DEPTH_SIZE, 0, GLX.GLX_DOUBLEBUFFER, 0, 0])
        count = ctypes.c_int(0)
        configs = GLX.glXChooseFBConfig(self.display, screen, attribs, ctypes.byref(count))
        if not configs or count.value < 1:
            raise GlxUnavailable("the X server offers no RGB8 single-buffered GLX FBConfig with pbuffer support")
        self.fbconfig = configs[0]
        visual_id = ctypes.c_int(0)
        GLX.glXGetFBConfigAttrib(self.display, self.fbconfig, GLX.GLX_VISUAL_ID, ctypes.byref(visual_id))
        self.visual_id = int(visual_id.value)
        self.drawable = GLX.glXCreatePbuffer(self.display, self.fbconfig,
                                             _int_list([GLX.GLX_PBUFFER_WIDTH, 16, GLX.GLX_PBUFFER_HEIGHT, 16, 0]))
        self.context = GLX.glXCreateNewContext(self.display, self.fbconfig, GLX.GLX_RGBA_TYPE, share_context, True)
        if not self.context:
            GLX.glXDestroyPbuffer(self.display, self.drawable)
            raise GlxUnavailable("glXCreateNewContext failed for the headset preview"
                                 + (" (sharing the viewer's context)" if share_context else ""))
        self.make_current()

    def make_current(self) -> None:
        if not self._glx.glXMakeContextCurrent(self.display, self.drawable, self.drawable, self.context):
            raise GlxUnavailable("glXMakeContextCurrent failed for the headset preview")

    def ensure_current(self) -> bool:
        """Make our context current again if a runtime call changed it; True when it had to."""
        current = self._glx.glXGetCurrentContext()
        if _address(current) == _address(self.context):
            return False
        self.make_current()
        return True

    def close(self) -> None:
        if self.display is None:
            return
        GLX = self._glx
        GLX.glXMakeContextCurrent(self.display, 0, 0, None)
        GLX.glXDestroyContext(self.display, self.context)
        GLX.glXDestroyPbuffer(self.display, self.drawable)
        if self._own_display:
            self._x11.XCloseDisplay(self.display)
        self.display = None


class _XErrorEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("display", ctypes.c_void_p), ("resourceid", ctypes.c_ulong),
                ("serial", ctypes.c_ulong), ("error_code", ctypes.c_ubyte), ("request_code", ctypes.c_ubyte),
                ("minor_code", ctypes.c_ubyte)]


class _XErrors:
    """Record X errors on `display` instead of Xlib's default handler (which exits the process)."""

    _HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)

    def __init__(self, x11, display) -> None:
        self._x11, self._display = x11, display
        self.codes: list[int] = []
        self._callback = self._HANDLER(self._on_error)
        self._previous = None

    def _on_error(self, _display, event) -> int:
        self.codes.append(ctypes.cast(event, ctypes.POINTER(_XErrorEvent)).contents.error_code)
        return 0

    def __enter__(self) -> _XErrors:
        self._x11.XSync(self._display, 0)
        self._previous = self._x11.XSetErrorHandler(self._callback)
        return self

    def check(self) -> None:
        self._x11.XSync(self._display, 0)
        if self.codes:
            raise GlxUnavailable(f"X error {self.codes[0]} while sharing the viewer's GL context")

    def __exit__(self, *exc) -> None:
        self._x11.XSync(self._display, 0)
        self._x11.XSetErrorHandler(self._previous)


def _address(pointer) -> int:
    return ctypes.cast(pointer, ctypes.c_void_p).value or 0


def _int_list(values: list[int]):
    return (ctypes.c_int * len(values))(*values)


def _libx11():
    from OpenGL import GLX

    lib = ctypes.CDLL("libX11.so.6")
    lib.XOpenDisplay.restype = ctypes.POINTER(GLX.Display)
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XDefaultScreen.argtypes = [ctypes.POINTER(GLX.Display)]
    lib.XCloseDisplay.argtypes = [ctypes.POINTER(GLX.Display)]
    lib.XSync.argtypes = [ctypes.POINTER(GLX.Display), ctypes.c_int]
    lib.XSetErrorHandler.restype = ctypes.c_void_p
    lib.XSetErrorHandler.argtypes = [ctypes.c_void_p]
    return lib
