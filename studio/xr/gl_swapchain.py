"""The GL side of the headset preview: a GLX context, one SBS swapchain, and the copy into it.

A new stereo image is uploaded once into a staging texture; each swapchain image that does not yet
hold it gets a GPU blit (flipped: OpenXR's GL images have their origin at the bottom left), so a
static frame costs no upload at all and a new one costs one `glTexSubImage2D`. The swapchain is the
side-by-side image itself — left eye in the left half — and each eye's quad layer shows its half.

Given a `share` (the studio viewer's GLX context, `gpu_share.ShareTarget`) the context is created in the
viewer's share group and a `gpu_share.GpuContent` — the viewer's own eyes in a shared texture — is
blitted straight into the swapchain: no read-back, no upload. When sharing is refused the context is a
private one (`shared` False) and only CPU images (`session.Content`) can be shown.
"""

from __future__ import annotations

import numpy as np

from studio.xr.glx import GlxContext, GlxUnavailable

GL_SRGB8_ALPHA8 = 0x8C43
GL_RGBA8 = 0x8058


class GlSwapchainGraphics:
    def __init__(self, xr, display_name: str | None = None, share=None) -> None:
        from OpenGL import GL

        self.xr = xr
        self.GL = GL
        self.share_error = ""
        self.ctx = None
        if share is not None:
            try:
                self.ctx = GlxContext(share=share)
            except GlxUnavailable as exc:
                self.share_error = str(exc)
        if self.ctx is None:
            self.ctx = GlxContext(display_name)
        self.shared = self.ctx.shared
        self.uploads = 0  # CPU → GPU copies of a new image (glTex(Sub)Image2D)
        self.gpu_copies = 0  # blits from a shared viewer texture
        self.readbacks = 0  # GPU → CPU (only when a capture asks)
        self.session = None
        self.swapchain = None
        self.image_size = (0, 0)
        self._images: list[int] = []
        self._image_content: list[object] = []
        self._staged = None
        self._staging_tex = 0
        self._staging_size = (0, 0)
        self._fbos = GL.glGenFramebuffers(2)
        self._max_eye = (4096, 4096)
        self._format = GL_RGBA8

    # -- session set-up ------------------------------------------------------------------------
    def check_requirements(self, instance, system) -> None:
        """The mandatory xrGetOpenGLGraphicsRequirementsKHR call, and a check of our context against it."""
        xr, GL = self.xr, self.GL
        if hasattr(xr, "ext") and hasattr(xr.ext, "KHR") and hasattr(xr.ext.KHR, "opengl_enable"):
            req = xr.ext.KHR.opengl_enable.get_graphics_requirements(instance, system)
        else:
            req = xr.get_opengl_graphics_requirements_khr(instance, system)
        self.ensure_current()
        have = (GL.glGetIntegerv(GL.GL_MAJOR_VERSION), GL.glGetIntegerv(GL.GL_MINOR_VERSION))
        low = req.min_api_version_supported
        if (int(have[0]), int(have[1])) < (low.major, low.minor):
            raise RuntimeError(f"the runtime needs OpenGL ≥ {low.major}.{low.minor}; this context is "
                               f"{int(have[0])}.{int(have[1])}")

    def binding(self):
        c = self.ctx
        return self.xr.GraphicsBindingOpenGLXlibKHR(
            x_display=c.display, visualid=c.visual_id, glx_fbconfig=c.fbconfig,
            glx_drawable=c.drawable, glx_context=c.context)

    def attach(self, session, instance, system) -> None:
        xr = self.xr
        self.session = session
        views = xr.enumerate_view_configuration_views(instance, system, xr.ViewConfigurationType.PRIMARY_STEREO)
        self._max_eye = (int(views[0].max_image_rect_width), int(views[0].max_image_rect_height))
        formats = list(xr.enumerate_swapchain_formats(session))
        self.ensure_current()
        for wanted in (GL_SRGB8_ALPHA8, GL_RGBA8):
            if wanted in formats:
                self._format = wanted
                break
        else:
            raise RuntimeError(f"the runtime offers no RGBA8 swapchain format (has {formats})")

    def ensure_current(self) -> bool:
        return self.ctx.ensure_current()

    # -- per frame -----------------------------------------------------------------------------
    def render(self, content, readback: bool) -> np.ndarray | None:
        """Make the next swapchain image hold `content`; returns the image read back (top-down RGBA).

        `content` is a `session.Content` (CPU image: uploaded once) or, on a shared context, a held
        `gpu_share.GpuContent` (blitted from the viewer's texture).
        """
        w2, h = content.size
        gpu = hasattr(content, "texture")
        if gpu and not self.shared:
            raise RuntimeError("GPU content on a context that does not share the viewer's objects")
        eye = _fit((w2 // 2, h), self._max_eye)
        if self.swapchain is None or self.image_size != (2 * eye[0], eye[1]):
            self._make_swapchain(2 * eye[0], eye[1])
        if not gpu and self._staged is not content:
            self._upload(content.sbs)
            self._staged = content
        xr = self.xr
        index = xr.acquire_swapchain_image(self.swapchain, xr.SwapchainImageAcquireInfo())
        xr.wait_swapchain_image(self.swapchain, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION))
        self.ensure_current()
        image = None
        try:
            if self._image_content[index] is not content:
                if gpu:
                    content.wait_written(self.GL)
                    self._blit(self._images[index], (w2, h), content.texture)
                    content.add_read_fence(self.GL)
                    self.gpu_copies += 1
                else:
                    self._blit(self._images[index], (w2, h), self._staging_tex)
                self._image_content[index] = content
            if readback:
                image = self._read(self._images[index])
        finally:
            xr.release_swapchain_image(self.swapchain, xr.SwapchainImageReleaseInfo())
            self.ensure_current()
        return image

    def _make_swapchain(self, width: int, height: int) -> None:
        xr = self.xr
        self._destroy_swapchain()
        self.swapchain = xr.create_swapchain(self.session, xr.SwapchainCreateInfo(
            usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT | xr.SwapchainUsageFlags.TRANSFER_DST_BIT
            | xr.SwapchainUsageFlags.SAMPLED_BIT,
            format=self._format, sample_count=1, width=width, height=height,
            face_count=1, array_size=1, mip_count=1))
        self.ensure_current()
        images = xr.enumerate_swapchain_images(self.swapchain, xr.SwapchainImageOpenGLKHR)
        self.ensure_current()
        self._images = [int(im.image) for im in images]
        self._image_content = [None] * len(self._images)
        self.image_size = (width, height)

    def _upload(self, sbs: np.ndarray) -> None:
        GL = self.GL
        h, w = sbs.shape[:2]
        fmt = GL.GL_RGB if sbs.shape[2] == 3 else GL.GL_RGBA
        if not self._staging_tex:
            self._staging_tex = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._staging_tex)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        pixels = np.ascontiguousarray(sbs)
        if self._staging_size == (w, h):  # same size: update in place, no reallocation
            GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, w, h, fmt, GL.GL_UNSIGNED_BYTE, pixels)
        else:
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, w, h, 0, fmt, GL.GL_UNSIGNED_BYTE, pixels)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
            self._staging_size = (w, h)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        self.uploads += 1

    def _blit(self, target: int, src_size: tuple[int, int], source: int) -> None:
        GL = self.GL
        sw, sh = src_size
        dw, dh = self.image_size
        GL.glDisable(GL.GL_FRAMEBUFFER_SRGB)
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._fbos[0])
        GL.glFramebufferTexture2D(GL.GL_READ_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D,
                                  source, 0)
        GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, self._fbos[1])
        GL.glFramebufferTexture2D(GL.GL_DRAW_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, target, 0)
        # the staging texture holds row 0 = top of the picture at y = 0; flip into GL's bottom-up image
        same = (sw, sh) == (dw, dh)
        GL.glBlitFramebuffer(0, 0, sw, sh, 0, dh, dw, 0, GL.GL_COLOR_BUFFER_BIT,
                             GL.GL_NEAREST if same else GL.GL_LINEAR)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        GL.glFlush()

    def _read(self, image: int) -> np.ndarray:
        GL = self.GL
        w, h = self.image_size
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, self._fbos[1])
        GL.glFramebufferTexture2D(GL.GL_READ_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, image, 0)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        data = GL.glReadPixels(0, 0, w, h, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        self.readbacks += 1
        rgba = np.frombuffer(data, np.uint8).reshape(h, w, 4)
        return np.ascontiguousarray(rgba[::-1])

    # -- tear-down -----------------------------------------------------------------------------
    def _destroy_swapchain(self) -> None:
        swapchain, self.swapchain = self.swapchain, None
        self._images, self._image_content = [], []
        if swapchain is not None:
            self.xr.destroy_swapchain(swapchain)
            self.ensure_current()

    def close(self) -> None:
        try:
            self._destroy_swapchain()
        finally:
            try:
                self.ensure_current()
                GL = self.GL
                GL.glDeleteFramebuffers(2, self._fbos)
                if self._staging_tex:
                    GL.glDeleteTextures([self._staging_tex])
            finally:
                self.ctx.close()


def _fit(size: tuple[int, int], limit: tuple[int, int]) -> tuple[int, int]:
    """Scale (w, h) down, keeping the aspect, until it fits `limit`; sizes stay ≥ 1."""
    w, h = size
    s = min(1.0, limit[0] / w, limit[1] / h)
    return max(1, int(w * s)), max(1, int(h * s))
