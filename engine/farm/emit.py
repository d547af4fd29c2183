"""Job descriptions of a chunked render for other farms: each task is a `spatialdreamer render` call.

    job = farm_job(base_command, chunks, name="reel")   # FarmJob.1: analysis, chunk and assemble commands
    openjd_template(job)   # OpenJD job template (specificationVersion jobtemplate-2023-09), a dict
    opencue_spec(job)      # OpenCue job spec XML (cuebot's spec format), a string
    json.dumps(job)        # a plain list of commands: a shell loop, Flamenco, anything

Three steps: analyse each shot (depth + δ range into the shared cache), render each chunk (any order,
any worker: a chunk whose predecessor's DVG state is not there warms up from the shot start, so the
result is the same), assemble the master. Chunks are idempotent: a task rerun after a worker died
re-renders only what was not committed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.sax.saxutils import escape

from engine.jobs.render_chunks import Chunk
from engine.versioning import register_format

FARM_JOB_SCHEMA = register_format("FarmJob", 1)
EMIT_FORMATS = ("openjd", "opencue", "json")


def farm_job(base: Sequence[str], chunks: Sequence[Chunk], name: str) -> dict:
    """FarmJob.1: the commands of every task of the render.

    Args:
        base: the render command line without any task flag (``spatialdreamer render P.sdproj -o M …``).
        chunks: the render's plan.
    """
    base = list(base)
    shots = sorted({c.shot for c in chunks})
    return {"schema": FARM_JOB_SCHEMA, "name": name, "base": base,
            "analyse": [{"shot": s, "command": [*base, "--analyse-shot", str(s)]} for s in shots],
            "chunks": [{"id": c.id, "number": i, "shot": c.shot, "start": c.start, "end": c.end,
                        "command": [*base, "--chunk", c.id]} for i, c in enumerate(chunks, start=1)],
            "assemble": {"command": [*base, "--assemble"]}}


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9 _.-]", "_", name)[:60] or "render"


def _action(argv: Sequence[str]) -> dict:
    return {"onRun": {"command": argv[0], "args": list(argv[1:])}}


def openjd_template(job: dict) -> dict:
    """An OpenJD job template (2023-09): steps Analyse (per shot), Render (per chunk id), Assemble."""
    base = job["base"]
    name = _safe_name(job["name"])
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "name": f"SpatialDreamer render {name}",
        "steps": [
            {"name": "Analyse",
             "parameterSpace": {"taskParameterDefinitions": [
                 {"name": "Shot", "type": "INT", "range": [a["shot"] for a in job["analyse"]]}]},
             "script": {"actions": _action([*base, "--analyse-shot", "{{Task.Param.Shot}}"])}},
            {"name": "Render", "dependencies": [{"dependsOn": "Analyse"}],
             "parameterSpace": {"taskParameterDefinitions": [
                 {"name": "Chunk", "type": "STRING", "range": [c["id"] for c in job["chunks"]]}]},
             "script": {"actions": _action([*base, "--chunk", "{{Task.Param.Chunk}}"])}},
            {"name": "Assemble", "dependencies": [{"dependsOn": "Render"}],
             "script": {"actions": _action(job["assemble"]["command"])}},
        ],
    }


def _shell(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def opencue_spec(job: dict, show: str = "spatialdreamer", shot: str = "render", user: str = "render") -> str:
    """An OpenCue job spec (cuebot XML, spec 1.13): layers analyse / render / assemble, frame N of the
    render layer runs chunk number N (`--chunk #IFRAME#`); each layer depends on the one before."""
    base = job["base"]
    name = re.sub(r"[^A-Za-z0-9_]", "_", job["name"])[:40] or "render"
    n_chunks, shots = len(job["chunks"]), [a["shot"] for a in job["analyse"]]

    def layer(lname: str, argv: Sequence[str], frames: str) -> str:
        return (f'      <layer name="{lname}" type="Render">\n        <cmd>{escape(_shell(argv))}</cmd>\n'
                f"        <range>{frames}</range>\n        <chunk>1</chunk>\n"
                f"        <services><service>shell</service></services>\n      </layer>")

    layers = [layer("analyse", [*base, "--analyse-shot", "#IFRAME#"], ",".join(map(str, shots))),
              layer("render", [*base, "--chunk", "#IFRAME#"], f"1-{n_chunks}"),
              layer("assemble", job["assemble"]["command"], "1")]
    depends = "\n".join(
        f'    <depend type="LAYER_ON_LAYER" anyframe="false"><depjob>{name}</depjob><deplayer>{later}</deplayer>'
        f"<onjob>{name}</onjob><onlayer>{earlier}</onlayer></depend>"
        for earlier, later in (("analyse", "render"), ("render", "assemble")))
    return ('<?xml version="1.0"?>\n<!DOCTYPE spec PUBLIC "SPI Cue  Specification Language" '
            '"http://localhost:8080/spcue/dtd/cjsl-1.13.dtd">\n'
            f"<spec>\n  <facility>local</facility>\n  <show>{show}</show>\n  <shot>{shot}</shot>\n"
            f"  <user>{user}</user>\n  <job name=\"{name}\">\n    <paused>false</paused>\n    <layers>\n"
            + "\n".join(layers) + "\n    </layers>\n  </job>\n  <depends>\n" + depends + "\n  </depends>\n</spec>\n")
