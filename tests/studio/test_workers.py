"""studio.workers: generator jobs with progress, cancel, superseded (stale) requests, one-line errors."""

from __future__ import annotations

import threading

import pytest

from engine import api
from studio.workers import Lane, live_lanes, one_line_error


@pytest.fixture
def lane(qtbot):
    lane = Lane("test")
    yield lane
    assert lane.close(10_000)


def _job(n, gate=None):
    def run(ctx):
        for i in range(n):
            if gate is not None:
                gate.wait(10)
            yield api.Progress("work", i + 1, n)
        return f"done {n}"

    return run


def test_generator_job_reports_progress_and_returns_its_value(lane, qtbot):
    seen = []
    lane.progress.connect(lambda rid, p: seen.append(p))
    with qtbot.waitSignal(lane.finished, timeout=10_000) as blocker:
        rid = lane.submit(_job(5))
    assert blocker.args == [rid, "done 5"]
    assert seen and seen[-1].done == 5  # the last step always gets through the throttle
    qtbot.waitUntil(lambda: not lane.is_busy(), timeout=5_000)


def test_plain_callable_result(lane, qtbot):
    with qtbot.waitSignal(lane.finished, timeout=10_000) as blocker:
        lane.submit(lambda ctx: ctx.request_id * 2)
    rid, value = blocker.args
    assert value == rid * 2


def test_cancel_stops_a_running_generator(lane, qtbot):
    gate = threading.Event()
    started = threading.Event()

    def run(ctx):
        started.set()
        while True:
            gate.wait(10)
            yield api.Progress("spin", 0, 0)

    with qtbot.waitSignal(lane.cancelled, timeout=10_000) as blocker:
        rid = lane.submit(run)
        assert started.wait(10)
        lane.cancel(rid)
        gate.set()
    assert blocker.args == [rid]


def test_newer_request_with_a_key_supersedes_the_older(lane, qtbot):
    gate = threading.Event()
    results = []
    lane.finished.connect(lambda rid, value: results.append(value))
    lane.cancelled.connect(lambda rid: results.append(("cancelled", rid)))

    def slow(ctx):
        gate.wait(10)
        return "old frame"

    first = lane.submit(slow, key="frame")
    second = lane.submit(lambda ctx: "new frame", key="frame")
    assert not lane.is_current(first, "frame") and lane.is_current(second, "frame")
    with qtbot.waitSignal(lane.idle, timeout=10_000):
        gate.set()
    assert results == ["new frame"]  # the stale result is dropped, not shown


def test_a_failing_job_gives_one_line_and_the_lane_keeps_working(lane, qtbot):
    def broken(ctx):
        raise RuntimeError("bad\nthing happened")

    with qtbot.waitSignal(lane.failed, timeout=10_000) as blocker:
        lane.submit(broken)
    message = blocker.args[1]
    assert "\n" not in message and "RuntimeError" in message and "bad thing happened" in message
    with qtbot.waitSignal(lane.finished, timeout=10_000):
        lane.submit(lambda ctx: 1)


def test_engine_errors_keep_their_own_line():
    err = api.MediaError("cannot decode", path="/x/clip.mp4", hint="Re-export it")
    assert one_line_error(err) == "/x/clip.mp4: cannot decode. Re-export it"


def test_close_joins_the_thread_and_refuses_new_work(qtbot):
    lane = Lane("closing")
    with qtbot.waitSignal(lane.finished, timeout=10_000):
        lane.submit(lambda ctx: 0)
    assert lane.is_running()
    assert lane.close(10_000)
    assert lane not in live_lanes()
    ran = []
    assert lane.submit(lambda ctx: ran.append(1)) == 0
    assert not lane.is_running() and not ran
