"""`render --ray local` (issue #13): two local Ray workers render the chunks (two distinct pids), a
worker killed while it holds a chunk is replaced and the master is identical to the single-process render."""

from __future__ import annotations

import os
import re
import signal

import numpy as np
import pytest

from engine import api
from tests.support.farm_project import frames_of, two_shot_project, unchunked_master

ray = pytest.importorskip("ray", reason="Ray (the farm extra) is not installed")

LENGTHS = (9, 9)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray")
    path = two_shot_project(folder, LENGTHS)
    return path, unchunked_master(path, folder / "ref.mkv")


def test_two_local_workers_survive_a_killed_one(project, tmp_path):
    project_file, reference = project
    master = tmp_path / "ray.mkv"
    request = api.RenderRequest(api.ConvertRequest(input=None, project=api.load_project(project_file),
                                                   output=master, encode=api.EncodeSettings(codec="ffv1")),
                                chunk_frames=3)
    job = api.render_on_ray(request, "local", workers=2)
    renderers, dispatched, killed, notes = set(), 0, None, []
    try:
        while True:
            p = next(job)
            if p.stage == "render" and p.message:
                renderers.add(int(re.search(r"pid (\d+)", p.message).group(1)))
            elif p.stage == "worker":
                dispatched += 1
                if dispatched == 3 and killed is None:  # a worker that holds a chunk dies
                    killed = int(re.search(r"pid (\d+)", p.message).group(1))
                    os.kill(killed, signal.SIGKILL)
            elif p.stage == "note":
                notes.append(p.message)
    except StopIteration as stop:
        report = stop.value
    assert killed is not None and any("worker lost" in n for n in notes)
    assert len(renderers - {killed}) >= 2, renderers  # at least two distinct worker pids rendered chunks
    assert len(report.rendered) == len(report.chunks) == 6
    got = frames_of(master)
    assert len(got) == len(reference)
    for k, (a, b) in enumerate(zip(got, reference, strict=True)):
        assert np.array_equal(a, b), f"frame {k}"


def test_unreachable_address_is_refused_quickly(cli, project, tmp_path):
    project_file, _ = project
    r = cli("render", project_file, "-o", tmp_path / "x.mkv", "--ray", "127.0.0.1:9")
    assert r.code == 3 and "no Ray cluster answers at 127.0.0.1:9" in r.err
