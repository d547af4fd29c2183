"""A clip whose first keyframe is damaged is refused by probe and convert in one line, exit 3.

The clip is written at test time and only the first IDR slice's data is overwritten (the MP4
structure is intact), which is the case where probe used to report "2 frames" and convert wrote a
master of concealment artefacts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import pytest

from tests.support.clips import damage_first_keyframe, write_clip


def digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def one_error_line(result) -> str:
    """The single `error:` line of a refused command (no traceback, nothing else)."""
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.err, result.err
    return errors[0]


@pytest.fixture(params=[2, 6], ids=["2-frames", "6-frames"])
def damaged(request, tmp_path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    return damage_first_keyframe(write_clip(folder / "damaged.mp4", frames=request.param, gop=3))


def test_the_builder_damages_only_the_first_frame(damaged):
    with av.open(str(damaged)) as container:
        frames = list(container.decode(video=0))
    assert frames and frames[0].is_corrupt
    assert not any(f.is_corrupt for f in frames[1:])


def test_probe_says_the_stream_is_damaged(cli, damaged):
    result = cli("probe", damaged)
    line = one_error_line(result)
    assert result.code == 3 and result.out == ""
    assert str(damaged) in line and "damaged" in line and "first frame" in line
    assert "re-export" in line.lower()


def test_convert_refuses_and_leaves_nothing(cli, damaged, tmp_path):
    before = digest(damaged)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = cli("convert", damaged, "-o", out_dir / "master.mp4", "--progress", "none")
    line = one_error_line(result)
    assert result.code == 3 and "damaged" in line and str(damaged) in line
    assert list(out_dir.iterdir()) == []
    assert sorted(p.name for p in damaged.parent.iterdir()) == ["damaged.mp4"]
    assert digest(damaged) == before


def test_an_undamaged_clip_still_probes(cli, tmp_path):
    result = cli("probe", write_clip(tmp_path / "good.mp4", frames=6, gop=3))
    assert result.code == 0 and "6 frames" in result.out, result.err
