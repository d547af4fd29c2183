"""The headset test's client: runs studio.xr's XrPreview against the real runtime, inside the Monado chroot.

It is driven line by line on stdin and reports JSON lines on stdout, so the host-side test can kill
and restart the service while it runs and wait for conditions instead of sleeping:

    show NAME      show the SBS image NAME from the content .npz (frame id = its index + 1)
    play A B       playback: a new frame every headset frame, alternating images A and B (stop with `show`)
    gshow NAME     (with --share) show NAME the way the studio's GL viewer hands its eyes over: both eyes as
                   textures of the "viewer" context, copied GPU-side into a shared slot (gpu_share.EyeShare)
    gplay FPS A B  (with --share) viewer playback: a new frame every 1/FPS s on the viewer's thread,
                   alternating A and B, each reported as "published" (stop with `show`, `gshow` or `stop`)
    capture        read back the next submitted swapchain image (saved as .npy in --out)
    recentre       recentre the world screen
    stop           stop the preview (exit the session, join the thread) and quit

Reports: {"event": "status"|"frame"|"shown"|"published"|"captured"|"stopped", ...}.

With --share the client makes a GLX context of its own on a "viewer" thread (standing in for the studio
viewer's, which needs Qt and the engine, absent from the chroot) and gives XrPreview its display and
context to share.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import queue
import sys
import threading
import time
from concurrent.futures import Future

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
            if viewer is not None:
                viewer.stop_playing()
            preview.show(Content(names.index(arg) + 1, images[arg]))
            emit(event="shown", name=arg, id=names.index(arg) + 1, t=time.monotonic_ns())
        elif cmd == "gshow":
            playing.clear()
            viewer.stop_playing()
            frame_id = names.index(arg) + 1
            preview.show(viewer.call(lambda a=arg, i=frame_id: viewer.publish(images[a], i)))
            emit(event="shown", name=arg, id=frame_id, t=time.monotonic_ns(), gpu=True)
        elif cmd == "gplay":
            fps, *which = arg.split()
            first = viewer.play([images[n] for n in which], float(fps), next_id, preview.show)
            emit(event="playing", names=which, first_id=first, gpu=True)
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
    """A GL context on a thread of its own holding each eye as a texture, as the studio's viewer does.

    Everything GL runs on that thread (`call`); `play` publishes frames there at a given rate.
    """

    def __init__(self) -> None:
        ctypes.CDLL("libX11.so.6").XInitThreads()  # two threads use this display (Qt does this in the studio)
        self._jobs: queue.Queue = queue.Queue()
        self._stop_play = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="viewer", daemon=True)
        ready: Future = Future()
        self._thread.start()
        self._jobs.put((self._open, ready))
        self.target = ready.result(30)

    def _open(self):
        from OpenGL import GL

        from studio.xr.glx import GlxContext

        self.GL = GL
        self.ctx = GlxContext()
        self.share = EyeShare(ShareTarget(ctypes.cast(self.ctx.display, ctypes.c_void_p).value,
                                          ctypes.cast(self.ctx.context, ctypes.c_void_p).value))
        self.eyes = [int(t) for t in GL.glGenTextures(2)]
        return self.share.target

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, future = job
            try:
                future.set_result(fn())
            except BaseException as exc:  # reported to the caller
                future.set_exception(exc)

    def call(self, fn):
        future: Future = Future()
        self._jobs.put((fn, future))
        return future.result(60)

    def _upload(self, sbs: np.ndarray) -> tuple[int, int]:
        """(viewer thread) The eyes into the viewer's textures: the stand-in for the viewer's render."""
        GL = self.GL
        h, w = sbs.shape[0], sbs.shape[1] // 2
        for tex, eye in zip(self.eyes, (sbs[:, :w], sbs[:, w:]), strict=True):
            GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, w, h, 0, GL.GL_RGB, GL.GL_UNSIGNED_BYTE,
                            np.ascontiguousarray(eye))
        return w, h

    def publish(self, sbs: np.ndarray, frame_id: int):
        """(viewer thread) Render (upload) the eyes, then hand them over GPU-side."""
        return self.share.publish(*self.eyes, self._upload(sbs), frame_id, key=frame_id)

    def play(self, frames: list[np.ndarray], fps: float, next_id: list[int], show) -> int:
        """Start publishing `frames` in turn at `fps`; returns the first frame id it will use."""
        self.stop_playing()
        self._stop_play.clear()

        def run() -> None:
            period, k = 1.0 / fps, 0
            t_next = time.monotonic()
            while not self._stop_play.is_set():
                size = self._upload(frames[k % len(frames)])
                t0 = time.perf_counter()  # the hand-over alone: the studio's cost on top of its own render
                content = self.share.publish(*self.eyes, size, next_id[0], key=None)
                publish_ms = (time.perf_counter() - t0) * 1000.0
                show(content)
                emit(event="published", id=next_id[0], t=time.monotonic_ns(), publish_ms=publish_ms)
                next_id[0] += 1
                k += 1
                t_next += period
                self._stop_play.wait(max(0.0, t_next - time.monotonic()))

        self._jobs.put((run, Future()))
        return next_id[0]

    def stop_playing(self) -> None:
        self._stop_play.set()
        self.call(lambda: None)  # the play loop has returned

    def close(self) -> None:
        self.stop_playing()

        def release() -> None:
            self.share.release()
            self.GL.glDeleteTextures(2, self.eyes)
            self.ctx.close()

        self.call(release)
        self._jobs.put(None)
        self._thread.join(10)


if __name__ == "__main__":
    sys.exit(main())
