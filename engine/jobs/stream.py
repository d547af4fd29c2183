"""Bounded, threaded stages so decode, compute and encode overlap.

FFmpeg (decode/encode), OpenCV, numba (nogil) and torch release the GIL, so a
producer thread and a consumer thread around the compute loop give real
overlap on two cores, while the bounded queues keep memory flat however long
the clip is.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put_until_stopped(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put `item`, giving up if `stop` is set while the queue is full. True if it was queued."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _wait_until_taken(taken: threading.Semaphore, stop: threading.Event) -> bool:
    """Wait until the consumer took the last item; False if `stop` is set first."""
    while not taken.acquire(timeout=0.1):
        if stop.is_set():
            return False
    return True


def prefetch(source: Iterable[T], maxsize: int = 4, name: str = "prefetch", handoff: bool = False) -> Iterator[T]:
    """Iterate `source` in a background thread, at most `maxsize` items ahead.

    With `handoff`, the producer starts on the next item only once the consumer has taken the last one:
    one item is made while the consumer works on the one before (still overlapped), never two — for items
    so large (a staged 1080p DVG frame is ~145 MB) that each one more in flight shows in the peak memory.

    Exceptions raised by `source` are re-raised in the consumer. Closing the
    returned generator (or an exception in the consumer) stops the producer.
    """
    q: queue.Queue = queue.Queue(maxsize=1 if handoff else maxsize)
    stop = threading.Event()
    taken = threading.Semaphore(0)

    def produce() -> None:
        items = iter(source)
        try:
            for item in items:
                if not _put_until_stopped(q, item, stop):
                    return
                if handoff and not _wait_until_taken(taken, stop):
                    return
            _put_until_stopped(q, _DONE, stop)
        except BaseException as exc:  # re-raised in the consumer thread
            _put_until_stopped(q, _Failure(exc), stop)
        finally:  # a generator left mid-way (the consumer stopped) cleans up here, in its own thread
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            taken.release()
            yield item
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def closing_iter(iterable: Iterable[T]) -> Iterator[Iterator[T]]:
    """``with closing_iter(prefetch(...)) as items: for item in items: ...``: the iterator is closed when
    the block is left, also by an exception. A bare ``for`` over a :func:`prefetch` leaves the generator
    open while the exception's traceback keeps the loop's frame alive (until the cyclic GC frees it), and
    with it its producer thread, still holding the shared reader or depth stage: a retry of the same job
    (a GPU out of memory rendered again on the CPU) would run beside it."""
    items = iter(iterable)
    try:
        yield items
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


class Sink(Generic[T]):
    """Consume items with `fn` in a background thread, through a queue of `maxsize`.

    `put` re-raises the first exception `fn` raised; `close` waits for the
    queue to drain and re-raises too; `abandon` stops without draining.
    """

    def __init__(self, fn: Callable[[T], None], maxsize: int = 4, name: str = "sink") -> None:
        self._fn = fn
        self._q: queue.Queue = queue.Queue(maxsize=maxsize)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _DONE or self._stop.is_set():
                return
            try:
                self._fn(item)
            except BaseException as exc:  # surfaced on the next put/close
                self._error = exc
                self._stop.set()
                return

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, item: T) -> None:
        self._raise_if_failed()
        if not _put_until_stopped(self._q, item, self._stop):
            self._raise_if_failed()

    def close(self) -> None:
        """Wait until every queued item is consumed; re-raise a consumer failure."""
        if not self._stop.is_set():
            _put_until_stopped(self._q, _DONE, self._stop)
        self._thread.join()
        self._raise_if_failed()

    def abandon(self) -> None:
        """Stop the consumer without draining the queue (cancel / failure path)."""
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._q.put_nowait(_DONE)
        self._thread.join()
