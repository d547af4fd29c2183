"""`convert` as a batch: five inputs, one damaged and one already done (--resume), from the CLI."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np

from engine.media import probe
from tests.support.clips import write_clip


def test_batch_of_five_with_one_damaged_and_one_done(cli, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    for name in ("a", "b", "c", "d"):
        write_clip(src / f"{name}.mp4", frames=3)
    (src / "e.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))  # damaged
    (src / "readme.txt").write_text("not media")
    done = cli("convert", src / "b.mp4", "-o", out / "b_sbs-full.mp4", "--no-cache", "--progress", "none")
    assert done.code == 0, done.err
    stamp = os.stat(out / "b_sbs-full.mp4").st_mtime_ns
    result = cli("convert", src, "-o", out, "--resume", "--no-cache", "--progress", "none")
    assert result.code == 3, result.err
    lines = result.err.splitlines()
    summary = lines[lines.index("batch: 3 done, 1 skipped, 1 failed, 1 not media"):]
    assert f"  done     {src / 'a.mp4'} -> {out / 'a_sbs-full.mp4'}" in summary
    assert f"  skipped  {src / 'b.mp4'}: output exists and is complete (3 frames)" in summary
    failed = [line for line in summary if line.startswith("  failed")]
    assert len(failed) == 1 and str(src / "e.mp4") in failed[0]
    assert summary[-1] == f"  not media {src / 'readme.txt'} (skipped)"
    assert os.stat(out / "b_sbs-full.mp4").st_mtime_ns == stamp  # --resume touched nothing
    assert sorted(p.name for p in out.iterdir()) == ["a_sbs-full.mp4", "b_sbs-full.mp4", "c_sbs-full.mp4",
                                                     "d_sbs-full.mp4"]
    for name in "acd":
        assert probe(out / f"{name}_sbs-full.mp4").video.frame_count == 3
    again = cli("convert", src, "-o", out, "--resume", "--no-cache", "--progress", "json")
    report = json.loads(again.out.strip().splitlines()[-1])
    assert again.code == 3 and (report["done"], report["skipped"], report["failed"]) == (0, 4, 1)


def test_recursive_glob_mirrors_folders_and_empty_folder_is_an_error(cli, tmp_path):
    src = tmp_path / "src"
    (src / "x").mkdir(parents=True)
    write_clip(src / "x/one.mov", frames=2)
    write_clip(src / "x/two.mp4", frames=2)
    result = cli("convert", src, "-o", tmp_path / "out", "--recursive", "--glob", "*.mov", "--layout", "sbs-half",
                 "--name-for-players", "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert [p.relative_to(tmp_path / "out").as_posix() for p in sorted((tmp_path / "out").rglob("*.mp4"))] == [
        "x/one_LR.mp4"]
    (tmp_path / "empty").mkdir()
    empty = cli("convert", tmp_path / "empty", "-o", tmp_path / "none", "--progress", "none")
    assert empty.code == 3 and "no media files to convert" in empty.err and not (tmp_path / "none").exists()
    lone = cli("convert", src / "x/one.mov", "-o", tmp_path / "o.mp4", "--resume")
    assert lone.code == 2 and "--resume is for batches" in lone.err


def test_plate_folders_in_a_batch_are_sequences(cli, tmp_path):
    for shot in ("sh010", "sh020"):
        (tmp_path / "plates" / shot).mkdir(parents=True)
        for n in range(1001, 1004):
            cv2.imwrite(str(tmp_path / "plates" / shot / f"{shot}.{n}.png"), np.full((24, 32, 3), 40 * (n - 1000),
                                                                                      np.uint8))
    write_clip(tmp_path / "plates/ref.mp4", frames=2)
    result = cli("convert", tmp_path / "plates", "--recursive", "--fps", "24", "-o", tmp_path / "out",
                 "--no-cache", "--progress", "none")
    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "ref_sbs-full.mp4", "sh010_sbs-full.mp4", "sh020_sbs-full.mp4"]
    info = probe(tmp_path / "out/sh020_sbs-full.mp4").video
    assert info.frame_count == 3 and info.start_timecode == "00:00:41:17"
    pair = cli("convert", tmp_path / "plates/sh010", tmp_path / "plates/sh020", "--fps", "24", "-o", tmp_path / "o2",
               "--no-cache", "--progress", "none")
    assert pair.code == 0 and "batch: 2 done" in pair.err, pair.err
