"""The viewer's eyes to the headset on the GPU: a ring of side-by-side textures in the viewer's share group.

The studio's GL viewer builds both eyes in its own context, on the GUI thread. While the headset preview
is on, `EyeShare.publish` — called by the viewer with its context current, right after the eyes were
built (or the master's eyes uploaded) — blits the two eye textures side by side into a free slot
texture (a GPU copy: no read-back, no upload), puts a fence after it, and returns a `GpuContent` for
`XrPreview.show`. The XR thread's GL context is created in the same share group (`ShareTarget`: the
viewer's X display and GLX context, see `glx.GlxContext`); it waits for the fence, blits the slot into
the swapchain image (`gl_swapchain`) and fences that read, so the viewer rewrites a slot only once the
headset's copy of it is done.

Three slots: the latest one published, one the XR thread may be reading, and one to write, so the
viewer never waits for the headset. Every slot write bumps the slot's generation; `GpuContent.acquire`
fails for a slot that has been rewritten since (the XR thread then takes the newer content).

Texture convention (the viewer's, the staging texture's): row 0 of the picture — its top — at texel
y = 0. Everything here is GL only (no Qt): the Monado test client uses it with a plain GLX context.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from dataclasses import dataclass

SLOTS = 3
FENCE_TIMEOUT_NS = 1_000_000_000  # a fence not signalled in 1 s: go on (a torn frame beats a hang)


@dataclass(frozen=True)
class ShareTarget:
    """The GL context to share objects with: addresses of its X `Display*` and its `GLXContext`."""

    display: int
    context: int

    @classmethod
    def current(cls) -> ShareTarget | None:
        """The calling thread's current GLX context, or None (no context current, or not GLX, e.g. EGL)."""
        try:
            lib = ctypes.CDLL("libGL.so.1")
        except OSError:
            return None
        lib.glXGetCurrentContext.restype = ctypes.c_void_p
        lib.glXGetCurrentDisplay.restype = ctypes.c_void_p
        context, display = lib.glXGetCurrentContext(), lib.glXGetCurrentDisplay()
        if not context or not display:
            return None
        return cls(int(display), int(context))


class _Slot:
    def __init__(self) -> None:
        self.tex = 0
        self.fbo = 0
        self.size = (0, 0)
        self.generation = 0
        self.readers = 0
        self.write_fence = None  # after the viewer's blit into the slot
        self.read_fences: list = []  # after each XR blit out of the slot


class GpuContent:
    """A stereo image living in a shared GL texture: side by side, `size` = (2W, H), left eye on the left."""

    def __init__(self, frame_id: int, ring: EyeShare, slot: int, generation: int, size: tuple[int, int],
                 key: object = None) -> None:
        self.frame_id = frame_id
        self.size = size
        self.key = key
        self._ring = ring
        self._slot = slot
        self._generation = generation

    @property
    def texture(self) -> int:
        return self._ring._slots[self._slot].tex

    def acquire(self) -> bool:
        """Hold the slot for reading; False when it was rewritten since this content was published."""
        return self._ring._acquire(self._slot, self._generation)

    def release(self) -> None:
        self._ring._release(self._slot)

    def wait_written(self, GL) -> None:
        """Wait (XR context current, slot held) until the viewer's copy into the slot has completed."""
        fence = self._ring._slots[self._slot].write_fence
        if fence is not None:
            GL.glClientWaitSync(fence, GL.GL_SYNC_FLUSH_COMMANDS_BIT, FENCE_TIMEOUT_NS)

    def add_read_fence(self, GL) -> None:
        """Fence the XR thread's read of the slot (XR context current, slot held)."""
        fence = GL.glFenceSync(GL.GL_SYNC_GPU_COMMANDS_COMPLETE, 0)
        GL.glFlush()
        with self._ring._lock:
            self._ring._slots[self._slot].read_fences.append(fence)


