"""engine.jobs.pairs + engine.cli_pairs: the pair dataset (layout, content, resume, bad input)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.cache import media_fingerprint
from engine.cli import pairs as cli_pairs
from engine.dvg import DvgConfig, forward_backward
from engine.errors import Cancelled, InputError, InvalidProject, OutputError, UsageError
from engine.jobs.convert import to_image, to_tensor
from engine.jobs.pairs import (
    FlowConfidence,
    PairReport,
    PairRequest,
    clip_seed,
    draw_divergence,
    expand_inputs,
    load_manifest,
    make_pairs,
)
from engine.media import open_media
from engine.ops import splat_with_disparity
from engine.progress import CancelToken
from tests.support.clips import write_clip

W, H = 64, 48
RANGE = (6.0, 10.0)  # % of 64 px: 4-6 px of near-to-far disparity, holes a few px wide
FOLDERS = ("ref", "target", "target_mask", "back", "back_mask", "depth", "confidence")


def scene(i: int, shift: int = 0) -> np.ndarray:
    """(H, W, 3) uint8: a smooth panning background with a red square moving the other way (trackable)."""
    rng = np.random.default_rng(7)
    bg = cv2.GaussianBlur(rng.random((H, W + 64, 3)).astype(np.float32), (0, 0), 2.0)
    bg = (bg - bg.min()) / (bg.max() - bg.min())
    t = i + shift
    image = (bg[:, 2 * t : 2 * t + W] * 200 + 30).astype(np.uint8)
    image[14:34, 20 + t : 40 + t] = (230, 60, 40)
    return image


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A folder: two short clips, a text file, a still and a broken .mp4."""
    folder = tmp_path_factory.mktemp("footage")
    write_clip(folder / "a.mp4", frames=5, image_fn=scene)
    write_clip(folder / "b.mp4", frames=4, image_fn=lambda i: scene(i, shift=3))
    (folder / "notes.txt").write_text("not a video", encoding="utf-8")
    cv2.imwrite(str(folder / "still.png"), scene(0))
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    return folder


def request(inputs: Path, output: Path, **kw) -> PairRequest:
    settings = dict(divergence_range=RANGE, device="cpu", max_width=None, write_disparity=True)
    settings.update(kw)
    return PairRequest(inputs=(inputs,), output=output, **settings)


def run(req: PairRequest, cancel: CancelToken | None = None, on_progress=None) -> tuple[PairReport, list]:
    seen = []
    job = make_pairs(req, cancel)
    try:
        while True:
            p = next(job)
            seen.append(p)
            if on_progress is not None:
                on_progress(p)
    except StopIteration as stop:
        return stop.value, seen


def png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image[..., ::-1] if image.ndim == 3 else image


@pytest.fixture(scope="module")
def built(inputs, tmp_path_factory) -> tuple[Path, PairReport, list]:
    out = tmp_path_factory.mktemp("pairs") / "dataset"
    report, progress = run(request(inputs, out))
    return out, report, progress


def test_layout_manifest_and_skipped_inputs(built, inputs):
    out, report, progress = built
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema"] == "PairDataset.1" and manifest["status"] == "complete"
    assert (manifest["reference"], manifest["target"], manifest["scale"]) == ("left", "right", 1.0)
    assert manifest["settings"]["divergence_range"] == list(RANGE)
    assert [c["folder"] for c in manifest["clips"]] == ["clips/0000_a", "clips/0001_b"]
    assert report.built == ("0000_a", "0001_b") and report.reused == () and report.frames_built == 9
    # the three non-video files are skipped with a note each and listed, in name order
    skipped = {Path(s["path"]).name: s["reason"] for s in manifest["skipped"]}
    assert list(skipped) == ["broken.mp4", "notes.txt", "still.png"]
    assert [s.path.name for s in report.skipped] == list(skipped)
    assert "still image" in skipped["still.png"]
    notes = [p.message for p in progress if p.stage == "note"]
    assert sum(m.startswith("skipped ") for m in notes) == 3
    for entry, frames in zip(manifest["clips"], (5, 4), strict=True):
        clip = out / entry["folder"]
        record = json.loads((clip / "clip.json").read_text())
        assert record["schema"] == "PairClip.1" and record["status"] == "complete"
        assert record["frames"] == entry["frames"] == frames and record["frame_range"] == [0, frames]
        assert record["eye_size"] == [W, H] and record["fps"] == "24/1"
        assert record["content_hash"] == media_fingerprint(inputs / Path(entry["source"]).name)
        names = [f"{i:06d}.png" for i in range(frames)]
        for folder in FOLDERS:
            assert sorted(p.name for p in (clip / folder).iterdir()) == names
        assert sorted(p.name for p in (clip / "disparity").iterdir()) == [
            n.replace(".png", ".npy") for n in names
        ]
        assert (
            png(clip / "ref/000000.png").shape == (H, W, 3) and png(clip / "ref/000000.png").dtype == np.uint8
        )
        assert png(clip / "depth/000000.png").dtype == np.uint16
        for mask in ("target_mask", "back_mask"):
            values = np.unique(png(clip / mask / "000001.png"))
            assert png(clip / mask / "000001.png").ndim == 2 and set(values.tolist()) <= {0, 255}
    assert not list((out / "clips").glob(".*"))  # no staging folder left behind


