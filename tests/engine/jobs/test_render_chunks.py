"""Chunked project render (issue #13): chunk plan, manifest, chunked == unchunked bit-exactly on the
geometric path (FFV1, decoded frames), resume, up to date, damaged chunks, SIGKILL mid-render."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from engine import api
from engine.jobs.render import HeldJob
from engine.jobs.render_chunks import Manifest, parse_frame_range, parse_shot_list, plan_chunks
from tests.support.farm_project import frames_of, two_shot_project, unchunked_master, video_packets

LENGTHS = (12, 9)
N = sum(LENGTHS)


@pytest.fixture(scope="module")
def project_file(tmp_path_factory) -> Path:
    return two_shot_project(tmp_path_factory.mktemp("proj"), LENGTHS)


@pytest.fixture(scope="module")
def reference(project_file, tmp_path_factory) -> list[np.ndarray]:
    """The unchunked master: convert --project, FFV1 (lossless), DVG on."""
    frames = unchunked_master(project_file, tmp_path_factory.mktemp("ref") / "ref.mkv")
    assert len(frames) == N
    return frames


def test_plan_keeps_dvg_lookahead_inside_the_shot(project_file):
    clip = api.load_project(project_file).clip()
    chunks = plan_chunks(clip, None, None, 4, lag=2)
    assert [(c.start, c.end) for c in chunks] == [(0, 4), (4, 8), (8, 12), (12, 16), (16, 21)]
    assert all(c.end <= c.shot_end - 2 or c.end == c.shot_end for c in chunks)
    assert [(c.start, c.end) for c in plan_chunks(clip, (2,), (0, 18), 4, lag=2)] == [(12, 16), (16, 18)]
    assert len({c.id for c in chunks}) == len(chunks)
    covered = [i for c in chunks for i in range(c.start, c.end)]
    assert covered == list(range(N))  # every frame once
    assert parse_shot_list("2,1-2", 2) == (1, 2) and parse_frame_range("5:") == (5, None)
    with pytest.raises(api.UsageError, match="outside"):
        parse_shot_list("3", 2)
    with pytest.raises(api.UsageError, match="START:END"):
        parse_frame_range("12")


def test_chunked_equals_unchunked_resumes_and_is_up_to_date(cli, project_file, reference, tmp_path):
    master = tmp_path / "m.mkv"
    args = ("render", project_file, "-o", master, "--codec", "ffv1", "--chunk-frames", "4", "--progress", "none")
    r = cli(*args)
    assert r.code == 0, r.err
    assert "rendered 5 of 5 chunks" in r.err
    got = frames_of(master)
    assert len(got) == N
    for k, (a, b) in enumerate(zip(got, reference, strict=True)):
        assert np.array_equal(a, b), f"frame {k} differs from the unchunked render"
    folder = tmp_path / ".m.mkv.render"
    data = json.loads((folder / "manifest.json").read_text())
    assert data["schema"] == "RenderManifest.1" and len(data["committed"]) == 5
    assert sum(1 for r_ in data["committed"].values() if r_["state"]) == 3  # chunks followed within their shot
    again = cli(*args)
    assert again.code == 0 and "up to date" in again.err
    # damage one chunk and the state the next one continues from: both are redone, the master is identical
    ids = sorted(data["committed"])
    victim = folder / data["committed"][ids[1]]["files"][0]["name"]
    victim.write_bytes(victim.read_bytes()[:-100])
    state = folder / data["committed"][ids[0]]["state"]["name"]
    state.write_bytes(b"garbage")
    master.unlink()
    redo = cli(*args)
    assert redo.code == 0, redo.err
    assert "1 damaged" in redo.err and "rendered 1 of 5" in redo.err
    for a, b in zip(frames_of(master), reference, strict=True):
        assert np.array_equal(a, b)


def test_one_chunk_then_assemble(cli, project_file, reference, tmp_path):
    master = tmp_path / "farm.mkv"
    base = ("render", project_file, "-o", master, "--codec", "ffv1", "--chunk-frames", "4", "--progress", "none")
    early = cli(*base, "--assemble")
    assert early.code == 4 and "not committed" in early.err
    clip = api.load_project(project_file).clip()
    ids = [c.id for c in plan_chunks(clip, None, None, 4, lag=2)]
    # any order: a chunk without its predecessor's state warms up from the shot start. Two as CLI tasks,
    # the rest in one process holding its job (media open, depth stage built once) as a Ray actor does
    for cid in reversed(ids[-2:]):
        r = cli(*base, "--chunk", cid)
        assert r.code == 0, r.err
        assert not master.exists()
    request = api.RenderRequest(api.ConvertRequest(input=None, project=api.load_project(project_file),
                                                   output=master, encode=api.EncodeSettings(codec="ffv1")),
                                chunk_frames=4)
    held = HeldJob()
    try:
        for cid in reversed(ids[:-2]):
            for _ in api.render(replace(request, chunk=cid), held=held):
                pass
    finally:
        held.close()
    assert held.opened == 1 and not master.exists()
    assert cli(*base, "--chunk", ids[0]).err.count("up to date") == 1
    done = cli(*base, "--assemble")
    assert done.code == 0, done.err
    for a, b in zip(frames_of(master), reference, strict=True):
        assert np.array_equal(a, b)
    bad = cli(*base, "--chunk", "c1-s009-000000-000001")
    assert bad.code == 2 and "no chunk" in bad.err


def packet_times(path):
    with av.open(str(path)) as c:
        return [(p.pts, p.duration) for p in c.demux(video=0) if p.size]


def test_prores_master_is_the_chunks_stream_copied(project_file, tmp_path):
    """ProRes chunks are written in the master's codec and joined packet by packet: the master's
    bitstream is byte-identical to a one-pass `convert --project` (MOV master from MKV chunks)."""
    one_pass = tmp_path / "ref.mov"
    unchunked_master(project_file, one_pass, codec="prores")
    master = tmp_path / "m.mov"
    request = api.RenderRequest(api.ConvertRequest(input=None, project=api.load_project(project_file), output=master,
                                                   encode=api.EncodeSettings(codec="prores")), chunk_frames=5)
    for _ in api.render(request):
        pass
    chunk_files = sorted((tmp_path / ".m.mov.render").glob("c1-*.mkv"))
    assert len(chunk_files) >= 3
    with av.open(str(chunk_files[0])) as c:
        assert c.streams.video[0].codec_context.name == "prores"
    got, want = video_packets(master), video_packets(one_pass)
    assert len(got) == N and got == want
    assert packet_times(master) == packet_times(one_pass)  # pts and durations: same timing as one pass
    with av.open(str(master)) as c:
        assert c.streams.video[0].codec_context.name == "prores" and c.format.name.startswith("mov")


def test_ten_bit_hevc_master_equals_the_one_pass_encode(project_file, tmp_path):
    """10-bit through the encode pass: 16-bit FFV1 chunks keep every bit of the frames, so x265 gets
    exactly what `convert` gives it (10-bit intermediates differed by up to 17 of 1023 levels)."""
    encode = api.EncodeSettings(codec="hevc", bit_depth=10, preset="ultrafast")
    one_pass, master = tmp_path / "ref.mkv", tmp_path / "m.mkv"
    convert = api.ConvertRequest(input=None, project=api.load_project(project_file), output=one_pass, encode=encode)
    for _ in api.convert(convert):
        pass
    for _ in api.render(api.RenderRequest(replace(convert, output=master), chunk_frames=6)):
        pass
    with av.open(str(next((tmp_path / ".m.mkv.render").glob("c1-*.mkv")))) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "gbrp16le"
    got, want = frames_of(master, "rgb48le"), frames_of(one_pass, "rgb48le")
    assert len(got) == N
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert np.array_equal(a, b), f"frame {k}"


def test_shots_and_frames_select_the_masters_frames(cli, project_file, reference, tmp_path):
    master = tmp_path / "part.mkv"
    r = cli("render", project_file, "-o", master, "--codec", "ffv1", "--shots", "2", "--frames", "14:",
            "--chunk-frames", "3", "--progress", "none")
    assert r.code == 0, r.err
    got = frames_of(master)
    assert len(got) == N - 14
    for a, b in zip(got, reference[14:], strict=True):  # the frames of the full render, not a re-normalised cut
        assert np.array_equal(a, b)


def test_bad_requests(cli, project_file, tmp_path):
    r = cli("render", project_file, "-o", tmp_path / "x.mkv", "--no-cache")
    assert r.code == 2 and "--no-cache" in r.err
    r = cli("render", project_file, "-o", tmp_path / "x.mkv", "--shots", "1-3")
    assert r.code == 2 and "outside" in r.err
    for own_input in (project_file, project_file.with_name("two.mp4")):  # never written over, --overwrite or not
        before = own_input.read_bytes()
        r = cli("render", project_file, "-o", own_input, "--overwrite")
        assert r.code == 2 and "never writes over" in r.err and own_input.read_bytes() == before
    moved = tmp_path / "moved.sdproj"
    data = json.loads(project_file.read_text())
    data["clips"][0]["media"] = "/nowhere/two.mp4"
    data["clips"][0].pop("media_absolute", None)
    moved.write_text(json.dumps(data))
    r = cli("render", moved, "-o", tmp_path / "x.mkv")
    assert r.code == 3 and "two.mp4" in r.err and "Traceback" not in r.err
    refined = tmp_path / "refined.sdproj"
    data = json.loads(project_file.read_text())
    data["render"]["refiner"] = "small"
    data["clips"][0]["media"] = str(project_file.with_name("two.mp4"))
    refined.write_text(json.dumps(data))
    r = cli("render", refined, "-o", tmp_path / "x.mkv")  # the project's refiner is used, so it must exist
    assert r.code == 5 and "refiner 'small' not found" in r.err and "Traceback" not in r.err
    assert "depth" not in r.err  # said before any work


def test_sigkill_mid_render_then_rerun_gives_the_identical_master(project_file, reference, tmp_path):
    master = tmp_path / "k.mkv"
    cmd = [sys.executable, "-m", "engine", "render", str(project_file), "-o", str(master), "--codec", "ffv1",
           "--chunk-frames", "2", "--progress", "none"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    manifest = Manifest(tmp_path / ".k.mkv.render")
    deadline = time.monotonic() + 300
    committed = 0
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            data = manifest.read()
        except api.InvalidProject:
            data = None
        committed = len(data["committed"]) if data else 0
        if committed >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the render finished before it could be killed"
    assert not master.exists()
    request = api.RenderRequest(api.ConvertRequest(input=None, project=api.load_project(project_file), output=master,
                                                   encode=api.EncodeSettings(codec="ffv1")), chunk_frames=2)
    job = api.render(request)
    try:
        while True:
            next(job)
    except StopIteration as stop:
        report = stop.value
    assert len(report.kept) >= committed and report.rendered and not report.damaged
    assert set(report.kept).isdisjoint(report.rendered)
    assert len(report.kept) + len(report.rendered) == len(report.chunks)
    assert not list(master.parent.glob(".k*.partial-*"))
    assert not list((tmp_path / ".k.mkv.render").glob(".*.partial-*"))  # the killed worker's partials went
    for a, b in zip(frames_of(master), reference, strict=True):
        assert np.array_equal(a, b)
