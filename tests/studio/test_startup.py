"""`spatialdreamer-studio CLIP` on a bare X server (no window manager) shows the clip's first frame by itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.support.data import DEMO_CLIP


def test_studio_command_shows_the_first_frame_without_interaction(tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"),
               QT_QPA_PLATFORM="xcb")
    run = subprocess.run([sys.executable, "-m", "studio.app", str(DEMO_CLIP), "--exit-after-first-frame"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r"first frame shown after ([0-9.]+) s", run.stdout)
    assert found, run.stdout
    assert "Traceback" not in run.stderr