def test_reference_is_the_source_frame(built, inputs):
    out, _, _ = built
    with open_media(inputs / "a.mp4") as reader:
        for i in range(5):
            assert np.array_equal(png(out / "clips/0000_a/ref" / f"{i:06d}.png"), reader.frame(i).image)


def frame_arrays(clip: Path, i: int) -> dict[str, np.ndarray]:
    name = f"{i:06d}"
    arrays = {k: png(clip / k / f"{name}.png") for k in FOLDERS}
    arrays["disparity"] = np.load(clip / "disparity" / f"{name}.npy")
    return arrays


def test_target_mask_is_the_forward_splat_and_depth_gives_the_disparity(built):
    out, _, _ = built
    clip = out / "clips/0000_a"
    record = json.loads((clip / "clip.json").read_text())
    for i in range(5):
        f = frame_arrays(clip, i)
        x1 = to_tensor(f["ref"], torch.device("cpu"))
        d = torch.from_numpy(f["disparity"])[None, None]
        view, holes, _ = splat_with_disparity(x1, d, 1.0)
        assert np.array_equal(f["target_mask"] == 255, holes[0, 0].numpy())
        assert holes.any()  # the grade opens real disocclusions
        seen = ~holes[0, 0].numpy()
        assert np.array_equal(f["target"][seen], to_image(view, 8)[seen])  # x2 is the splat outside m2
        # depth.png is nearness 1 - δ; the grade d = D/100 · W · (c − δ) reproduces the disparity
        delta = 1.0 - f["depth"].astype(np.float64) / 65535.0
        graded = record["divergence"] / 100.0 * W * (record["convergence"] - delta)
        assert np.abs(graded - f["disparity"]).max() < 1e-3
        low, high = record["disparity_range_px"]
        assert low - 1e-4 <= f["disparity"].min() and f["disparity"].max() <= high + 1e-4


def test_back_render_returns_the_reference_where_it_is_seen(built):
    out, _, _ = built
    clip = out / "clips/0001_b"
    errors, baseline = [], []
    for i in range(4):
        f = frame_arrays(clip, i)
        seen = f["back_mask"] == 0
        assert 0 < (~seen).mean() < 0.2  # m1: some occluded pixels, not most of the frame
        assert np.all(f["back"][~seen] == 0)  # nothing landed there
        ref, back = f["ref"].astype(np.float64) / 255, f["back"].astype(np.float64) / 255
        errors.append(np.abs(back - ref)[seen].mean())
        baseline.append(np.abs(f["target"].astype(np.float64) / 255 - ref)[seen].mean())  # x2 unwarped
    # the round trip resamples twice (fractional disparities), so not exact; but far closer than the
    # right view itself, which is off by the disparity
    assert max(errors) < 0.02  # measured 0.008
    assert max(errors) < 0.4 * min(baseline)  # measured 0.034


def test_spatial_mode_writes_the_spatial_forward_backward(inputs, tmp_path):
    report, _ = run(request(inputs, tmp_path / "ds", temporal=False, max_frames=2))
    assert report.frames_built == 4
    clip = tmp_path / "ds/clips/0000_a"
    f = frame_arrays(clip, 1)
    fb = forward_backward(
        to_tensor(f["ref"], torch.device("cpu")), torch.from_numpy(f["disparity"])[None, None]
    )
    assert np.array_equal(f["target"], to_image(fb.target, 8))
    assert np.array_equal(f["back"], to_image(fb.reference, 8))
    assert np.array_equal(f["back_mask"] == 255, fb.reference_holes[0, 0].numpy())


def test_divergence_is_drawn_in_range_and_reproducible_from_the_seed(built, inputs, tmp_path):
    out, _, _ = built
    manifest = load_manifest(out)
    for entry in manifest["clips"]:
        source = inputs / Path(entry["source"]).name
        assert entry["seed"] == clip_seed(0, media_fingerprint(source))
        assert RANGE[0] <= entry["divergence"] <= RANGE[1]
        assert entry["divergence"] == draw_divergence(entry["seed"], RANGE)
        assert entry["divergence"] == float(np.random.default_rng(entry["seed"]).uniform(*RANGE))
    assert manifest["clips"][0]["divergence"] != manifest["clips"][1]["divergence"]
    assert clip_seed(1, "ab" * 32) != clip_seed(0, "ab" * 32) and clip_seed(0, "ab" * 32) < 2**48
    assert draw_divergence(123, (2.5, 2.5)) == 2.5


def mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


def test_cancel_then_resume_keeps_the_finished_clip(inputs, tmp_path):
    out = tmp_path / "ds"
    token = CancelToken()

    def cancel_at_second_clip(p):
        if p.stage == "note" and p.message.startswith("clip 2/2"):
            token.cancel()

    with pytest.raises(Cancelled):
        run(request(inputs, out), token, cancel_at_second_clip)
    manifest = load_manifest(out)
    assert manifest["status"] == "partial" and [c["folder"] for c in manifest["clips"]] == ["clips/0000_a"]
    assert sorted(p.name for p in (out / "clips").iterdir()) == ["0000_a"]  # no half clip, no staging
    before = mtimes(out / "clips/0000_a")
    report, _ = run(request(inputs, out))
    assert report.reused == ("0000_a",) and report.built == ("0001_b",)
    assert mtimes(out / "clips/0000_a") == before
    manifest = load_manifest(out)
    assert manifest["status"] == "complete" and len(manifest["clips"]) == 2


def test_a_half_written_clip_is_removed_and_redone(inputs, tmp_path):
    out = tmp_path / "ds"
    run(request(inputs, out, max_frames=2))
    clip = out / "clips/0001_b"
    record = json.loads((clip / "clip.json").read_text())
    (clip / "clip.json").write_text(json.dumps({**record, "status": "writing"}))
    (clip / "junk.tmp").write_text("left by a crash")
    (out / "clips/.0001_b.partial").mkdir()
    report, _ = run(request(inputs, out, max_frames=2))
    assert report.reused == ("0000_a",) and report.built == ("0001_b",)
    assert not (clip / "junk.tmp").exists() and not (out / "clips/.0001_b.partial").exists()
    assert json.loads((clip / "clip.json").read_text())["status"] == "complete"


def test_other_settings_are_refused_unless_overwrite(inputs, tmp_path):
    out = tmp_path / "ds"
    run(request(inputs, out, max_frames=1))
    with pytest.raises(UsageError, match="divergence_range") as info:
        run(request(inputs, out, max_frames=1, divergence_range=(2.0, 3.0)))
    assert "--overwrite" in str(info.value) and info.value.exit_code == 2
    report, _ = run(request(inputs, out, max_frames=1, divergence_range=(2.0, 3.0), overwrite=True))
    assert report.built == ("0000_a", "0001_b")
    assert load_manifest(out)["settings"]["divergence_range"] == [2.0, 3.0]


def test_a_folder_that_is_not_a_dataset_is_left_alone(inputs, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(OutputError, match="not a pair dataset"):
        run(request(inputs, out, overwrite=True))
    assert (out / "thesis.tex").read_text() == "precious"


def test_no_usable_input_and_missing_input_are_input_errors(inputs, tmp_path):
    only_text = tmp_path / "texts"
    only_text.mkdir()
    shutil.copy(inputs / "notes.txt", only_text / "notes.txt")
    with pytest.raises(InputError, match="no usable video"):
        run(request(only_text, tmp_path / "ds"))
    report, _ = run(
        request(inputs / "b.mp4", tmp_path / "ds", max_frames=1)
    )  # the folder it left is resumable
    assert report.built == ("0000_b",)
    with pytest.raises(InputError, match="not found"):
        run(request(tmp_path / "nowhere.mp4", tmp_path / "ds2"))
    assert not (tmp_path / "ds2").exists()  # refused before anything was created
    with pytest.raises(UsageError, match="divergence-range"):
        request(inputs, tmp_path / "ds3", divergence_range=(5.0, 2.0))


def old_manifest(divergence_range: tuple[float, float] = RANGE) -> dict:
    return {
        "schema": "PairDataset.0",
        "divergence_range": list(divergence_range),
        "convergence": 1 / 3,
        "clips": [{"folder": "clips/0000_a", "source": "/old/a.mp4", "divergence": 7.5, "frames": 5}],
    }


def test_an_older_schema_is_upgraded_and_resumed(inputs, tmp_path):
    out = tmp_path / "ds"
    (out / "clips/0000_a/ref").mkdir(parents=True)  # a .0 clip: frames but no clip.json
    (out / "manifest.json").write_text(json.dumps(old_manifest()))
    upgraded = load_manifest(out)
    assert upgraded["schema"] == "PairDataset.1" and upgraded["reference"] == "left"
    assert upgraded["clips"][0]["divergence"] == 7.5 and upgraded["clips"][0]["seed"] is None
    assert upgraded["settings"]["divergence_range"] == list(RANGE) and upgraded["settings"]["seed"] is None
    report, progress = run(request(inputs, out, max_frames=1))
    assert any("upgraded from PairDataset.0" in (p.message or "") for p in progress)
    assert report.built == ("0000_a", "0001_b")  # nothing to verify the old clip against: rebuilt
    data = json.loads((out / "manifest.json").read_text())
    assert data["schema"] == "PairDataset.1" and data["clips"][0]["seed"] is not None
    # an older dataset made with another range is not silently mixed
    (out / "manifest.json").write_text(json.dumps(old_manifest((1.0, 2.0))))
    with pytest.raises(UsageError, match="divergence_range"):
        run(request(inputs, out, max_frames=1))


def test_a_newer_schema_is_refused_with_a_clear_message(inputs, tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"schema": "PairDataset.2", "clips": []}))
    with pytest.raises(InvalidProject, match=r"PairDataset\.2 is newer") as info:
        load_manifest(out)
    assert "Update SpatialDreamer" in str(info.value) and info.value.exit_code == 3
    with pytest.raises(InvalidProject, match="newer"):
        run(request(inputs, out))
    (out / "manifest.json").write_text(json.dumps({"schema": "Project.1"}))
    with pytest.raises(InvalidProject, match="not a PairDataset file"):
        load_manifest(out)