class EyeShare:
    """The viewer-side ring; create, `publish` and `release` with the viewer's context current."""

    def __init__(self, target: ShareTarget) -> None:
        from OpenGL import GL

        self.GL = GL
        self.target = target
        self._lock = threading.Lock()
        self._slots = [_Slot() for _ in range(SLOTS)]
        self._generations = itertools.count(1)  # never reused, even across release()
        self._latest: int | None = None
        self._last_key: object = None
        self.published = 0  # slot writes (GPU blits), for tests and the benchmark

    def publish(self, left: int, right: int, eye_size: tuple[int, int], frame_id: int,
                key: object = None) -> GpuContent | None:
        """Copy the eye textures `left` and `right` ((W, H) each) into a free slot; None when `key` is unchanged."""
        if key is not None and key == self._last_key:
            return None
        GL = self.GL
        with self._lock:
            index = next(i for i, s in enumerate(self._slots) if i != self._latest and s.readers == 0)
            slot = self._slots[index]
            slot.generation = next(self._generations)  # older contents of this slot can no longer be acquired
            read_fences, slot.read_fences = slot.read_fences, []
        for fence in read_fences:  # the headset's copies out of this slot must be done
            GL.glClientWaitSync(fence, GL.GL_SYNC_FLUSH_COMMANDS_BIT, FENCE_TIMEOUT_NS)
            GL.glDeleteSync(fence)
        if slot.write_fence is not None:
            GL.glDeleteSync(slot.write_fence)
            slot.write_fence = None
        w, h = eye_size
        self._ensure(slot, (2 * w, h))
        read = int(GL.glGenFramebuffers(1))
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, slot.fbo)
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, read)
        GL.glDisable(GL.GL_FRAMEBUFFER_SRGB)
        for x0, tex in ((0, left), (w, right)):
            GL.glFramebufferTexture2D(GL.GL_READ_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, tex, 0)
            GL.glBlitFramebuffer(0, 0, w, h, x0, 0, x0 + w, h, GL.GL_COLOR_BUFFER_BIT, GL.GL_NEAREST)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        GL.glDeleteFramebuffers(1, [read])
        slot.write_fence = GL.glFenceSync(GL.GL_SYNC_GPU_COMMANDS_COMPLETE, 0)
        GL.glFlush()  # the fence must reach the GPU before another context waits on it
        with self._lock:
            self._latest = index
            generation = slot.generation
        self._last_key = key
        self.published += 1
        return GpuContent(frame_id, self, index, generation, (2 * w, h), key)

    def _ensure(self, slot: _Slot, size: tuple[int, int]) -> None:
        GL = self.GL
        if slot.tex and slot.size == size:
            return
        if slot.tex:
            GL.glDeleteTextures(1, [slot.tex])
        slot.tex = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, slot.tex)
        GL.glTexStorage2D(GL.GL_TEXTURE_2D, 1, GL.GL_RGBA8, size[0], size[1])
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        if not slot.fbo:
            slot.fbo = int(GL.glGenFramebuffers(1))
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, slot.fbo)
        GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, slot.tex, 0)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        slot.size = size

    def _acquire(self, index: int, generation: int) -> bool:
        with self._lock:
            slot = self._slots[index]
            if slot.generation != generation or not slot.tex:
                return False
            slot.readers += 1
            return True

    def _release(self, index: int) -> None:
        with self._lock:
            self._slots[index].readers -= 1

    def forget_key(self) -> None:
        """Publish the next eyes even if they are the same as the last ones (a new headset session)."""
        self._last_key = None

    def release(self) -> None:
        """Free the slots (viewer context current). Call after the XR thread has stopped."""
        GL = self.GL
        with self._lock:
            slots, self._slots = self._slots, [_Slot() for _ in range(SLOTS)]
            self._latest = None
        for slot in slots:
            for fence in [*slot.read_fences, slot.write_fence]:
                if fence is not None:
                    GL.glDeleteSync(fence)
            if slot.fbo:
                GL.glDeleteFramebuffers(1, [slot.fbo])
            if slot.tex:
                GL.glDeleteTextures(1, [slot.tex])
