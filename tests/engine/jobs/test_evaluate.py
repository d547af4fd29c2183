"""engine.jobs.evaluate and `spatialdreamer eval` on tiny lossless clips with known eyes, truth and holes.

The source is a texture sliding 2 px a frame; the true right view is the same texture D px further
along (x_R = x_L − D); the "render" copies the source as the left eye and builds the right eye by
shifting it, filling the D-px disocclusion at the right edge by replicating the last known column.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine.cli import evaluate as cli_eval
from engine.errors import Cancelled, InputError, OutputError, UsageError
from engine.flow import FlowConfig
from engine.jobs.evaluate import EVAL_SCHEMA, EvalRequest, evaluate
from engine.media import read_still, write_still
from engine.ops import pack
from engine.progress import CancelToken
from tests.support.clips import write_clip

W, H, T, D, SPEED = 64, 48, 8, 4, 2
FLOW = FlowConfig(preset="medium", working_width=None)
GAP = 4  # columns between the slice's panels


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    rng = np.random.default_rng(0)
    tex = cv2.GaussianBlur(rng.random((H + 20, W + SPEED * T + D + 20, 3)).astype(np.float32), (0, 0), 2.0)
    return ((tex - tex.min()) / (tex.max() - tex.min()) * 255 + 0.5).astype(np.uint8)


def view(texture: np.ndarray, t: int, offset: int = 0) -> np.ndarray:
    x = 10 + SPEED * t + offset
    return texture[10 : 10 + H, x : x + W].copy()


def rendered_right(source: np.ndarray, flicker: int = 0) -> np.ndarray:
    """Right eye from the source: x_R = x_L − D; the D right-most columns are holes, edge-filled."""
    right = np.empty_like(source)
    right[:, : W - D] = source[:, D:]
    fill = source[:, -1:].astype(np.int16) + flicker
    right[:, W - D :] = np.clip(fill, 0, 255).astype(np.uint8)
    return right


def hole_mask() -> np.ndarray:
    mask = np.zeros((H, W, 3), np.uint8)
    mask[:, W - D :] = 255
    return mask


def lossless(path: Path, images: list[np.ndarray]) -> Path:
    return write_clip(path, frames=len(images), codec="ffv1", pix_fmt="bgr0", image_fn=lambda i: images[i])


def packed(left: np.ndarray, right: np.ndarray, layout: str) -> np.ndarray:
    def tensor(x):
        return torch.from_numpy(x.astype(np.float32) / 255).permute(2, 0, 1)[None]

    out = pack(tensor(left), tensor(right), layout)[0].permute(1, 2, 0).numpy()
    return (out * 255 + 0.5).astype(np.uint8)


@pytest.fixture(scope="module")
def scene(texture, tmp_path_factory) -> dict[str, Path]:
    """Source, true right view, hole masks and masters in every layout (right eye with a flickering fill)."""
    folder = tmp_path_factory.mktemp("eval")
    source = [view(texture, t) for t in range(T)]
    right = [rendered_right(s) for s in source]

    def master(layout: str, rights: list[np.ndarray]) -> list[np.ndarray]:
        return [packed(s, r, layout) for s, r in zip(source, rights, strict=True)]

    paths = {"source": lossless(folder / "source.mkv", source),
             "truth": lossless(folder / "truth.mkv", [view(texture, t, D) for t in range(T)]),
             "truth_short": lossless(folder / "truth_short.mkv", [view(texture, t, D) for t in range(6)]),
             "holes": lossless(folder / "holes.mkv", [hole_mask()] * T),
             "short": lossless(folder / "short.mkv", master("sbs-full", right)[:6])}
    for layout in ("sbs-full", "sbs-half", "tb-full", "tb-half"):
        paths[layout] = lossless(folder / f"{layout}.mkv", master(layout, right))
    lossless(folder / "pair_L.mkv", source)
    paths["pair_R"] = lossless(folder / "pair_R.mkv", right)
    paths["pair"] = folder / "pair.mkv"
    flick = [rendered_right(s, 40 if t % 2 else -40) for t, s in enumerate(source)]
    paths["flicker"] = lossless(folder / "flicker.mkv", master("sbs-full", flick))
    return paths


def run(request: EvalRequest, cancel: CancelToken | None = None):
    job, progress = evaluate(request, cancel), []
    try:
        while True:
            progress.append(next(job))
    except StopIteration as stop:
        return stop.value, progress


def request(scene, layout: str = "sbs-full", master: str | None = None, **kw) -> EvalRequest:
    """Score scene[master or layout], packed as `layout`, against the scene's source."""
    return EvalRequest(output=scene[master or layout], source=scene["source"], layout=layout, flow=FLOW, **kw)


