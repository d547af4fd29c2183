"""An output may never be, or resolve to, a file the job reads: refused whatever the flags, input untouched.

Every refused command leaves the source byte-identical and nothing partial behind, and its message
never suggests --overwrite (which would not help).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from tests.support.clips import write_clip


def digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def partials(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".partial-" in p.name)


@pytest.fixture
def clip(tmp_path) -> Path:
    return write_clip(tmp_path / "clip.mp4", frames=4)


def assert_refused(result, code: int, source: Path, before: str, *needles: str) -> None:
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert result.code == code and len(errors) == 1, (result.code, result.err)
    assert "--overwrite" not in errors[0] and "Traceback" not in result.err, errors[0]
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    assert digest(source) == before and partials(source.parent) == []


def _same_path(clip: Path) -> Path:
    return clip


def _symlink(clip: Path) -> Path:
    link = clip.with_name("link.mp4")
    link.symlink_to(clip)
    return link


def _hard_link(clip: Path) -> Path:
    link = clip.with_name("hard.mp4")
    os.link(clip, link)
    return link


def _dotted(clip: Path) -> Path:
    return clip.parent / "." / ".." / clip.parent.name / clip.name


@pytest.mark.parametrize("alias", [_same_path, _symlink, _hard_link, _dotted])
@pytest.mark.parametrize("flags", [[], ["--overwrite"]])
def test_convert_over_its_source_is_refused(cli, clip, alias, flags):
    before = digest(clip)
    out = alias(clip)
    assert_refused(cli("convert", clip, "-o", out, *flags), 2, clip, before, "is the input", str(clip))


def test_relative_spellings_of_the_source_are_one_file(cli, clip, monkeypatch):
    monkeypatch.chdir(clip.parent)
    before = digest(clip)
    assert_refused(cli("convert", "clip.mp4", "-o", "./clip.mp4", "--overwrite"), 2, clip, before, "is the input")


def test_read_only_source_is_refused_even_as_root(cli, clip):
    clip.chmod(0o444)
    before = digest(clip)
    assert_refused(cli("convert", clip, "-o", clip, "--overwrite"), 2, clip, before, "is the input")
    assert clip.stat().st_mode & 0o777 == 0o444


def test_a_read_only_master_is_not_replaced(cli, clip, tmp_path):
    out = tmp_path / "master.mp4"
    out.write_bytes(b"the client's master")
    out.chmod(0o444)
    result = cli("convert", clip, "-o", out, "--overwrite")
    assert_refused(result, 4, clip, digest(clip), "read-only")
    assert out.read_bytes() == b"the client's master"


def test_pair_eye_over_the_source_is_refused(cli, tmp_path):
    source = write_clip(tmp_path / "eyes_L.mp4", frames=4)
    before = digest(source)
    result = cli("convert", source, "-o", tmp_path / "eyes.mp4", "--layout", "pair", "--overwrite")
    assert_refused(result, 2, source, before, "is the input")


def test_imported_depth_is_never_an_output(cli, clip, tmp_path):
    depth = tmp_path / "depth.mp4"
    write_clip(depth, frames=4)
    before = digest(depth)
    result = cli("convert", clip, "-o", depth, "--depth", depth, "--overwrite")
    assert_refused(result, 2, depth, before, "is the input")


def test_reimported_export_folder_is_not_replaced(cli, clip, tmp_path):
    folder = tmp_path / "depth"
    assert cli("convert", clip, "-o", tmp_path / "a.mp4", "--export-depth", folder).code == 0
    frames = sorted(folder.iterdir())
    before = {p.name: digest(p) for p in frames}
    result = cli("convert", clip, "-o", tmp_path / "b.mp4", "--depth", folder / "clip.depth.%06d.png",
                 "--export-depth", folder, "--overwrite")
    assert result.code == 2 and "input" in result.err and "Traceback" not in result.err, result.err
    assert {p.name: digest(p) for p in sorted(folder.iterdir())} == before
    assert not (tmp_path / "b.mp4").exists() and partials(tmp_path) == []


def test_frame_over_a_still_source_is_refused(cli, tmp_path):
    import cv2

    still = tmp_path / "plate.png"
    cv2.imwrite(str(still), np.full((32, 48, 3), 120, np.uint8))
    before = digest(still)
    result = cli("frame", still, "--at", "0f", "-o", still, "--overwrite")
    assert_refused(result, 2, still, before, "is the input")


def test_frame_refuses_the_export_flags(cli, clip, tmp_path):
    result = cli("frame", clip, "--at", "1f", "-o", tmp_path / "f.png", "--export-depth", tmp_path / "d")
    assert result.code == 2 and "convert" in result.err and not (tmp_path / "d").exists()
    assert not (tmp_path / "f.png").exists()


def test_overwrite_replaces_an_earlier_export_with_no_old_frames_left(cli, tmp_path):
    long = write_clip(tmp_path / "long.mp4", frames=12)
    folder = tmp_path / "depth"
    assert cli("convert", long, "-o", tmp_path / "a.mp4", "--export-depth", folder, "--shots", "off").code == 0
    assert len(list(folder.glob("*.png"))) == 12
    result = cli("convert", long, "-o", tmp_path / "a.mp4", "--export-depth", folder, "--overwrite",
                 "--start", "2f", "--end", "6f", "--shots", "off")
    assert result.code == 0, result.err
    assert sorted(p.name for p in folder.iterdir()) == ["depth.json"] + [f"long.depth.{i:06d}.png"
                                                                         for i in range(2, 6)]
    assert partials(tmp_path) == []


def test_eval_slice_over_its_source_is_refused(cli, clip, tmp_path):
    still = tmp_path / "source.png"
    import cv2

    cv2.imwrite(str(still), np.full((32, 48, 3), 90, np.uint8))
    before = digest(still)
    result = cli("eval", clip, "--source", still, "--slice-row", "4", "--slice-out", still, "--overwrite")
    assert_refused(result, 2, still, before, "is the input")
