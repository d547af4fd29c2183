"""The CLI package: one module per command, shared parents, a lazy front door (no torch for --help)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from engine import cli as cli_package
from tests.support.clips import write_clip
from tests.support.data import ROOT

HEAVY = ("torch", "cv2", "av", "numpy", "numba", "scipy", "opentimelineio")


def imported_after(code: str) -> dict:
    """Run `code` in a fresh interpreter; report which heavy modules it left imported."""
    probe = (f"import sys, json\n{code}\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {"heavy": json.loads(done.stdout.strip().splitlines()[-1]), "out": done.stdout}


@pytest.mark.parametrize("argv", [["--help"], ["convert", "--help"], ["make-pairs", "--help"], ["--version"]])
def test_help_imports_nothing_heavy(argv):
    result = imported_after(f"from engine.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    assert result["heavy"] == [], result


def test_probe_needs_pyav_but_not_torch_nor_opencv(tmp_path):
    """`probe` of a video costs about `import av, numpy` (issue #16: at most twice that)."""
    clip = write_clip(tmp_path / "c.mp4", frames=2)
    result = imported_after(f"from engine.cli import main\nassert main(['probe', {str(clip)!r}, '--json']) == 0")
    assert "av" in result["heavy"] and not {"torch", "cv2", "numba"} & set(result["heavy"]), result


def test_every_command_is_a_module_with_the_common_options():
    parser = cli_package.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {m.NAME for m in cli_package.COMMANDS}
    for command in cli_package.COMMANDS:
        options = {o for a in sub.choices[command.NAME]._actions for o in a.option_strings}
        assert {"--device", "--progress", "--quiet", "--debug"} <= options, command.NAME
        assert callable(command.run) and callable(command.add_parser)


def test_convert_and_frame_share_one_set_of_render_options():
    sub = next(a for a in cli_package.build_parser()._actions if isinstance(a, argparse._SubParsersAction))

    def flags(name: str) -> set[str]:
        return {o for a in sub.choices[name]._actions for o in a.option_strings}

    shared = {"--layout", "--divergence", "--depth", "--export-depth", "--shots", "--overwrite", "--max-width"}
    assert shared <= flags("convert") and shared <= flags("frame")
    assert "--codec" in flags("convert") and "--codec" not in flags("frame")


def test_lazy_api_resolves_every_public_name():
    from engine import api

    for name in api.__all__:
        assert getattr(api, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        api.nope  # noqa: B018


def test_bad_positive_int_is_a_usage_error(cli, tmp_path):
    with pytest.raises(SystemExit) as stop:
        cli("convert", tmp_path / "a.mp4", "-o", tmp_path / "b.mp4", "--max-width", "wide")
    assert stop.value.code == 2