@pytest.mark.parametrize("layout", ["sbs-full", "sbs-half", "tb-full", "tb-half", "pair"])
def test_eyes_are_unpacked_where_the_packer_put_them(scene, texture, layout, tmp_path):
    out = tmp_path / "slice.png"
    report, progress = run(request(scene, layout, ground_truth=scene["truth"], slice_row=20, slice_out=out))
    assert report.frames == T and report.eye_size == (W, H)
    assert [p.done for p in progress if p.stage == "eval"] == list(range(1, T + 1))
    image = read_still(out).astype(np.int16)
    assert image.shape == (T, 3 * W + 2 * GAP, 3)
    src, left, right = (image[:, i * (W + GAP) : i * (W + GAP) + W] for i in range(3))
    expected_src = np.stack([view(texture, t)[20] for t in range(T)]).astype(np.int16)
    expected_right = np.stack([rendered_right(view(texture, t))[20] for t in range(T)]).astype(np.int16)
    tol = 0 if layout in ("sbs-full", "tb-full", "pair") else 12  # half layouts: squeezed and stretched
    assert np.abs(src - expected_src).max() == 0
    assert np.abs(left - expected_src)[:, 2:-2].max() <= tol
    assert np.abs(right - expected_right)[:, 2:-2].max() <= tol
    rows = report.rows
    assert rows["psnr"] > rows["psnr_source"] + 3  # the render beats copying the source
    assert rows["ssim"] > rows["ssim_source"]
    if layout in ("sbs-full", "tb-full", "pair"):
        assert rows["ewarp_ratio_left"] == pytest.approx(1.0, abs=1e-9)  # the left eye IS the source
    assert any("half" in n for n in report.notes) == layout.endswith("half")


def test_hole_masks_restrict_psnr_and_find_a_flickering_fill(scene):
    steady, _ = run(request(scene, ground_truth=scene["truth"], holes=scene["holes"]))
    flicker, _ = run(request(scene, master="flicker", ground_truth=scene["truth"], holes=scene["holes"]))
    s, f = steady.rows, flicker.rows
    assert s["psnr_holes"] < s["psnr"] - 6  # the fill is where the render is wrong
    assert s["ssim_holes"] < s["ssim"]
    assert f["fill_flicker"] > 3 * s["fill_flicker"]  # the steady edge-replicate fill still drifts a little
    assert f["ewarp_holes"] > 5 * s["ewarp_holes"]
    assert f["ewarp_ratio_right"] > s["ewarp_ratio_right"]
    assert f["ewarp_ratio_left"] == pytest.approx(s["ewarp_ratio_left"])
    assert steady.sequences["right"]["n_hole_pairs"] == T - 1
    assert not any("--holes" in n for n in steady.notes)


def test_a_flow_reference_scores_the_eye_under_that_views_flow(scene):
    own, _ = run(request(scene, holes=scene["holes"]))
    itself, _ = run(request(scene, holes=scene["holes"], flow_reference=scene["pair_R"]))
    assert itself.rows == own.rows  # the reference is the scored eye: the same flow, the same figures
    steady, _ = run(request(scene, holes=scene["holes"], flow_reference=scene["truth"]))
    flicker, _ = run(request(scene, master="flicker", holes=scene["holes"], flow_reference=scene["truth"]))
    for name in ("ewarp_source", "ewarp_left"):  # only the scored eye changes protocol
        assert steady.rows[name] == own.rows[name] == flicker.rows[name]
    assert steady.rows["ewarp_right"] == pytest.approx(own.rows["ewarp_right"], rel=0.5)
    assert flicker.rows["ewarp_holes"] > 5 * steady.rows["ewarp_holes"]
    assert flicker.rows["fill_flicker"] > 3 * steady.rows["fill_flicker"]
    assert steady.flow_reference == str(scene["truth"]) and own.flow_reference is None
    assert json.loads(steady.to_json())["flow_reference"] == str(scene["truth"])
    assert any("truth.mkv" in n and "own" in n for n in steady.notes)
    with pytest.raises(InputError, match="flow reference has 6 frames"):
        run(request(scene, flow_reference=scene["truth_short"]))
    with pytest.raises(InputError, match="flow reference is"):
        run(request(scene, flow_reference=scene["sbs-full"]))


