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


def test_a_crash_autosave_does_not_hold_up_the_clip_on_the_command_line(tmp_path):
    """A leftover autosave is offered in the window's recovery strip, not by a modal question that would
    stop the clip from opening (and that a bare X server cannot even paint)."""
    data = tmp_path / "data"
    side = data / "spatialdreamer" / "autosave" / "untitled-20261201-101010.sdproj.autosave"
    side.parent.mkdir(parents=True)
    from engine import api
    api.save_project(api.Project(clips=()), side)
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(data), QT_QPA_PLATFORM="xcb")
    run = subprocess.run([sys.executable, "-m", "studio.app", str(DEMO_CLIP), "--exit-after-first-frame"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r"first frame shown after ([0-9.]+) s", run.stdout), run.stdout
    assert "recovery offered for 1 autosave(s)" in run.stdout
    assert side.exists()  # neither recovered nor discarded without the user
