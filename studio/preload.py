"""Heavy imports done beside the window's construction, before the event loop runs.

Why: importing torch runs libtorch's static initialisers inside one C call that keeps the GIL
(~150 ms here, ~240 ms on a loaded machine). Done lazily in a worker — where the session first
needs it — that hold freezes the UI thread in the middle of the event loop (the "open" stall of
bench/bench_studio_stall.py). PyOpenGL's first import (~150 ms of Python under PySide6's import
hook) landed in the viewer's first paint the same way. Started at the top of `studio.app.main`
and joined before the window is shown, both overlap the Qt import and the window's construction
instead: the window comes up ~0.8 s later (1.2 s after the spawn here, inside the 3 s budget)
and the event loop never meets them.

    preload = Preload.start()        # first thing in main()
    ...build the window...
    preload.join()                   # before window.show(); failures are left to the real import
    freeze_heap(collect=True)        # and once more after the first session opens (~25 ms then)

The cyclic garbage collector is the other long GIL hold: after torch is in, a full (generation 2)
collection walks every container object of the process, ~70-100 ms here, and it runs in whichever
thread happens to allocate when the threshold trips — often a worker, freezing the UI thread with
it. `freeze_heap` moves everything alive into the permanent generation (`gc.freeze()`): the
modules, classes and caches loaded by then are never walked again, and later collections see only
what the session allocates since.
"""

from __future__ import annotations

import gc
import importlib
import threading

#: Modules whose first import holds the GIL for long stretches or costs a paint its frame budget.
HEAVY_MODULES: tuple[str, ...] = ("torch", "OpenGL.GL")


class Preload:
    """Imports `modules` in a daemon thread; `join()` waits for it.

    An import that fails is recorded in `failed` (module → one-line reason) and otherwise ignored:
    the code that needs the module imports it again and reports the error where it matters (no
    torch: the engine's own message; no GL: the viewer's CPU fallback)."""

    def __init__(self, modules: tuple[str, ...] = HEAVY_MODULES) -> None:
        self.modules = modules
        self.failed: dict[str, str] = {}
        self._thread = threading.Thread(target=self._run, name="studio-preload", daemon=True)

    @classmethod
    def start(cls, modules: tuple[str, ...] = HEAVY_MODULES) -> Preload:
        preload = cls(modules)
        preload._thread.start()
        return preload

    def _run(self) -> None:
        for name in self.modules:
            try:
                importlib.import_module(name)
            except Exception as exc:  # reported by the real import later
                self.failed[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]

    def join(self, timeout: float | None = 60.0) -> bool:
        """Wait for the imports; True when they all finished (a failure counts as finished)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


_FROZEN: set[str] = set()


def freeze_heap(collect: bool = True, once: str = "") -> int:
    """Exempt every object alive now from the cyclic GC (see the module note); the frozen count.

    `collect` first runs a full collection, so that no garbage (a closed session's arrays held in
    a cycle) is frozen for good: ~100 ms with torch's objects still unfrozen, ~25 ms after the
    start-up freeze. `once`: a key; a second call with the same key does nothing (the studio
    freezes after its first session only: later opens import nothing new)."""
    if once:
        if once in _FROZEN:
            return gc.get_freeze_count()
        _FROZEN.add(once)
    if collect:
        gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
