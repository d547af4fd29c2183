"""Audio in sync with the viewer: PCM decoded by the engine, played through PortAudio (sounddevice).

PySide6-Essentials has no QtMultimedia (QAudioSink lives in PySide6-Addons), so the studio plays
sound with `sounddevice` when PortAudio and an output device are there. The player is also the
playback clock: during playback the position is the samples the device has consumed; without a
device (CI, a silent machine) a monotonic clock stands in and the rest works the same. Scrubbing
plays a short grain (one frame's worth, faded in and out) at the new position.
"""

from __future__ import annotations

import threading
import time

import numpy as np

RATE = 48_000
GRAIN_S = 0.06
FADE = 96


class AudioPlayer:
    """Plays `pcm` (N, 2) float32 from a position; thread-safe with the device callback."""

    def __init__(self, pcm: np.ndarray | None, rate: int = RATE, use_device: bool = True) -> None:
        self.pcm = pcm if pcm is not None else np.zeros((0, 2), np.float32)
        self.rate = rate
        self._lock = threading.Lock()
        self._pos = 0  # next sample the device will play
        self._playing = False
        self._grain = np.zeros((0, 2), np.float32)  # scrub grain, played once while paused
        self._grain_pos = 0
        self._clock_start: float | None = None
        self._clock_pos = 0
        self.stream = None
        self.notice = ""
        if use_device and self.pcm.shape[0]:
            self._open_device()

    def _open_device(self) -> None:
        try:
            import sounddevice

            if sounddevice.default.device[1] < 0 and not sounddevice.query_devices():
                raise OSError("no audio output device")
            self.stream = sounddevice.OutputStream(samplerate=self.rate, channels=2, dtype="float32",
                                                   callback=self._callback, blocksize=512)
            self.stream.start()
        except Exception as exc:  # no PortAudio / no device: the clock still runs, say so once
            self.stream = None
            self.notice = f"audio off ({' '.join(str(exc).split())[:80]})"

    # ---------------------------------------------------------------- the device side

    def fill(self, out: np.ndarray) -> None:
        """Write the next len(out) samples into `out` (N, 2): playback, a scrub grain or silence."""
        n = out.shape[0]
        with self._lock:
            if self._playing:
                chunk = self.pcm[self._pos:self._pos + n]
                self._pos += n
            else:
                chunk = self._grain[self._grain_pos:self._grain_pos + n]
                self._grain_pos += chunk.shape[0]
            out[:chunk.shape[0]] = chunk
            out[chunk.shape[0]:] = 0.0

    def _callback(self, out, frames, _time, _status) -> None:
        self.fill(out)

    # ---------------------------------------------------------------- control (UI thread)

    def play(self, seconds: float) -> None:
        with self._lock:
            self._pos = max(0, int(seconds * self.rate))
            self._playing = True
            self._clock_start, self._clock_pos = time.monotonic(), self._pos

    def pause(self) -> None:
        with self._lock:
            if self.stream is None and self._clock_start is not None:
                self._pos = self._clock_sample()
            self._playing = False
            self._clock_start = None

    def scrub(self, seconds: float) -> None:
        """A short grain at `seconds`, faded in and out so it does not click (audible scrubbing)."""
        start = max(0, int(seconds * self.rate))
        grain = self.pcm[start:start + int(GRAIN_S * self.rate)].copy()
        if grain.shape[0] > 2 * FADE:
            ramp = np.linspace(0.0, 1.0, FADE, dtype=np.float32)[:, None]
            grain[:FADE] *= ramp
            grain[-FADE:] *= ramp[::-1]
        with self._lock:
            if self._playing:
                return
            self._pos = start
            self._grain, self._grain_pos = grain, 0

    def _clock_sample(self) -> int:
        return self._clock_pos + int((time.monotonic() - self._clock_start) * self.rate)

    def position(self) -> float:
        """Seconds of the sample playing now (the playback clock)."""
        with self._lock:
            if self._playing and self.stream is None and self._clock_start is not None:
                return self._clock_sample() / self.rate
            return self._pos / self.rate

    @property
    def playing(self) -> bool:
        return self._playing

    def close(self) -> None:
        if self.stream is not None:
            self.stream.stop()
            self.stream.close()
            self.stream = None