def test_json_report_follows_the_schema(scene):
    report, progress = run(request(scene, ground_truth=scene["truth"]))
    data = json.loads(report.to_json())
    assert data["schema"] == EVAL_SCHEMA == "EvalReport.1"
    assert data["layout"] == "sbs-full" and data["eye"] == "right" and data["frames"] == T
    assert data["eye_size"] == [W, H] and data["flow"] == {"preset": "medium", "working_width": None}
    assert data["ground_truth"] == str(scene["truth"]) and data["holes"] is None and data["slice"] is None
    metrics = data["metrics"]
    assert list(metrics)[:5] == ["ewarp_source", "ewarp_left", "ewarp_right", "ewarp_ratio_left",
                                 "ewarp_ratio_right"]
    assert {"psnr", "ssim", "psnr_source", "ssim_source"} <= set(metrics)
    assert "psnr_holes" not in metrics and "fill_flicker" not in metrics  # need --holes, and say so
    assert any("--holes" in n for n in data["notes"])
    assert any(p.stage == "note" and "--holes" in p.message for p in progress)
    assert set(data["sequences"]) == {"source", "left", "right"}
    assert data["sequences"]["source"]["n_pairs"] == T - 1
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())


def test_max_frames_scores_the_first_frames_only(scene):
    report, _ = run(request(scene, max_frames=3, ground_truth=scene["truth"], holes=scene["holes"]))
    assert report.frames == 3 and report.sequences["right"]["n_frames"] == 3
    assert report.sequences["right"]["n_hole_pairs"] == 2 and report.rows["psnr_holes"] is not None


def test_without_ground_truth_only_temporal_figures(scene):
    report, _ = run(request(scene, max_frames=3))
    assert report.frames == 3 and report.sequences["left"]["n_frames"] == 3
    assert set(report.rows) == {"ewarp_source", "ewarp_left", "ewarp_right", "ewarp_ratio_left",
                                "ewarp_ratio_right"}
    table = report.format_table()
    assert "ewarp_ratio_right" in table and "E_warp of the source" in table


def test_a_range_render_is_scored_against_its_source_range(scene, texture, tmp_path):
    source = [view(texture, t) for t in range(T)]
    master = lossless(tmp_path / "range.mkv", [packed(s, rendered_right(s), "sbs-full") for s in source[2:7]])
    out = tmp_path / "slice.png"
    report, _ = run(EvalRequest(output=master, source=scene["source"], start="2f", end="7f", flow=FLOW,
                                slice_row=5, slice_out=out))
    assert report.frames == 5
    image = read_still(out)
    np.testing.assert_array_equal(image[:, :W], image[:, W + GAP : 2 * W + GAP])  # source row == left row
    with pytest.raises(InputError, match="same --start/--end"):
        run(EvalRequest(output=master, source=scene["source"], flow=FLOW))


def test_a_still_master_gets_ground_truth_scores_only(texture, tmp_path):
    src, truth = view(texture, 0), view(texture, 0, D)
    write_still(tmp_path / "src.png", src)
    write_still(tmp_path / "truth.png", truth)
    write_still(tmp_path / "out.png", packed(src, rendered_right(src), "tb-full"))
    report, _ = run(EvalRequest(output=tmp_path / "out.png", source=tmp_path / "src.png", layout="tb-full",
                                ground_truth=tmp_path / "truth.png", flow=FLOW))
    assert report.frames == 1
    assert report.rows["ewarp_source"] is None and report.rows["ewarp_ratio_right"] is None
    assert report.rows["psnr"] > report.rows["psnr_source"]
    assert any("at least two" in n for n in report.notes)
    assert "n/a" in report.format_table()


