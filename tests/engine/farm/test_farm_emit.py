"""`render --emit openjd|opencue|json` (issue #13): the job description lists every chunk once, the OpenJD
template validates with openjd-model, and a task's command really renders its chunk."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from engine import api
from engine.jobs.render_chunks import plan_chunks
from tests.support.farm_project import two_shot_project

openjd = pytest.importorskip("openjd.model", reason="the farm extra (openjd-model) is not installed")

LENGTHS = (10, 7)
N = sum(LENGTHS)


@pytest.fixture(scope="module")
def project_file(tmp_path_factory):
    return two_shot_project(tmp_path_factory.mktemp("emit"), LENGTHS)


def expected_ids(project_file, chunk_frames=3):
    return [c.id for c in plan_chunks(api.load_project(project_file).clip(), None, None, chunk_frames, lag=2)]


def test_openjd_template_validates_and_lists_every_chunk_once(cli, project_file, tmp_path):
    out = tmp_path / "job.json"
    r = cli("render", project_file, "-o", tmp_path / "m.mkv", "--codec", "ffv1", "--chunk-frames", "3",
            "--emit", "openjd", "--emit-to", out)
    assert r.code == 0, r.err
    template = openjd.decode_job_template(template=json.loads(out.read_text()))
    job = openjd.create_job(job_template=template, job_parameter_values={})
    steps = {s.name: s for s in job.steps}
    assert list(steps) == ["Analyse", "Render", "Assemble"]
    chunks = [task["Chunk"].value for task in openjd.StepParameterSpaceIterator(space=steps["Render"].parameterSpace)]
    assert sorted(chunks) == sorted(expected_ids(project_file)) and len(chunks) == len(set(chunks))
    shots = [int(t["Shot"].value) for t in openjd.StepParameterSpaceIterator(space=steps["Analyse"].parameterSpace)]
    assert shots == [1, 2]
    args = steps["Render"].script.actions.onRun.args
    assert "--chunk" in args and "--codec" in args and args[args.index("--codec") + 1] == "ffv1"
    assert [d.dependsOn for d in steps["Assemble"].dependencies] == ["Render"]


def test_json_commands_render_the_master_and_opencue_spec(cli, project_file, tmp_path):
    master = tmp_path / "m.mkv"
    # the workers mount this machine's folders elsewhere (links here): tasks carry the workers' paths
    (tmp_path / "w_out").symlink_to(tmp_path)
    (tmp_path / "w_proj").symlink_to(project_file.parent)
    maps = ("--path-map", f"{project_file.parent}={tmp_path / 'w_proj'}",
            "--path-map", f"{tmp_path}={tmp_path / 'w_out'}")
    r = cli("render", project_file, "-o", master, "--codec", "ffv1", "--chunk-frames", "3", "--emit", "json", *maps)
    assert r.code == 0, r.err
    job = json.loads(r.out)
    assert job["schema"] == "FarmJob.1" and [c["id"] for c in job["chunks"]] == expected_ids(project_file)
    assert job["base"][2] == str(tmp_path / "w_proj" / project_file.name)
    assert job["base"][job["base"].index("-o") + 1] == str(tmp_path / "w_out" / "m.mkv")
    assert job["base"].count("--path-map") == 2
    for task in [*job["analyse"], *job["chunks"], job["assemble"]]:  # what a shell loop would run, in-process
        argv = task["command"]
        assert argv[:2] == ["spatialdreamer", "render"]
        done = cli(*argv[1:])
        assert done.code == 0, done.err
    assert master.is_file()
    single = cli("render", project_file, "-o", master, "--codec", "ffv1", "--chunk-frames", "3")
    assert single.code == 0 and "up to date" in single.err
    spec = ET.fromstring(cli("render", project_file, "-o", master, "--codec", "ffv1", "--chunk-frames", "3",
                             "--emit", "opencue").out.split("\n", 2)[2])
    layers = {layer.get("name"): layer for layer in spec.iter("layer")}
    assert list(layers) == ["analyse", "render", "assemble"]
    assert layers["render"].findtext("range") == f"1-{len(job['chunks'])}"
    assert "--chunk '#IFRAME#'" in layers["render"].findtext("cmd")
