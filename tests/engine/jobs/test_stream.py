import threading

import pytest

from engine.jobs.stream import Sink, closing_iter, prefetch


def test_prefetch_preserves_order_and_bounds_read_ahead():
    produced = []

    def source():
        for i in range(50):
            produced.append(i)
            yield i

    seen = []
    for item in prefetch(source(), maxsize=3):
        seen.append(item)
        assert len(produced) - len(seen) <= 3 + 1  # queue + the one being put
    assert seen == list(range(50))


def test_prefetch_reraises_producer_errors():
    def source():
        yield 1
        raise RuntimeError("decode failed")

    with pytest.raises(RuntimeError, match="decode failed"):
        list(prefetch(source()))


def counting(stopped: threading.Event):
    """0, 1, 2, ... (10 000 items); sets `stopped` when the generator is closed or ends."""
    try:
        yield from range(10_000)
    finally:
        stopped.set()


def test_prefetch_stops_producer_when_consumer_stops():
    stopped = threading.Event()
    gen = prefetch(counting(stopped), maxsize=2)
    assert next(gen) == 0
    gen.close()
    assert stopped.wait(5)


def test_a_producer_left_mid_way_is_closed_in_its_own_thread():
    """Nested stages: the inner generator's clean-up (an inner prefetch's thread) runs at once, not at GC."""
    closed_in = []

    def source():
        try:
            yield from range(10_000)
        finally:
            closed_in.append(threading.current_thread().name)

    gen = prefetch(source(), maxsize=1, name="stage")
    assert next(gen) == 0
    gen.close()
    assert closed_in == ["stage"]


def test_sink_consumes_in_order_and_surfaces_failures():
    out = []
    sink = Sink(out.append, maxsize=2)
    for i in range(20):
        sink.put(i)
    sink.close()
    assert out == list(range(20))

    def fail(item):
        raise OSError(28, "No space left on device")

    bad = Sink(fail, maxsize=1)
    with pytest.raises(OSError, match="No space"):
        for i in range(10):
            bad.put(i)
        bad.close()


def test_prefetch_handoff_makes_at_most_one_item_ahead_of_the_consumer():
    produced = []

    def source():
        for i in range(30):
            produced.append(i)
            yield i

    seen = []
    for item in prefetch(source(), maxsize=4, handoff=True):
        seen.append(item)
        assert len(produced) - len(seen) <= 1  # the one made while this one is worked on
    assert seen == list(range(30))


def test_prefetch_handoff_stops_its_producer_when_the_consumer_stops():
    stopped = threading.Event()

    def source():
        try:
            yield from range(1000)
        finally:
            stopped.set()

    gen = prefetch(source(), handoff=True)
    assert next(gen) == 0
    gen.close()
    assert stopped.wait(5)


def test_closing_iter_stops_the_producer_when_the_loop_body_raises_even_while_the_traceback_lives():
    """The GPU fallback renders again while the failed attempt's exception is still held: its decode thread
    must be gone by then, not left to a later GC pass (it shares the reader and the depth stage)."""
    import gc

    stopped = threading.Event()
    gc.disable()  # nothing but the with block may close the generator here
    try:
        held = None
        try:
            with closing_iter(prefetch(counting(stopped), maxsize=2, name="decode")) as items:
                for item in items:
                    if item == 3:
                        raise RuntimeError("out of memory")
        except RuntimeError as exc:
            held = exc  # keeps the traceback, and through it the loop's frame, alive
            assert stopped.is_set()
            assert not any(t.name == "decode" and t.is_alive() for t in threading.enumerate())
        assert held is not None
    finally:
        gc.enable()


def test_closing_iter_passes_plain_iterables_through():
    with closing_iter([1, 2, 3]) as items:
        assert list(items) == [1, 2, 3]
