"""An off-screen GLX context on Xlib for the XR thread, with everything XrGraphicsBindingOpenGLXlibKHR needs.

Monado checks every field of the binding (display, visual id, FBConfig, drawable, context), so we
create them explicitly: an FBConfig that can render to a pbuffer, a 16×16 pbuffer as the drawable,
and a context made current on it. The runtime may change the current context inside its calls;
`ensure_current()` puts ours back (the frame loop calls it after every runtime call).
"""

from __future__ import annotations

import ctypes
import os

os.environ.setdefault("PYOPENGL_PLATFORM", "glx")


class GlxUnavailable(RuntimeError):
    """No X display or no usable GLX FBConfig (one line, for the status bar)."""


class GlxContext:
    """Owns X display connection, pbuffer and GLX context; `close()` releases them (idempotent)."""

    def __init__(self, display_name: str | None = None) -> None:
        from OpenGL import GLX

        self._glx = GLX
        self._x11 = _libx11()
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

    def _create(self, GLX) -> None:
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
        self.context = GLX.glXCreateNewContext(self.display, self.fbconfig, GLX.GLX_RGBA_TYPE, None, True)
        if not self.context:
            raise GlxUnavailable("glXCreateNewContext failed for the headset preview")
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
        self._x11.XCloseDisplay(self.display)
        self.display = None


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
    return lib