def test_flow_confidence_is_high_for_a_pan_and_zero_across_a_cut():
    conf = FlowConfidence(DvgConfig())
    a, b = scene(0), scene(1)
    unrelated = np.random.default_rng(3).integers(0, 255, a.shape, dtype=np.uint8)
    assert conf.push(0, a) == []
    ((i0, c0),) = conf.push(1, b)
    ((i1, c1),) = conf.push(2, unrelated)  # a cut: frame 1 keeps only its link back to frame 0
    ((i2, c2),) = conf.flush()
    assert (i0, i1, i2) == (0, 1, 2) and c0.shape == (H, W) and c0.dtype == np.float32
    assert np.median(c0) > 0.9 and np.median(c1) > 0.9
    assert np.all(c2 == 0)  # the frame after the cut has no consistent neighbour
    assert conf.flush() == []
    ((_, single),) = (conf.push(5, a), conf.flush())[1]
    assert np.all(single == 0)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spatialdreamer")
    cli_pairs.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["make-pairs", *argv])


def test_cli_builds_and_lists_skipped_inputs(inputs, tmp_path, capsys):
    out = tmp_path / "ds"
    args = parse(
        str(inputs),
        "-o",
        str(out),
        "--divergence-range",
        "2",
        "4",
        "--seed",
        "3",
        "--max-width",
        "32",
        "--max-frames",
        "2",
        "--temporal",
        "off",
        "--shots",
        "off",
        "--device",
        "cpu",
        "--progress",
        "none",
    )
    assert args.divergence_range == [2.0, 4.0] and args.max_width == 32
    assert cli_pairs.run(args) == 0
    err = capsys.readouterr().err
    assert "2 clip(s) built (4 frames)" in err
    assert "skipped 3 input(s)" in err and "notes.txt" in err and "broken.mp4" in err
    manifest = load_manifest(out)
    assert manifest["settings"]["seed"] == 3 and manifest["settings"]["temporal"] is False
    assert manifest["clips"][0]["eye_size"] == [32, 24]
    assert png(out / "clips/0000_a/ref/000001.png").shape == (24, 32, 3)
    assert not (out / "clips/0000_a/disparity").exists()
    assert parse("x", "-o", "y", "--max-width", "full").max_width is None
    assert expand_inputs((inputs / "b.mp4", inputs, out), out)[:3] == [inputs / "b.mp4", inputs / "a.mp4",
                                                                      inputs / "broken.mp4"]
    with pytest.raises(UsageError, match="other settings"):  # exit 2 from the CLI's error mapping
        cli_pairs.run(
            parse(
                str(inputs),
                "-o",
                str(out),
                "--seed",
                "4",
                "--max-width",
                "32",
                "--max-frames",
                "2",
                "--temporal",
                "off",
                "--shots",
                "off",
                "--device",
                "cpu",
                "--progress",
                "none",
            )
        )


def test_cli_json_progress_ends_with_the_report(inputs, tmp_path, capsys):
    args = parse(
        str(inputs / "b.mp4"),
        "-o",
        str(tmp_path / "ds"),
        "--max-frames",
        "1",
        "--device",
        "cpu",
        "--progress",
        "json",
    )
    assert cli_pairs.run(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1])["report"]["built"] == ["0000_b"]
    assert any(json.loads(line).get("stage") == "pairs" for line in lines[:-1])
