"""The hostile-media corpus (tests/e2e/hostile_media.py, generated here) through probe, frame and convert.

Every case must end with a correct output or one clear error line (exit 2, 3 or 4): no traceback,
no crash, nothing left behind, the input untouched. The corpus runs in one child process, so a
crash inside a codec fails the case it happened in, by name, and pytest lives on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.hostile_media import CASES
from tests.support.data import ROOT


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("hostile")
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "xdg-cache"), "XDG_CONFIG_HOME": str(folder / "xdg-config")}
    done = subprocess.run([sys.executable, "-m", "tests.e2e.hostile_media", str(folder)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1500)
    records, started = {}, []
    for line in done.stdout.splitlines():
        item = json.loads(line)
        if "started" in item:
            started.append(item["started"])
        else:
            records[item["case"]] = item
    crashed = [name for name in started if name not in records]
    return {"records": records, "crashed": crashed, "returncode": done.returncode, "stderr": done.stderr[-3000:]}


def test_the_corpus_has_at_least_40_kinds_and_none_crashes(corpus):
    assert len(CASES) >= 40
    assert corpus["crashed"] == [] and corpus["returncode"] == 0, corpus
    assert set(corpus["records"]) == set(CASES)


def judge(run: dict) -> list[str]:
    """What is wrong with one command's result (empty when it is a correct output or one clear line)."""
    problems = []
    err = run["stderr"]
    if "Traceback" in err or "internal error" in err:
        problems.append("traceback or internal error")
    if run["code"] == 0:
        if not run["output_ok"]:
            problems.append("exit 0 without a playable output")
    elif run["code"] in (2, 3, 4):
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        others = [line for line in err.splitlines() if line and not line.startswith(("error: ", "note: "))]
        if len(errors) != 1 or others:
            problems.append(f"not one clear line: {err!r}")
    else:
        problems.append(f"exit {run['code']}")
    if run["left_behind"]:
        problems.append(f"left behind {run['left_behind']}")
    return problems


@pytest.mark.parametrize("name", list(CASES))
def test_each_case_is_an_output_or_one_clear_line(corpus, name):
    record = corpus["records"].get(name)
    assert record is not None, f"{name} crashed the runner: {corpus['stderr']}"
    problems = {command: judge(run) for command, run in record["runs"].items()}
    assert not any(problems.values()), (problems, record["runs"])
    assert record["input_unchanged"]


def test_the_good_clip_converts_and_the_broken_ones_are_refused(corpus):
    runs = {name: record["runs"] for name, record in corpus["records"].items()}
    assert all(runs["good_h264"][c]["code"] == 0 for c in ("probe", "frame", "convert"))
    for name in ("empty_file", "text_named_mp4", "png_bomb_100000", "bmp_bomb", "no_video_audio_only",
                 "dangling_symlink", "folder_as_input", "truncated_01pct"):
        assert runs[name]["convert"]["code"] == 3, (name, runs[name]["convert"])
    assert "100000x100000" in runs["png_bomb_100000"]["probe"]["stderr"]
