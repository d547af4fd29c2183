"""engine.jobs.batch: what a batch selects, how it names outputs, and its outcomes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import InputError, OutputError, UsageError
from engine.jobs.batch import (
    BatchItem,
    BatchReport,
    BatchRequest,
    batch,
    is_batch,
    output_name,
    plan_items,
    select_inputs,
)
from engine.jobs.request import ConvertRequest
from engine.media import EncodeSettings, probe
from tests.support.clips import write_clip


def request(inputs, out, **kw) -> BatchRequest:
    base = kw.pop("base", ConvertRequest(None, use_cache=False))
    return BatchRequest(inputs=tuple(inputs), output_dir=out, base=base, **kw)


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_select_inputs_lists_media_skips_others_and_the_output_folder(tmp_path):
    src = tmp_path / "src"
    for name in ("b.mov", "a.mp4", "notes.txt", ".hidden.mp4", "sub/c.mkv", "sub/d.txt", "out/old.mp4"):
        touch(src / name)
    media, not_media = select_inputs(request([src], src / "out"))
    assert [p.name for p, _ in media] == ["a.mp4", "b.mov"] and [p.name for p in not_media] == ["notes.txt"]
    media, not_media = select_inputs(request([src], src / "out", recursive=True))
    assert [(p.name, str(rel)) for p, rel in media] == [("a.mp4", "."), ("b.mov", "."), ("c.mkv", "sub")]
    assert sorted(p.name for p in not_media) == ["d.txt", "notes.txt"]
    media, _ = select_inputs(request([src, src / "a.mp4"], tmp_path / "o", glob="*.mp4"))
    assert [p.name for p, _ in media] == ["a.mp4"]  # the same file twice counts once
    with pytest.raises(InputError, match="input not found"):
        select_inputs(request([src / "missing.mp4"], tmp_path / "o"))


def test_output_names_by_template_codec_and_player_suffix(tmp_path):
    base = ConvertRequest(None, layout="sbs-half")
    assert output_name(request([], tmp_path, base=base), Path("shot.mov")) == "shot_sbs-half.mp4"
    prores = ConvertRequest(None, layout="tb-full", encode=EncodeSettings(codec="prores"))
    assert output_name(request([], tmp_path, base=prores), Path("shot.mp4")) == "shot_tb-full.mov"
    assert output_name(request([], tmp_path, base=base, name_for_players=True), Path("shot.mp4")) == "shot_LR.mp4"
    assert output_name(request([], tmp_path, base=base, template="{name}.3d{ext}"), Path("a.mov")) == "a.mov.3d.mp4"
    assert output_name(request([], tmp_path, base=base), Path("still.png")) == "still_sbs-half.png"
    with pytest.raises(UsageError, match="fields"):
        output_name(request([], tmp_path, base=base, template="{nope}"), Path("a.mp4"))
    with pytest.raises(UsageError, match="names one file"):
        output_name(request([], tmp_path, base=base, template="x/{stem}"), Path("a.mp4"))


def test_two_inputs_with_one_output_name_fail_the_second(tmp_path):
    items = plan_items(request([], tmp_path / "o"), [(Path("a.mov"), Path()), (Path("a.mp4"), Path())])
    assert items[0][1] == tmp_path / "o/a_sbs-full.mp4" and items[1][1] is None
    assert "also the output of a.mov" in items[1][2]


def test_is_batch_folder_rules(tmp_path):
    clips = tmp_path / "clips"
    touch(clips / "a.mp4")
    touch(clips / "b.mp4")
    run = tmp_path / "run"
    for n in range(3):
        run.mkdir(exist_ok=True)
        cv2.imwrite(str(run / f"p.{n:04d}.png"), np.zeros((4, 4, 3), np.uint8))
    assert is_batch((clips,)) and not is_batch((run,)) and is_batch((run,), as_batch=True)
    assert not is_batch((clips / "a.mp4",)) and is_batch((clips / "a.mp4", clips / "b.mp4"))
    assert not is_batch((clips,), as_sequence=True)
    with pytest.raises(UsageError):
        is_batch((clips / "a.mp4", clips / "b.mp4"), as_sequence=True)


def test_report_exit_codes_and_summary():
    report = BatchReport(Path("o"), [BatchItem(Path("a.mp4"), (Path("o/a.mp4"),), "done")], [Path("x.txt")])
    assert report.exit_code == 0
    report.items.append(BatchItem(Path("b.mp4"), (), "failed", "damaged", 3))
    assert report.exit_code == 3
    report.items.append(BatchItem(Path("c.mp4"), (), "failed", "disk full", 4))
    assert report.exit_code == 4
    lines = report.summary_lines()
    assert lines[0] == "batch: 1 done, 0 skipped, 2 failed, 1 not media"
    assert "  failed   b.mp4: damaged" in lines and lines[-1] == "  not media x.txt (skipped)"
    assert report.to_dict()["schema"] == "BatchReport.1"


def drain(gen):
    """Run a job generator to its end; its return value."""
    result = []

    def outer():
        result.append((yield from gen))

    for _ in outer():
        pass
    return result[0]


def test_batch_never_writes_over_another_input(tmp_path):
    a = write_clip(tmp_path / "a.mp4", frames=2)
    b = write_clip(tmp_path / "a_sbs-full.mp4", frames=2)  # what a.mp4's output would be called
    report = drain(batch(request([a, b], tmp_path)))
    first = report.items[0]
    assert first.status == "failed" and "never writes over a file the job reads" in first.reason
    assert probe(b).video.frame_count == 2  # the other input is untouched
    assert report.items[1].status == "done" and report.exit_code == 3


def test_batch_output_folder_that_is_a_file_and_empty_selection(tmp_path):
    a = write_clip(tmp_path / "a.mp4", frames=2)
    with pytest.raises(UsageError, match="-o is a file"):
        drain(batch(request([a], a)))
    touch(tmp_path / "docs/readme.txt")
    with pytest.raises(InputError, match=r"no media files.*1 file\(s\) skipped as not media"):
        drain(batch(request([tmp_path / "docs"], tmp_path / "new")))
    assert not (tmp_path / "new").exists()


def test_existing_output_without_resume_fails_that_input_only(tmp_path):
    (tmp_path / "in").mkdir()
    a = write_clip(tmp_path / "in/a.mp4", frames=2)
    b = write_clip(tmp_path / "in/b.mp4", frames=2)
    touch(tmp_path / "out/a_sbs-full.mp4", b"someone else's file")
    report = drain(batch(request([a, b], tmp_path / "out")))
    assert [i.status for i in report.items] == ["failed", "done"]
    assert report.items[0].exit_code == OutputError.exit_code and "already exists" in report.items[0].reason
    assert report.exit_code == 4
    assert (tmp_path / "out/a_sbs-full.mp4").read_bytes() == b"someone else's file"
