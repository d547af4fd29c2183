"""`convert --refiner`: the refiner as a stage of the render assembly, end to end with a tiny random
pipeline saved in the models folder layout (CONVENTIONS.md "Models"), its errors and its memory check."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from engine import api
from engine.jobs.refine import RefinerSpec, RefineStage, find_refiner, memory_need
from engine.ops import StereoViews
from engine.refiner.composite import composite_refined
from tests.support.refiner import DEMO, clip_tensors, tiny_pipeline

FRAMES = 8  # two full tiny windows (4 frames, 1 shared) and a padded third


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A models folder holding a random tiny refiner under the name `tinyrand`."""
    folder = tmp_path_factory.mktemp("models")
    tiny_pipeline(seed=3).save_pretrained(folder / "tinyrand")
    return folder


def convert_demo(out: Path, models: Path, refiner: RefinerSpec | None, **changes) -> Path:
    request = api.ConvertRequest(input=DEMO, output=out, max_width=64, end=f"{FRAMES}f", overwrite=True,
                                 use_cache=False, device="cpu", encode=api.EncodeSettings(codec="ffv1"),
                                 depth_config=api.DepthConfig(models_dir=models), refiner=refiner, **changes)
    seen = list(api.convert(request))
    return out, seen


def frames_of(path: Path) -> np.ndarray:
    with api.open_media(path) as media:
        return np.stack([media.frame(i).image for i in range(len(media))]).astype(np.int16)


def test_convert_refines_the_holes_and_keeps_the_real_pixels(tmp_path, models):
    holes_dir = tmp_path / "holes"
    holes_dir.mkdir()
    geometric, _ = convert_demo(tmp_path / "geo.mkv", models, None, synthesize="right")
    refined, seen = convert_demo(tmp_path / "ref.mkv", models, RefinerSpec("tinyrand", steps=2),
                                 export_holes=holes_dir, synthesize="right")
    geo, ref = frames_of(geometric), frames_of(refined)
    assert ref.shape == geo.shape == (FRAMES, 36, 128, 3)  # a valid sbs-full master, every frame
    right_holes = frames_of(holes_dir / "ref.holes_R.mkv")[..., 0] > 127
    assert right_holes.any()
    right_geo, right_ref = geo[:, :, 64:], ref[:, :, 64:]
    diff = np.abs(right_ref - right_geo).max(axis=-1)
    assert diff[right_holes].mean() > 2.0  # the refiner regenerated the holes
    far = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((21, 21), np.uint8)) == 0 for m in right_holes])
    assert diff[far].max() == 0  # sharp, real pixels stay (composite over the grown, feathered mask)
    assert np.array_equal(ref[:, :, :64], geo[:, :, :64])  # --synthesize right: the left eye is the source
    steps = [p for p in seen if p.stage == "refine"]
    assert [p.done for p in steps] == list(range(1, 3 * 2 + 1)) and {p.total for p in steps} == {6}


def test_full_blend_takes_the_whole_refined_view(tmp_path, models):
    geometric, _ = convert_demo(tmp_path / "geo.mkv", models, None, temporal=False)
    refined, _ = convert_demo(tmp_path / "full.mkv", models, RefinerSpec("tinyrand", steps=2, blend="full"),
                              temporal=False)
    diff = np.abs(frames_of(refined) - frames_of(geometric)).max(axis=-1)
    assert (diff > 0).mean() > 0.5  # both synthesised eyes replaced everywhere, not only near holes


def test_stage_equals_the_pipeline_on_the_shot_whatever_the_frames_arrive_in(models):
    """Frames handed out by the renderer in irregular groups give the pipeline's own output for the shot
    (its windows seeded from the shot start), composited; a farm chunk of whole shots therefore matches."""
    ref, geo, mask = clip_tensors(frames=7, height=24, width=40, seed=5)
    stage = RefineStage(RefinerSpec("tinyrand", steps=2, seed=9), "right", (40, 24), torch.device("cpu"), models)
    stage.begin_shot(30, 37)
    stage.plan([7])
    got = {}
    views = {k: StereoViews(ref[k:k + 1], geo[k:k + 1], torch.zeros_like(mask[k:k + 1]), mask[k:k + 1],
                            mask[k:k + 1].float(), mask[k:k + 1].float()) for k in range(7)}
    for group in ([0], [1, 2, 3], [], [4], [5, 6]):
        for k in group:
            stage.add_source(30 + k, ref[k:k + 1])
        job = stage.push([(30 + k, views[k]) for k in group])
        while True:
            try:
                next(job)
            except StopIteration as stop:
                got.update(dict(stop.value))
                break
    stage.finish_shot()
    assert sorted(got) == list(range(30, 37)) and stage.done == stage.total
    expected = stage.pipe(ref, geo, mask, num_inference_steps=2, seed=9, shot_start=30).frames
    for k in range(7):
        want = composite_refined(geo[k:k + 1], expected[k:k + 1], mask[k:k + 1])
        assert torch.equal(got[30 + k].right, want)
        assert torch.equal(got[30 + k].left, ref[k:k + 1])


