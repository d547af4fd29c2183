"""The chunked project render with the diffusion refiner (issues #13, #9): a chunk is a whole shot, the
master's frames are exactly `convert --project --refiner`'s, a worker holding its job loads the refiner
once for all its chunks, and farm tasks carry the refiner's settings."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine import api
from engine.jobs.refine import RefinerSpec
from engine.jobs.render import HeldJob, plan_render
from tests.support.farm_project import frames_of, two_shot_project
from tests.support.refiner import run_job, tiny_pipeline

LENGTHS = (6, 5)  # the tiny refiner's windows are 4 frames (1 shared): both shots need several windows


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    tiny_pipeline(seed=5).save_pretrained(folder / "tinyrand")
    return folder


@pytest.fixture(scope="module")
def project_file(tmp_path_factory) -> Path:
    return two_shot_project(tmp_path_factory.mktemp("proj"), LENGTHS)


def convert_request(project_file: Path, models: Path, out: Path, **changes) -> api.ConvertRequest:
    return api.ConvertRequest(input=None, project=api.load_project(project_file), output=out, max_width=64,
                              device="cpu", encode=api.EncodeSettings(codec="ffv1"),
                              depth_config=api.DepthConfig(models_dir=models),
                              refiner=RefinerSpec("tinyrand", steps=2), **changes)


def run(gen):
    """Drive a job generator; its return value (a RenderReport for render)."""
    return run_job(gen)[0]


def test_refined_render_is_convert_with_the_refiner_one_chunk_per_shot(project_file, models, tmp_path):
    reference = tmp_path / "convert.mkv"
    run(api.convert(convert_request(project_file, models, reference)))
    geometric = tmp_path / "geometric.mkv"
    run(api.convert(replace(convert_request(project_file, models, geometric), refiner=None)))
    want, plain = frames_of(reference), frames_of(geometric)
    assert len(want) == sum(LENGTHS)
    assert any(not np.array_equal(a, b) for a, b in zip(want, plain, strict=True))  # the refiner did something

    master = tmp_path / "render.mkv"
    request = api.RenderRequest(convert_request(project_file, models, master), chunk_frames=2)
    chunks = plan_render(request)
    assert [(c.start, c.end) for c in chunks] == [(0, 6), (6, 11)]  # --chunk-frames cannot cut a refined shot
    held = HeldJob()
    try:
        for chunk in chunks:  # as a farm actor: one job (media, depth stage, refiner) for every chunk
            run(api.render(replace(request, chunk=chunk.id), held=held))
        assert held.opened == 1
        stage = held._job._refine_stage
        assert stage is not None and stage.done == stage.total > 0
    finally:
        held.close()
    run(api.render(replace(request, assemble_only=True)))
    got = frames_of(master)
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert np.array_equal(a, b), f"frame {k} differs from convert --project --refiner"
    manifest = json.loads((tmp_path / ".render.mkv.render" / "manifest.json").read_text())
    assert len(manifest["committed"]) == 2 and all(r["state"] is None for r in manifest["committed"].values())


def test_the_refiner_is_part_of_the_chunks_fingerprint(project_file, models, tmp_path):
    master = tmp_path / "m.mkv"
    request = api.RenderRequest(convert_request(project_file, models, master), shots=(2,))
    run(api.render(request))
    first = frames_of(master)
    assert run(api.render(request)).up_to_date
    other = replace(request, convert=replace(request.convert, refiner=RefinerSpec("tinyrand", steps=2, seed=7),
                                             overwrite=True))
    report = run(api.render(other))  # a different seed: not "up to date", the chunk rendered again
    assert not report.up_to_date and report.rendered == report.chunks
    assert any(not np.array_equal(a, b) for a, b in zip(frames_of(master), first, strict=True))


def test_render_cli_takes_the_projects_refiner_and_farm_tasks_carry_it(cli, project_file, models, tmp_path):
    project = api.load_project(project_file)
    settings = replace(project.render, refiner="tinyrand", refiner_steps=2, refiner_seed=3)
    refined_project = tmp_path / "refined.sdproj"
    api.save_project(replace(project, render=settings), refined_project)
    out = tmp_path / "jobs.json"
    r = cli("render", refined_project, "-o", tmp_path / "m.mkv", "--max-width", "64", "--models-dir", models,
            "--emit", "json", "--emit-to", out)
    assert r.code == 0, r.err
    base = json.loads(out.read_text())["base"]
    assert base[base.index("--refiner") + 1] == "tinyrand"
    assert base[base.index("--refiner-seed") + 1] == "3" and base[base.index("--refiner-steps") + 1] == "2"
    missing = cli("render", refined_project, "-o", tmp_path / "n.mkv", "--max-width", "64", "--models-dir",
                  tmp_path / "nowhere", "--progress", "none")
    assert missing.code != 0 and "tinyrand" in missing.err and "Traceback" not in missing.err
