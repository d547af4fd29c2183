"""--path-map (issue #13): whole-component prefix mapping, every path a worker touches, Ray actor options."""

from __future__ import annotations

import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from engine import api
from engine.document import Project
from engine.errors import UsageError
from engine.farm.path_map import map_path, map_render_request, parse_path_maps
from engine.farm.ray_runner import WORKER_RESOURCE, actor_options, import_ray, worker_request
from engine.jobs.render_project import default_shots


def test_parse_and_map():
    mapping = parse_path_maps(["/Volumes/show/=/mnt/show", "/=/root-of-worker"])
    assert mapping[0] == ("/Volumes/show", "/mnt/show")
    assert map_path("/Volumes/show/reel/a.mp4", mapping) == Path("/mnt/show/reel/a.mp4")
    assert map_path("/Volumes/show", mapping) == Path("/mnt/show")
    assert map_path("/Volumes/showreel/a.mp4", mapping) == Path("/root-of-worker/Volumes/showreel/a.mp4")
    assert map_path("relative/a.mp4", parse_path_maps(["/a=/b"])) == Path("relative/a.mp4")
    for bad in ("/a", "=/b", "a=/b", "/a=b"):
        with pytest.raises(UsageError, match="--path-map"):
            parse_path_maps([bad])


def test_every_path_of_a_request_is_mapped():
    project = Project.single("/Volumes/show/a.mp4", Fraction(24), 10, default_shots([(0, 10)]))
    convert = api.ConvertRequest(input=None, project=project, output=Path("/Volumes/show/out/m.mp4"),
                                 cache_dir=Path("/Volumes/show/cache"),
                                 depth_config=api.DepthConfig(models_dir=Path("/Volumes/show/models")))
    request = api.RenderRequest(convert, work_dir=Path("/Volumes/show/work"),
                                project_file=Path("/Volumes/show/p.sdproj"))
    got = map_render_request(request, parse_path_maps(["/Volumes/show=/mnt/show"]))
    c = got.convert
    assert c.project.clips[0].media == "/mnt/show/a.mp4" and c.output == Path("/mnt/show/out/m.mp4")
    assert c.cache_dir == Path("/mnt/show/cache") and c.depth_config.models_dir == Path("/mnt/show/models")
    assert got.work_dir == Path("/mnt/show/work") and got.project_file == Path("/mnt/show/p.sdproj")
    assert request.convert.output == Path("/Volumes/show/out/m.mp4")  # the submitter's request is unchanged
    gpu = worker_request(replace_device(request, "cuda:1"), (), gpus=1)
    assert gpu.convert.device == gpu.convert.depth_config.device == "cuda"  # Ray shows its GPU as cuda:0


def replace_device(request, device):
    c = request.convert
    return replace(request, convert=replace(c, device=device, depth_config=replace(c.depth_config, device=device)))


def test_actor_options():
    assert actor_options(True, "auto", 0) == {"num_cpus": 0, "resources": {WORKER_RESOURCE: 1}}
    assert actor_options(True, "cuda:1", 0)["num_gpus"] == 1
    assert actor_options(False, "auto", 8) == {"num_cpus": 1, "num_gpus": 1}  # a GPU cluster: one GPU each
    assert actor_options(False, "cpu", 8) == {"num_cpus": 1}
    assert actor_options(False, "auto", 8, gpus_per_worker=0.5)["num_gpus"] == 0.5


def test_without_ray_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    with pytest.raises(UsageError, match="not installed") as err:
        import_ray()
    assert "pip install" in err.value.hint