def test_a_still_goes_through_the_refiner(tmp_path, models, cli):
    still = tmp_path / "still.png"
    with api.open_media(DEMO) as media:
        cv2.imwrite(str(still), cv2.cvtColor(media.frame(0).image[::4, ::4], cv2.COLOR_RGB2BGR))
    args = ("convert", still, "--models-dir", models, "--no-cache", "--device", "cpu", "-q", "--overwrite")
    assert cli(*args, "-o", tmp_path / "geo.png").code == 0
    result = cli(*args, "-o", tmp_path / "ref.png", "--refiner", "tinyrand", "--refiner-steps", "2")
    assert result.code == 0, result.err
    geo = cv2.imread(str(tmp_path / "geo.png")).astype(np.int16)
    ref = cv2.imread(str(tmp_path / "ref.png")).astype(np.int16)
    changed = (np.abs(ref - geo).max(axis=-1) > 0).mean()
    assert 0.0 < changed < 0.5  # the holes and their edges, not the whole picture


def test_missing_refiner_names_every_place_looked(tmp_path, models, cli):
    with pytest.raises(api.ModelNotFound) as err:
        find_refiner("nosuch", models)
    assert str(models / "nosuch") in str(err.value) and "resources" in str(err.value)
    result = cli("convert", DEMO, "-o", tmp_path / "o.mp4", "--end", "2f", "--max-width", "64", "--models-dir",
                 models, "--refiner", "nosuch")
    assert result.code == 5 and len(result.err.strip().splitlines()) == 1 and "nosuch" in result.err
    assert not (tmp_path / "o.mp4").exists()


def test_incomplete_refiner_lists_the_missing_files(tmp_path, models, cli):
    broken = tmp_path / "broken"
    shutil.copytree(models / "tinyrand", broken)
    for weights in (broken / "denoiser").glob("*.safetensors"):
        weights.unlink()
    result = cli("convert", DEMO, "-o", tmp_path / "o.mp4", "--end", "2f", "--max-width", "64",
                 "--refiner", str(broken))
    assert result.code == 5 and "denoiser" in result.err and str(broken) in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_too_little_memory_is_refused_before_any_work(models):
    with pytest.raises(api.UsageError, match="--refiner-tile") as err:
        RefineStage(RefinerSpec("tinyrand"), "both", (1920, 1080), torch.device("cpu"), models, free=2**20)
    assert "--refiner-window" in str(err.value) and "GiB" in str(err.value)
    pipe = tiny_pipeline()
    need = {(w, t): memory_need(pipe, (960, 544), pipe.settings(window=w, tile=t), torch.float32)
            for w in (4, 8) for t in (0, 128)}
    assert need[(8, 0)] > need[(4, 0)] and need[(8, 0)] > need[(8, 128)]
    # the boundary is the calibrated estimate itself: one byte short is refused, enough is accepted
    fits = RefineStage(RefinerSpec("tinyrand"), "both", (640, 360), torch.device("cpu"), models, free=2**40)
    exact = memory_need(fits.pipe, (640, 360), fits.settings, torch.float32)
    RefineStage(RefinerSpec("tinyrand"), "both", (640, 360), torch.device("cpu"), models, free=exact)
    with pytest.raises(api.UsageError, match="--refiner-tile 512.*shorter --refiner-window") as short:
        RefineStage(RefinerSpec("tinyrand"), "both", (640, 360), torch.device("cpu"), models, free=exact - 1)
    assert len(str(short.value).splitlines()) == 1
    tiled = RefineStage(RefinerSpec("tinyrand", tile=128), "both", (640, 360), torch.device("cpu"), models,
                        free=2**40)
    with pytest.raises(api.UsageError, match="smaller --refiner-tile than 128"):
        RefineStage(RefinerSpec("tinyrand", tile=128), "both", (640, 360), torch.device("cpu"), models,
                    free=memory_need(tiled.pipe, (640, 360), tiled.settings, torch.float32) - 1)


def test_cancel_during_refinement_leaves_nothing(tmp_path, models):
    token = api.CancelToken()
    request = api.ConvertRequest(input=DEMO, output=tmp_path / "o.mkv", max_width=64, end="6f", use_cache=False,
                                 device="cpu", depth_config=api.DepthConfig(models_dir=models),
                                 refiner=RefinerSpec("tinyrand", steps=3))
    with pytest.raises(api.Cancelled):
        for p in api.convert(request, cancel=token):
            if p.stage == "refine" and p.done == 2:
                token.cancel()
    assert list(tmp_path.iterdir()) == []


def test_bad_refiner_settings_are_usage_errors(tmp_path, models, cli):
    with pytest.raises(api.UsageError, match="blend"):
        RefinerSpec("tinyrand", blend="holes")
    result = cli("convert", DEMO, "-o", tmp_path / "o.mp4", "--end", "2f", "--max-width", "64", "--models-dir",
                 models, "--refiner", "tinyrand", "--refiner-window-overlap", "9")
    assert result.code == 2 and "overlap" in result.err
