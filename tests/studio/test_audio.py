"""The audio player as a clock and a sample source (no device needed: the fill callback is tested)."""

from __future__ import annotations

import numpy as np

from studio.audio import GRAIN_S, AudioPlayer


def _tone(seconds: float, rate: int = 48_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    s = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([s, s], axis=1)


def test_playback_fills_from_the_play_position():
    pcm = _tone(2.0)
    player = AudioPlayer(pcm, use_device=False)
    player.play(1.0)
    out = np.empty((512, 2), np.float32)
    player.fill(out)
    assert np.array_equal(out, pcm[48_000:48_512])
    player.fill(out)
    assert np.array_equal(out, pcm[48_512:49_024])


def test_scrub_plays_one_faded_grain_then_silence():
    player = AudioPlayer(_tone(2.0), use_device=False)
    player.scrub(0.5)
    n = int(GRAIN_S * 48_000)
    out = np.empty((n + 512, 2), np.float32)
    player.fill(out)
    assert abs(out[0, 0]) < 1e-6  # faded in: no click
    assert np.abs(out[n // 2]).max() > 0.1
    assert not out[n:].any()
    player.fill(out)
    assert not out.any()


def test_clock_runs_without_a_device_and_pause_holds_it(qtbot):
    player = AudioPlayer(_tone(5.0), use_device=False)
    player.play(1.0)
    qtbot.waitUntil(lambda: player.position() > 1.02, timeout=5_000)
    player.pause()
    held = player.position()
    assert held >= 1.02 and player.position() == held
