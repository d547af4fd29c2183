"""The studio's link to the engine session: frames for the viewer, playback, prefetch, analysis, master renders.

All session calls run in worker lanes: ``frames`` (one fetch at a time; a newer request supersedes
an older one, so a scrub never lands on a stale frame; while playing, the next LOOKAHEAD frames are
fetched there while the viewer paints, so a frame that comes due goes on screen at once) and
``background`` (shot analysis, prefetch ahead of the playhead, the master-path render of the current
frame). The UI thread only uploads what arrives.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction

from PySide6.QtCore import QObject, QTimer, Signal

from engine import api
from engine.document import Project
from engine.document.timecode import frames_to_timecode
from studio.audio import RATE, AudioPlayer
from studio.viewer.modes import FrameData, delta_range
from studio.workers import Lane

PREFETCH_FRAMES = 24
LOOKAHEAD = 2  # frames made ready (decoded, δ read, FrameData built) ahead of the playhead while playing
SETTLE_MS = 150  # a paused playhead that stays put this long gets its neighbours decoded
AROUND = (8, 16)  # frames before / after a settled playhead decoded in the background (J/K/L, ←/→)


TORCH_LIBRARIES = ("libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so",
                   "libtorch_python.so")


def preload_torch_libraries() -> list[str]:
    """Load torch's shared libraries with ctypes before the first ``import torch`` (in a worker): ctypes
    drops the GIL while the dynamic linker maps and relocates them and runs their static initialisers,
    which the import itself does holding the GIL — measured, importing torch in a worker froze the UI
    thread for 1.6–2.2 s (load 13–20), against ~0.5 s after this. Returns the names loaded (none when
    torch is already imported, not installed, or a library does not load: the import then does it)."""
    import sys

    if "torch" in sys.modules:
        return []
    import ctypes
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return []
    folder = Path(spec.origin).parent / "lib"
    loaded = []
    for name in TORCH_LIBRARIES:
        if (folder / name).exists():
            try:
                ctypes.CDLL(str(folder / name), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                break
            loaded.append(name)
    return loaded


@dataclass(frozen=True)
class _Opened:
    """What the open job hands back: the session and the clip's audio."""

    session: object
    pcm: object


