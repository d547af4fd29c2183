"""Signals through the real CLI process: Ctrl-C while torch loads, SIGINT/SIGTERM/SIGHUP mid-render.

Every case ends with one line on stderr (no traceback), the conventional exit code, the previous master
untouched and no partial file left beside it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support.clips import write_clip
from tests.support.data import ROOT


def partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name)


def start_convert(clip: Path, out: Path, *extra: str) -> subprocess.Popen:
    """The CLI in its own process, on the quickest path to the render (imported depth, one shot)."""
    depth = clip.with_suffix(".npy")
    return subprocess.Popen([sys.executable, "-m", "engine", "convert", str(clip), "-o", str(out), "--overwrite",
                             "--depth", str(depth), "--shots", "off", "--temporal", "off", "--progress", "json",
                             *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def signal_at_stage(proc: subprocess.Popen, signum: int, stage: str) -> None:
    """Send `signum` when the job first reports `stage`; keep draining stdout so the job never blocks."""
    sent = False
    for line in proc.stdout:
        if not sent and json.loads(line).get("stage") == stage:
            proc.send_signal(signum)
            sent = True


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("signals")
    np.save(folder / "long.npy", np.random.default_rng(0).random((60, 96, 128), dtype=np.float32))
    return write_clip(folder / "long.mp4", frames=60,
                      image_fn=lambda i: np.random.default_rng(i).integers(0, 255, (96, 128, 3), dtype=np.uint8))


CASES = [(signal.SIGINT, 130, "cancelled"), (signal.SIGTERM, 143, "terminated (SIGTERM)"),
         (signal.SIGHUP, 129, "hung up (SIGHUP)")]


def test_signals_mid_render_cancel_cleanly(long_clip, tmp_path):
    runs = []
    for signum, code, words in CASES:  # all three at once: the slow part (start-up, depth) overlaps
        folder = tmp_path / signal.Signals(signum).name
        folder.mkdir()
        out = folder / "master.mp4"
        out.write_bytes(b"keep me")
        proc = start_convert(long_clip, out)
        reader = threading.Thread(target=signal_at_stage, args=(proc, signum, "render"))
        reader.start()
        runs.append((proc, reader, out, code, words))
    for proc, reader, out, code, words in runs:
        err = proc.stderr.read()
        reader.join(timeout=300)
        assert proc.wait(timeout=300) == code, err
        assert err.strip().splitlines()[-1] == f"{words}: partial output removed", err
        assert "Traceback" not in err
        assert out.read_bytes() == b"keep me" and partials(out.parent) == []
    assert long_clip.exists()


def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see torch loading")
def test_ctrl_c_while_torch_imports_is_one_line(long_clip, tmp_path):
    out = tmp_path / "master.mp4"
    proc = start_convert(long_clip, out)
    deadline = time.monotonic() + 120
    while "libtorch" not in _maps(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)  # poll until torch's shared library is being mapped: we are inside `import torch`
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("cancelled"), err
    assert not out.exists() and partials(tmp_path) == []


def test_sigkill_mid_render_leaves_a_partial_the_next_run_removes(long_clip, tmp_path):
    out = tmp_path / "master.mp4"
    proc = start_convert(long_clip, out)
    for line in proc.stdout:
        if json.loads(line).get("stage") == "render":
            proc.kill()  # SIGKILL: no handler runs, the partial file stays
            break
    proc.wait(timeout=120)
    (stale,) = partials(tmp_path)
    assert f"-{proc.pid}-" in stale and not out.exists()
    again = subprocess.run([sys.executable, "-m", "engine", "convert", str(long_clip), "-o", str(out),
                            "--depth", str(long_clip.with_suffix(".npy")), "--shots", "off", "--temporal", "off",
                            "--progress", "none"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert partials(tmp_path) == []
    from engine.media import open_media

    with open_media(out) as reader:
        assert len(reader) == 60 and reader.info.video.width == 256
