"""`render --ray` (issue #13): two local Ray workers render the chunks (two distinct pids), a worker
killed while it holds a chunk is replaced and the master is identical to the single-process render;
actors see the paths through --path-map; media missing on the workers fails with its path.

One local Ray instance serves the module (ray.init costs ~7 s here); render_on_ray uses it as it is."""

from __future__ import annotations

import os
import re
import signal

import numpy as np
import pytest

from engine import api
from engine.farm.ray_runner import start_local_ray
from tests.support.farm_project import frames_of, two_shot_project, unchunked_master

ray = pytest.importorskip("ray", reason="Ray (the farm extra) is not installed")

LENGTHS = (9, 9)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray")
    path = two_shot_project(folder, LENGTHS)
    return path, unchunked_master(path, folder / "ref.mkv")


@pytest.fixture(scope="module")
def local_ray():
    start_local_ray(ray, workers=2)
    yield
    ray.shutdown()


def request_for(project_file, master):
    return api.RenderRequest(api.ConvertRequest(input=None, project=api.load_project(project_file), output=master,
                                                encode=api.EncodeSettings(codec="ffv1")), chunk_frames=3)


def test_two_local_workers_survive_a_killed_one(project, local_ray, tmp_path):
    project_file, reference = project
    master = tmp_path / "ray.mkv"
    # the workers see this machine's tmp_path through a link (a mount elsewhere, in miniature)
    (tmp_path / "mount").symlink_to(tmp_path)
    (tmp_path / "media").symlink_to(project_file.parent)
    mapping = ((str(project_file.parent), str(tmp_path / "media")), (str(tmp_path), str(tmp_path / "mount")))
    job = api.render_on_ray(request_for(project_file, master), "local", workers=2, path_map=mapping)
    renderers, dispatched, killed, notes, partial = set(), 0, None, [], 0
    try:
        while True:
            p = next(job)
            if p.stage == "render" and p.message and " by pid " in p.message:
                renderers.add(int(re.search(r"by pid (\d+)", p.message).group(1)))
            elif p.stage == "render" and p.message and " -> pid " in p.message:
                dispatched += 1
                if dispatched == 3 and killed is None:  # a worker that holds a chunk dies
                    killed = int(re.search(r"-> pid (\d+)", p.message).group(1))
                    os.kill(killed, signal.SIGKILL)
            elif p.stage == "render":
                partial += 1  # frames of chunks in flight, asked of the actors
                assert 0 <= p.done <= p.total == sum(LENGTHS)
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


def test_media_missing_on_the_workers_names_the_path(project, local_ray, tmp_path):
    project_file, _ = project
    mapping = ((str(project_file.parent), "/nowhere/shared"),)
    job = api.render_on_ray(request_for(project_file, tmp_path / "x.mkv"), "local", workers=1, path_map=mapping)
    with pytest.raises(api.InputError) as err:
        for _ in job:
            pass
    assert "missing on this machine" in str(err.value) and "/nowhere/shared/two.mp4" in str(err.value.path)


def test_unreachable_address_is_refused_quickly(cli, project, tmp_path):
    project_file, _ = project
    r = cli("render", project_file, "-o", tmp_path / "x.mkv", "--ray", "127.0.0.1:9")
    assert r.code == 3 and "no Ray cluster answers at 127.0.0.1:9" in r.err