def test_mismatched_inputs_are_input_errors_naming_the_files(scene, tmp_path):
    with pytest.raises(InputError) as info:
        run(EvalRequest(output=scene["short"], source=scene["source"], flow=FLOW))
    assert "short.mkv" in str(info.value) and "source.mkv" in str(info.value) and info.value.exit_code == 3
    with pytest.raises(InputError, match="does not hold two eyes"):
        run(request(scene, "tb-full", master="sbs-full"))
    with pytest.raises(InputError, match="not found"):
        run(EvalRequest(output=tmp_path / "missing.mp4", source=scene["source"], flow=FLOW))
    with pytest.raises(InputError, match="ground truth has 6 frames"):
        run(request(scene, ground_truth=scene["truth_short"]))
    with pytest.raises(InputError, match="hole masks"):
        run(request(scene, holes=scene["sbs-full"]))


def test_bad_requests_are_usage_errors(scene, tmp_path):
    for bad in (dict(layout="side-by-side"), dict(layout="anaglyph"), dict(eye="centre"), dict(max_frames=0),
                dict(slice_row=3), dict(slice_row=3, slice_out=tmp_path / "s.txt"),
                dict(slice_row=H, slice_out=tmp_path / "s.png"), dict(start="7f", end="3f")):
        with pytest.raises(UsageError):
            run(EvalRequest(output=scene["sbs-full"], source=scene["source"], flow=FLOW, **bad))
    existing = tmp_path / "exists.png"
    existing.write_bytes(b"x")
    with pytest.raises(OutputError, match="exists"):
        run(request(scene, slice_row=1, slice_out=existing))


def test_cancel_stops_between_frames(scene):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run(request(scene), cancel=token)


def parse(*argv: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spatialdreamer")
    cli_eval.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["eval", *map(str, argv)])


def test_cmd_eval_prints_a_table_and_writes_the_slice(scene, tmp_path, capsys):
    out = tmp_path / "slice.png"
    code = cli_eval.run(parse(scene["tb-half"], "--source", scene["source"], "--layout", "tb-half",
                          "--ground-truth", scene["truth"], "--slice-row", 10, "--slice-out", out,
                          "--progress", "none"))
    captured = capsys.readouterr()
    assert code == 0 and out.is_file() and f"wrote {out}" in captured.err
    lines = captured.out.splitlines()
    assert "tb-half, 8 frames, eyes 64x48; scored eye: right" in lines[0]
    assert lines[1].split()[:2] == ["metric", "value"]
    assert {line.split()[0] for line in lines[2:]} >= {"ewarp_source", "psnr", "ssim_source"}


def test_cmd_eval_json_and_usage_errors(scene, capsys):
    assert cli_eval.run(parse(scene["pair"], "--source", scene["source"], "--layout", "pair", "--json",
                          "--max-frames", 2, "--progress", "none")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "EvalReport.1" and data["frames"] == 2 and data["layout"] == "pair"
    with pytest.raises(UsageError, match="stdout"):
        cli_eval.run(parse(scene["pair"], "--source", scene["source"], "--json", "--progress", "json"))
    with pytest.raises(UsageError, match="anaglyph"):
        cli_eval.run(parse(scene["pair"], "--source", scene["source"], "--layout", "anaglyph",
                       "--progress", "none"))
    with pytest.raises(SystemExit):
        parse(scene["pair"])  # --source is required


def test_cmd_eval_flow_reference_reaches_the_report(scene, capsys):
    assert cli_eval.run(parse(scene["pair"], "--source", scene["source"], "--layout", "pair", "--json",
                          "--holes", scene["holes"], "--flow-reference", scene["truth"], "--max-frames", 3,
                          "--progress", "none")) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["flow_reference"] == str(scene["truth"]) and data["metrics"]["ewarp_holes"] is not None
    assert any("truth.mkv" in note for note in data["notes"])
