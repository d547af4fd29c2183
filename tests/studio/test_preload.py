"""studio.preload: heavy imports beside the Qt start-up, and the GC freeze that keeps full
collections from walking torch's objects in the middle of the event loop."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from studio.preload import HEAVY_MODULES, Preload, freeze_heap


def test_preload_imports_the_modules():
    sys.modules.pop("colorsys", None)
    preload = Preload.start(("json", "colorsys"))
    assert preload.join(timeout=30)
    assert "colorsys" in sys.modules
    assert preload.failed == {}


def test_a_failed_preload_is_recorded_in_one_line_and_does_not_stop_the_others():
    preload = Preload.start(("spatialdreamer_no_such_module", "colorsys"))
    assert preload.join(timeout=30)
    reason = preload.failed["spatialdreamer_no_such_module"]
    assert reason.startswith("ModuleNotFoundError") and "\n" not in reason
    assert "colorsys" in sys.modules and "colorsys" not in preload.failed


def test_importing_the_studio_loads_none_of_the_preloaded_modules():
    """The window's own imports stay light: the heavy modules arrive only through the preload thread."""
    code = ("import sys, studio.app, studio.main_window; "
            f"print([m for m in {HEAVY_MODULES!r} if m in sys.modules])")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         timeout=120)
    assert out.stdout.strip() == "[]"


def test_freeze_heap_moves_live_objects_out_of_the_collector_and_once_keys_run_once():
    try:
        before = gc.get_freeze_count()
        keep = [[i] for i in range(1000)]  # 1000 new tracked containers
        frozen = freeze_heap(collect=False, once="test-key")
        assert frozen >= before + 1000
        more = [[i] for i in range(1000)]
        assert freeze_heap(collect=False, once="test-key") == frozen  # the key ran already: no freeze
        assert freeze_heap(collect=False) >= frozen + 1000
        assert keep and more
    finally:
        gc.unfreeze()  # the rest of the test run collects as usual


def test_freeze_heap_collects_garbage_first_so_no_cycle_is_frozen_for_good():
    try:
        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle: only the cyclic collector frees it
        import weakref

        probe = weakref.ref(a)
        del a, b
        freeze_heap(collect=True)
        assert probe() is None
    finally:
        gc.unfreeze()
