"""studio.preload: heavy imports beside the Qt start-up, and the GC freeze that keeps full
collections from walking torch's objects in the middle of the event loop."""

from __future__ import annotations

import gc
import sys

from studio.preload import HEAVY_MODULES, Preload, freeze_heap


def test_preload_imports_the_modules_and_records_each_time():
    preload = Preload.start(("json", "colorsys"))
    assert preload.join(timeout=30)
    assert "colorsys" in sys.modules
    assert set(preload.seconds) == {"json", "colorsys"} and all(v >= 0 for v in preload.seconds.values())
    assert preload.failed == {}


def test_a_failed_preload_is_recorded_in_one_line_and_does_not_stop_the_others():
    preload = Preload.start(("spatialdreamer_no_such_module", "colorsys"))
    assert preload.join(timeout=30)
    reason = preload.failed["spatialdreamer_no_such_module"]
    assert reason.startswith("ModuleNotFoundError") and "\n" not in reason
    assert "colorsys" in preload.seconds and "colorsys" not in preload.failed


def test_the_studio_preloads_torch_and_pyopengl():
    assert HEAVY_MODULES == ("torch", "OpenGL.GL")


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
