"""The headset test's client: runs studio.xr's XrPreview against the real runtime, inside the Monado chroot.

It is driven line by line on stdin and reports JSON lines on stdout, so the host-side test can kill
and restart the service while it runs and wait for conditions instead of sleeping:

    show NAME      show the SBS image NAME from the content .npz (frame id = its index + 1)
    play A B       playback: a new frame every headset frame, alternating images A and B (stop with `show`)
    gshow NAME     (with --share) show NAME the way the studio's GL viewer hands its eyes over: both eyes as
                   textures of the "viewer" context, copied GPU-side into a shared slot (gpu_share.EyeShare)
    capture        read back the next submitted swapchain image (saved as .npy in --out)
    recentre       recentre the world screen
    stop           stop the preview (exit the session, join the thread) and quit

Reports: {"event": "status"|"frame"|"shown"|"captured"|"stopped", ...}.

With --share the client makes a GLX context of its own first (standing in for the studio viewer's, which
needs Qt and the engine, absent from the chroot) and gives XrPreview its display and context to share.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import threading

import numpy as np

from studio.xr.gpu_share import EyeShare, ShareTarget
from studio.xr.session import Content, XrPreview

_out_lock = threading.Lock()


def emit(**fields) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--content", required=True, help=".npz of named (H, 2W, 3) uint8 SBS images")
    parser.add_argument("--out", required=True, help="folder for captured swapchain images")
    parser.add_argument("--share", action="store_true", help="a viewer GL context whose textures the headset shares")
    args = parser.parse_args()
    viewer = _Viewer() if args.share else None
    images = dict(np.load(args.content))
    names = sorted(images)

    playing: list = []  # images cycled one per headset frame while non-empty
    next_id = [len(names) + 1]

    def on_frame(f) -> None:
        emit(event="frame", i=f.index, id=f.content_id, source=f.source, t=f.render_start_ns, cpu_ms=f.cpu_ms,
             wall_ms=f.wall_ms, wait_ms=f.wait_ms, layers=[[la.eye, *la.rect] for la in f.layers])
        if playing:
            image = playing[next_id[0] % len(playing)]
            preview.show(Content(next_id[0], image))
            next_id[0] += 1

    preview = XrPreview(
        app_name="spatialdreamer-xr-test",
        on_status=lambda r: emit(event="status", status=r.status.name,
                                 state=r.state.name if r.state is not None else None, message=r.message),
        on_frame=on_frame,
        retry_s=0.25, gl_share=viewer.target if viewer else None)
    captures = [0]

    def on_capture(rgba, layers, frame_id) -> None:
        captures[0] += 1
        path = os.path.join(args.out, f"capture_{captures[0]}.npy")
        np.save(path, rgba)
        st = preview.stats
        emit(event="captured", path=path, id=frame_id, layers=[[la.eye, *la.rect] for la in layers],
             uploads=st.uploads, gpu_copies=st.gpu_copies, readbacks=st.readbacks, gpu_shared=preview.gpu_shared)

    preview.start()
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "play":
            playing[:] = [images[n] for n in arg.split()]
            emit(event="playing", names=arg.split(), first_id=next_id[0])
        elif cmd == "show":
            playing.clear()
            preview.show(Content(names.index(arg) + 1, images[arg]))
            emit(event="shown", name=arg, id=names.index(arg) + 1, t=__import__("time").monotonic_ns())
        elif cmd == "gshow":
            playing.clear()
            frame_id = names.index(arg) + 1
            preview.show(viewer.publish(images[arg], frame_id))
            emit(event="shown", name=arg, id=frame_id, t=__import__("time").monotonic_ns(), gpu=True)
        elif cmd == "capture":
            preview.capture_next(on_capture)
        elif cmd == "recentre":
            preview.recentre()
        elif cmd == "stop":
            break
    joined = preview.stop()
    if viewer is not None:
        viewer.close()
    emit(event="stopped", joined=joined, threads=[t.name for t in threading.enumerate()],
         frames=preview.stats.frames_ended, reconnects=preview.stats.reconnects,
         sessions=preview.stats.sessions_started)
    return 0


class _Viewer:
    """A GL context of the main thread holding each eye as a texture, as the studio's viewer does."""

    def __init__(self) -> None:
        from OpenGL import GL

        from studio.xr.glx import GlxContext

        ctypes.CDLL("libX11.so.6").XInitThreads()  # two threads use this display (Qt does this in the studio)
        self.GL = GL
        self.ctx = GlxContext()
        self.target = ShareTarget(ctypes.cast(self.ctx.display, ctypes.c_void_p).value,
                                  ctypes.cast(self.ctx.context, ctypes.c_void_p).value)
        self.share = EyeShare(self.target)
        self.eyes = [int(t) for t in GL.glGenTextures(2)]

    def publish(self, sbs: np.ndarray, frame_id: int):
        GL = self.GL
        self.ctx.make_current()
        h, w = sbs.shape[0], sbs.shape[1] // 2
        for tex, eye in zip(self.eyes, (sbs[:, :w], sbs[:, w:]), strict=True):
            GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, w, h, 0, GL.GL_RGB, GL.GL_UNSIGNED_BYTE,
                            np.ascontiguousarray(eye))
        return self.share.publish(*self.eyes, (w, h), frame_id, key=frame_id)

    def close(self) -> None:
        self.ctx.make_current()
        self.share.release()
        self.GL.glDeleteTextures(2, self.eyes)
        self.ctx.close()


if __name__ == "__main__":
    sys.exit(main())