class FrameController(QObject):
    """Owns the session for the clip on screen.

    Signals:
        opened(object): the session is open (its clip).
        frame_ready(object): a FrameData arrived for the viewer.
        position_changed(int): the playhead moved (requested frame).
        master_ready(int, object, object): the master-path eyes of a frame.
        analysed(object): a shot's depth is in the cache (the shot).
        progress(str, float): a background job's stage and fraction (status bar).
        error(str): a one-line failure.
        playing_changed(bool).
    """

    opened = Signal(object)
    frame_ready = Signal(object)
    position_changed = Signal(int)
    master_ready = Signal(int, object, object)
    analysed = Signal(object)
    progress = Signal(str, float)
    error = Signal(str)
    playing_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, use_audio_device: bool = True) -> None:
        super().__init__(parent)
        self.session = None
        self.frames = Lane("frames", self)
        self.background = Lane("background", self)
        self.position = 0
        self.frame_count = 0
        self.fps = Fraction(24)
        self.audio: AudioPlayer | None = None
        self._use_audio_device = use_audio_device
        self._start_tc = ""
        self._fetching = False
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(5)
        self._play_timer.timeout.connect(self._tick)
        self._settle = QTimer(self, singleShot=True, interval=SETTLE_MS, timeout=self._prefetch_around)
        self._around: int | None = None  # request id of the neighbours' prefetch
        self._shuttle = 1.0
        self._play_origin: tuple[float, int] | None = None
        self.frames.finished.connect(self._on_frame)
        self.frames.failed.connect(self._on_failed)
        self.frames.idle.connect(self._frames_idle)
        self.background.failed.connect(lambda _rid, message: self.error.emit(message))
        self.background.progress.connect(self._on_progress)
        self.dropped = 0
        self.shown = 0
        self.shown_ahead = 0  # of those, frames the look-ahead had ready when they came due
        self._fetch_s = 0.0
        # playback look-ahead: FrameData of the next frames, fetched while the viewer paints this one, so
        # a frame that comes due is handed to the viewer at once instead of after a fetch round trip
        self._ahead: dict[int, FrameData] = {}
        self._ahead_asked: dict[int, int] = {}  # frame -> request id of its fetch in flight
        self._ahead_generation = 0  # bumped by whatever makes a fetched frame stale (seek, edit, stop)
        self._ahead_requests: set[int] = set()  # look-ahead request ids not delivered yet (never shown as such)
        self.frames.cancelled.connect(self._ahead_requests.discard)

    # ---------------------------------------------------------------- session

    def open(self, project: Project, clip_id: str, request: api.ConvertRequest | None = None) -> None:
        """Open a session on `clip_id` of `project` (in the frames lane) and show its current frame."""
        self.stop()
        old, self.session = self.session, None
        clip = project.clip(clip_id)
        self.fps, self.frame_count = clip.fps, clip.frame_count
        self.position = min(self.position, clip.frame_count - 1)

        def job(ctx):  # the engine's heavy modules (torch, …) are first imported here, off the UI thread
            preload_torch_libraries()
            if old is not None:
                old.close()
            session = api.open_session(project, clip=clip_id, request=request)
            try:
                pcm = api.decode_pcm(session.clip.media, RATE)
            except api.MediaError:
                pcm = None
            return _Opened(session, pcm)

        self.frames.submit(job, key="open")

    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id in self._ahead_requests:  # a look-ahead fetch: the frame's own fetch reports it
            self._ahead_requests.discard(request_id)
            for n in [n for n, rid in self._ahead_asked.items() if rid == request_id]:
                del self._ahead_asked[n]  # no longer waited for: the playhead fetches that frame itself
            return
        self.error.emit(message)

    def _on_frame(self, request_id: int, result) -> None:
        if request_id in self._ahead_requests:  # kept by its on_done for the tick that shows it
            self._ahead_requests.discard(request_id)
            return
        if isinstance(result, FrameData):
            self._fetching = False
            self._show(result)
        elif isinstance(result, _Opened):
            self.session, pcm = result.session, result.pcm
            if self.audio is not None:
                self.audio.close()
            self.audio = AudioPlayer(pcm, RATE, use_device=self._use_audio_device)
            info = self.session.reader.info.video
            self._start_tc = getattr(info, "start_timecode", "") or ""
            self.opened.emit(self.session.clip)
            self.seek(self.position, force=True)

    def _show(self, data: FrameData) -> None:
        self.shown += 1
        self.frame_ready.emit(data)
        if self.playing:
            self._fill_ahead()
        else:
            self._settle.start()  # restarted by every frame of a scrub: runs once it stops

    def _frames_idle(self) -> None:
        self._fetching = False

    def update_project(self, project: Project) -> None:
        """The document changed (an edit): the session renders the new one from now on."""
        if self.session is not None:
            session = self.session
            self._drop_ahead()  # fetched under the old document (a depth edit changes δ)

            def job(ctx):
                session.update(project)
                return True

            self.frames.submit(job, key="update")

    # ---------------------------------------------------------------- frames

    def timecode(self, n: int) -> str:
        return frames_to_timecode(n, self.fps)

    def _fetch_job(self, n: int, timed: bool = False):
        """The job that fetches frame `n` for the viewer; `timed`: a playback fetch, whose duration goes
        into the look-ahead's spacing (a scrub's random-access decode says nothing about playback)."""
        session = self.session
        tc = self.timecode(n)

        def job(ctx):
            t0 = time.perf_counter()
            rgb = session.frame(n)
            depth = session.depth(n)
            data = FrameData(n, rgb, depth.delta, tc, depth.provisional, delta_range(depth.delta), session.bars(n))
            if timed:  # a running average of how long a playback frame takes to fetch
                elapsed = time.perf_counter() - t0
                self._fetch_s = elapsed if self._fetch_s == 0.0 else 0.7 * self._fetch_s + 0.3 * elapsed
            return data

        return job

    def seek(self, n: int, force: bool = False) -> None:
        """Show source frame `n` (clamped to the clip); the audio scrubs when paused."""
        n = max(0, min(int(n), max(0, self.frame_count - 1)))
        moved = n != self.position
        self.position = n
        if moved or force:
            self.position_changed.emit(n)
        if self.session is None:
            return
        self._settle.stop()
        if self._around is not None:  # the seek comes first: the decoder and the cores are its
            self.background.cancel(self._around)
            self._around = None
        self._drop_ahead()
        self._fetching = True
        self.frames.submit(self._fetch_job(n), key="frame")
        if self.playing:  # playback goes on from here (a click on the timeline while playing)
            self._play_origin = (time.monotonic(), n)
            if self.audio is not None and self._shuttle == 1.0:
                self.audio.play(n / float(self.fps))
        elif self.audio is not None:
            self.audio.scrub(n / float(self.fps))

    def step(self, frames: int) -> None:
        self.pause()
        self.seek(self.position + frames)

    # ---------------------------------------------------------------- playback

    @property
    def playing(self) -> bool:
        return self._play_timer.isActive()

    def play(self, speed: float = 1.0) -> None:
        """Play at `speed` × real time (negative: backwards, J/K/L shuttle); audio only at 1×."""
        if self.session is None:
            return
        self._shuttle = speed
        self._play_origin = (time.monotonic(), self.position)
        if self.audio is not None and speed == 1.0:
            self.audio.play(self.position / float(self.fps))
        self._prefetch(self.position)
        self._drop_ahead()  # the direction or speed may have changed
        self._fetch_s = 0.0  # measured afresh on this playback's own fetches
        if not self._play_timer.isActive():
            self._play_timer.start()
            self.playing_changed.emit(True)
        self._fill_ahead()

    def pause(self) -> None:
        if self.audio is not None:
            self.audio.pause()
        self._drop_ahead()
        if self._play_timer.isActive():
            self._play_timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def stop(self) -> None:
        self.pause()

    def _clock_frame(self) -> int:
        if self.audio is not None and self._shuttle == 1.0 and self.audio.playing:
            return int(self.audio.position() * float(self.fps))
        t0, n0 = self._play_origin
        return n0 + int((time.monotonic() - t0) * float(self.fps) * self._shuttle)

    def _tick(self) -> None:
        target = self._clock_frame()
        if target >= self.frame_count or target < 0:
            self.pause()
            self.seek(max(0, min(target, self.frame_count - 1)))
            return
        if target == self.position or self._fetching:
            return  # the viewer is still busy with the last frame: frames are dropped, sync is kept
        sign = 1 if self._shuttle >= 0 else -1
        due = [n for n in self._ahead if 0 < (n - self.position) * sign <= (target - self.position) * sign]
        if not due and self._ahead_asked:
            return  # the look-ahead is fetching what comes next: no second fetch behind it
        shown = max(due, key=lambda n: n * sign) if due else target  # the latest frame ready by now
        self.dropped += max(0, abs(shown - self.position) - 1)
        self.position = shown
        self.position_changed.emit(shown)
        if any(n % (PREFETCH_FRAMES // 2) == 0 for n in range(min(target, shown), max(target, shown) + 1)):
            self._prefetch(shown)
        if due:  # fetched while the last frame was painted: on screen with no round trip
            self.shown_ahead += 1
            self._show(self._ahead.pop(shown))
            return
        self._fetching = True
        self.frames.submit(self._fetch_job(target, timed=True), key="frame")

    def _spacing(self) -> int:
        """Frames (signed) between two pictures the playhead can show: the shuttle's speed, or more when
        a fetch takes longer than a frame (the clip keeps its rate and frames are dropped evenly)."""
        speed = abs(self._shuttle)
        frames = max(round(speed), math.ceil(self._fetch_s * float(self.fps) * speed - 1e-9), 1)
        return frames if self._shuttle >= 0 else -frames

    def _fill_ahead(self) -> None:
        """Ask for the next LOOKAHEAD frames the playhead will show (those not ready or asked yet); drop
        what it has passed or will not show."""
        if self.session is None or not self.playing:
            return
        spacing = self._spacing()
        wanted = [self.position + spacing * i for i in range(1, LOOKAHEAD + 1)]
        wanted = [n for n in wanted if 0 <= n < self.frame_count]
        sign = 1 if spacing > 0 else -1
        for n in [n for n in self._ahead if (n - self.position) * sign <= 0]:
            del self._ahead[n]
        for n in [n for n in self._ahead_asked if (n - self.position) * sign <= 0]:
            self.frames.cancel(self._ahead_asked.pop(n))
        generation = self._ahead_generation
        for n in wanted:
            if n in self._ahead or n in self._ahead_asked or len(self._ahead) + len(self._ahead_asked) >= LOOKAHEAD:
                continue

            def done(data, n=n, generation=generation) -> None:
                if self._ahead_asked.get(n) is not None and generation == self._ahead_generation:
                    del self._ahead_asked[n]
                    if self.playing and (n - self.position) * sign > 0:
                        self._ahead[n] = data

            self._ahead_asked[n] = request_id = self.frames.submit(self._fetch_job(n, timed=True), on_done=done)
            self._ahead_requests.add(request_id)

    def _drop_ahead(self) -> None:
        """Forget the look-ahead: its frames and the fetches in flight (their results are ignored)."""
        self._ahead_generation += 1
        self._ahead.clear()
        for request_id in self._ahead_asked.values():
            self.frames.cancel(request_id)
        self._ahead_asked.clear()

    def _prefetch_around(self) -> None:
        """Decode the settled playhead's neighbours, so stepping either way and short shuttles hit the cache."""
        session = self.session
        if session is None or self.playing:
            return
        start = max(0, self.position - AROUND[0])
        self._around = self.background.submit(lambda ctx: session.prefetch(start, sum(AROUND) + 1, ctx.cancel),
                                              key="prefetch")

    def _prefetch(self, n: int) -> None:
        """Decode ahead of the playhead, with δ for the frames it has not passed yet (a prefetch slower
        than playback would otherwise read δ for frames already dropped)."""
        session = self.session

        def ahead(i: int) -> bool:
            return (i - self.position) * (1 if self._shuttle >= 0 else -1) > 0

        self.background.submit(lambda ctx: session.prefetch(n + 1, PREFETCH_FRAMES, ctx.cancel, depth=ahead),
                               key="prefetch")

    # ---------------------------------------------------------------- background work

    def analyse_shot(self, shot) -> None:
        """Fill the depth cache of `shot` (progress to the status bar), then show the exact δ."""
        if self.session is None or shot is None:
            return
        session = self.session

        def job(ctx):
            yield from session.analyse(shot, ctx.cancel)
            return shot

        def done(result):
            self.analysed.emit(result)
            self.seek(self.position, force=True)

        self.background.submit(job, key=f"analyse {shot.start}", on_done=done)

    def render_master(self, n: int) -> None:
        """Render frame `n` by the master's exact path (DVG fill included) for the viewer's toggle."""
        if self.session is None:
            return
        session = self.session

        def job(ctx):
            left, right = session.render(n, cancel=ctx.cancel)
            return n, left, right

        self.background.submit(job, key="master", on_done=lambda result: self.master_ready.emit(*result))

    def _on_progress(self, _rid: int, p) -> None:
        if isinstance(p, api.Progress) and p.stage != "note":
            self.progress.emit(p.stage, p.fraction)

    def close(self) -> None:
        """Stop playback and workers, then close the session (after its workers, as the session asks)."""
        self.pause()
        self._settle.stop()
        self.frames.close()
        self.background.close()
        if self.session is not None:
            self.session.close()
            self.session = None
        if self.audio is not None:
            self.audio.close()
            self.audio = None
