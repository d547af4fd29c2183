"""studio.playback: the session open job's preload of torch's libraries (off the GIL, before the import)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from studio.playback import preload_torch_libraries
loaded = preload_torch_libraries()
assert "torch" not in sys.modules, "the preload must not import torch"
maps = open("/proc/self/maps").read()
assert loaded and all(name in maps for name in loaded), (loaded, "not mapped")
import torch
assert float(torch.ones(2).sum()) == 2.0
assert preload_torch_libraries() == []  # torch imported: nothing to do
print(",".join(loaded))
"""


def test_preload_maps_torchs_libraries_without_importing_torch_and_the_import_then_works() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "libtorch_cpu.so" in done.stdout.split(",")
