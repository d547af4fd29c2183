"""Playback's look-ahead: the next frames are fetched while the viewer paints, shown when due, and
forgotten on a seek, a stop or an edit."""

from __future__ import annotations

from tests.support.studio import open_demo


def test_playback_shows_frames_the_look_ahead_fetched_in_order(window, qtbot):
    open_demo(window, qtbot)
    controller = window.controller
    shown = []
    controller.frame_ready.connect(lambda data: shown.append((data.index, controller.position)))
    controller.play()
    qtbot.waitUntil(lambda: controller.position >= 24, timeout=60_000)
    controller.pause()
    assert controller.shown_ahead > 0  # frames came due with their data already fetched
    indices = [n for n, _ in shown]
    assert indices == sorted(set(indices))  # forward, each frame once
    assert all(n == position for n, position in shown)  # every frame shown is the playhead's
    assert not controller._ahead and not controller._ahead_asked  # the stop forgot the look-ahead


def test_a_seek_while_playing_drops_the_look_ahead_and_plays_on_from_there(window, qtbot):
    open_demo(window, qtbot)
    controller = window.controller
    controller.play()
    qtbot.waitUntil(lambda: controller.shown_ahead > 0, timeout=60_000)
    shown = []
    controller.frame_ready.connect(lambda data: shown.append(data.index))
    controller.seek(40)
    assert not controller._ahead
    qtbot.waitUntil(lambda: controller.position >= 44 and len(shown) >= 3, timeout=60_000)
    controller.pause()
    assert shown and min(shown) >= 40  # nothing fetched for the old position reached the viewer


def test_an_edit_while_playing_drops_what_was_fetched_under_the_old_document(window, qtbot):
    open_demo(window, qtbot)
    controller = window.controller
    controller.play()
    qtbot.waitUntil(lambda: bool(controller._ahead or controller._ahead_asked), timeout=60_000)
    generation = controller._ahead_generation
    controller.update_project(window.document.project)
    assert not controller._ahead and not controller._ahead_asked
    assert controller._ahead_generation > generation  # fetches in flight are ignored when they land
    qtbot.waitUntil(lambda: controller.position >= 12, timeout=60_000)
    controller.pause()


def test_a_frame_that_fails_to_fetch_does_not_stall_playback(window, qtbot):
    open_demo(window, qtbot)
    controller = window.controller
    session = controller.session
    real_frame = session.frame

    def frame(n):
        if n in (4, 5, 6):
            raise RuntimeError(f"frame {n} is unreadable")
        return real_frame(n)

    session.frame = frame
    errors = []
    controller.error.connect(errors.append)
    controller.play()
    qtbot.waitUntil(lambda: controller.position >= 12, timeout=60_000)
    controller.pause()
    assert all("unreadable" in e for e in errors)  # each failure said once, by the playhead's own fetch


def test_the_look_ahead_is_spaced_by_how_long_a_playback_fetch_takes(qtbot):
    """Fetches slower than a frame (provisional depth on a shot not analysed): the look-ahead asks for
    the frames the playhead will reach when each fetch lands, so frames drop evenly, not in bursts."""
    from fractions import Fraction

    from studio.playback import FrameController

    controller = FrameController(use_audio_device=False)
    controller.fps = Fraction(24)
    for fetch_s, shuttle, spacing in ((0.01, 1.0, 1), (0.1, 1.0, 3), (0.1, -1.0, -3), (0.01, 2.0, 2),
                                      (0.1, 2.0, 5), (0.0, 1.0, 1)):
        controller._fetch_s, controller._shuttle = fetch_s, shuttle
        assert controller._spacing() == spacing, (fetch_s, shuttle)
    controller.close()
