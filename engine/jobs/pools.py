"""Threads of the convert pipeline: which compute stages may run side by side.

The render and depth passes run as stages joined by bounded queues (:func:`engine.jobs.stream.prefetch`):
decode, the per-frame compute, the temporal completion and encode each in a thread, so two cores stay
busy. Compute stages call numba ``parallel=True`` kernels from two Python threads at once, which numba's
``tbb`` and ``omp`` threading layers allow and its ``workqueue`` layer does not (it aborts the process).
So compute stages overlap only on a layer that allows it; otherwise they run in the job's thread (same
results, less overlap).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from functools import cache
from typing import TypeVar

from engine.jobs.stream import prefetch

T = TypeVar("T")
_SAFE_LAYERS = ("tbb", "omp")


@cache
def concurrent_kernels() -> bool:
    """Whether numba parallel kernels may be launched from two threads at once in this process."""
    import numba

    try:
        return numba.threading_layer() in _SAFE_LAYERS  # the layer numba already chose
    except ValueError:  # no parallel kernel has run yet: the layer numba will choose
        pass
    wanted = str(numba.config.THREADING_LAYER).lower()
    if wanted == "workqueue":
        return False
    candidates = (wanted,) if wanted in _SAFE_LAYERS else _SAFE_LAYERS
    for layer in candidates:
        try:
            importlib.import_module(f"numba.np.ufunc.{layer}pool")
            return True
        except ImportError:
            continue
    return False


def stage_ahead(source: Iterable[T], maxsize: int, name: str, handoff: bool = False) -> Iterator[T]:
    """`source` computed in its own thread, at most `maxsize` items ahead (`handoff`: one, made while the
    caller works on the one before; :func:`engine.jobs.stream.prefetch`), when compute stages may
    overlap (:func:`concurrent_kernels`); else `source` itself, in the caller's thread."""
    if concurrent_kernels():
        return prefetch(source, maxsize=maxsize, name=name, handoff=handoff)
    return iter(source)
