"""engine.refiner.data: the PairDataset.1 reader (schemas, windows inside shots, deterministic examples)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from engine.errors import InputError, InvalidProject
from engine.refiner.data import PairWindows, StepSampler, load_window, open_datasets, split_clips, validation_windows


def test_reads_the_dataset_make_pairs_wrote(demo_pairs):
    clips = open_datasets([demo_pairs])
    assert len(clips) == 1 and clips[0].frames == tuple(range(16)) and clips[0].eye_size == (64, 36)
    w = load_window(clips[0], 3, 4)
    assert w["reference"].shape == (4, 3, 36, 64) and w["mask"].shape == (4, 1, 36, 64)
    assert set(w["mask"].unique().tolist()) <= {0.0, 1.0} and float(w["mask"].mean()) > 0
    assert float(w["geometric"][w["mask"].expand_as(w["geometric"]) > 0].abs().max()) == 0.0  # black holes
    flipped = load_window(clips[0], 3, 4, mirror=True)
    torch.testing.assert_close(flipped["truth"], w["truth"].flip(-1))
    crop = load_window(clips[0], 0, 2, crop=(32, 48), offset=(1.0, 0.0))
    torch.testing.assert_close(crop["truth"], load_window(clips[0], 0, 2)["truth"][..., 4:36, 0:48])
    big = load_window(clips[0], 0, 2, crop=(48, 48))  # smaller frames are upscaled first
    assert big["truth"].shape == (2, 3, 48, 48)


def test_windows_carry_the_geometric_views_disparity_for_the_background_fill(demo_pairs):
    import cv2
    import numpy as np

    clip = open_datasets([demo_pairs])[0]
    record = json.loads((clip.folder / "clip.json").read_text())
    w = load_window(clip, 2, 2)
    depth = cv2.imread(str(clip.folder / "depth" / "000002.png"), cv2.IMREAD_UNCHANGED).astype(np.float64) / 65535
    expected = record["divergence"] / 100 * record["eye_size"][0] * (record["convergence"] - (1 - depth))
    holes = w["mask"][0, 0] > 0
    assert w["disparity"].shape == (2, 1, 36, 64) and bool(w["disparity"][0, 0][holes].isnan().all())
    np.testing.assert_allclose(w["disparity"][0, 0][~holes].numpy(), expected[~holes.numpy()], atol=1e-4)
    assert float(w["scale"]) == -1.0 and float(load_window(clip, 2, 2, mirror=True)["scale"]) == 1.0
    flipped = load_window(clip, 2, 2, mirror=True)["disparity"]
    torch.testing.assert_close(flipped, w["disparity"].flip(-1), equal_nan=True)
    big = load_window(clip, 2, 1, crop=(72, 128))["disparity"]  # upscaled 2x: disparities in the new pixels
    ratio = big[0, 0, ::2, ::2] / w["disparity"][0, 0]
    assert float(ratio[ratio.isfinite()].median()) == pytest.approx(2.0, rel=1e-3)


def test_examples_are_a_function_of_their_number(demo_pairs):
    clips = open_datasets([demo_pairs])
    data = PairWindows(clips, 4, (32, 32), seed=3, swap_probability=0.5)
    a, b = data[17], data[17]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, equal_nan=True)
    assert not torch.equal(data[17]["truth"], data[18]["truth"])
    sampler = iter(StepSampler(start_step=5, batch=2, rank=1, world=2))
    assert [next(sampler) for _ in range(4)] == [22, 23, 26, 27]


def test_windows_stay_inside_shots_and_short_clips_are_refused(demo_pairs, tmp_path):
    clip = open_datasets([demo_pairs])[0]
    two_shots = clip.__class__(clip.folder, clip.name, clip.frames, ((0, 6), (6, 16)), clip.eye_size)
    starts = two_shots.windows(4)
    assert all((s + 3 < 6) or s >= 6 for s in starts) and 3 not in starts
    with pytest.raises(InputError, match="shorter than the 20-frame temporal window"):
        PairWindows([clip], 20, (32, 32), 0, 0.5)


def test_split_holds_out_data(demo_pairs):
    clips = open_datasets([demo_pairs])
    train, val, notes = split_clips(clips, 4)
    assert train[0].frames == tuple(range(12)) and val[0].frames == tuple(range(12, 16)) and "last 4" in notes[0]
    train, val, _ = split_clips(clips * 2, 4)
    assert len(train) == 1 and len(val) == 1
    assert len(validation_windows(val, 4, 3)) == 3


def test_bad_datasets_say_what_is_wrong(demo_pairs, tmp_path):
    with pytest.raises(InvalidProject, match="not a pair dataset"):
        open_datasets([tmp_path])
    newer = tmp_path / "newer"
    shutil.copytree(demo_pairs, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps({**manifest, "schema": "PairDataset.2"}))
    with pytest.raises(InvalidProject, match="newer|PairDataset.2"):
        open_datasets([newer])
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"schema": "Project.1"}))
    with pytest.raises(InvalidProject):
        open_datasets([other])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.json").write_text(json.dumps({**manifest, "clips": []}))
    with pytest.raises(InputError, match="no complete clip"):
        open_datasets([empty])
    broken = tmp_path / "broken"
    shutil.copytree(demo_pairs, broken)
    clip_dir = next((broken / "clips").iterdir())
    (clip_dir / "back" / "000002.png").unlink()
    with pytest.raises(InvalidProject, match="000002.png"):
        load_window(open_datasets([broken])[0], 0, 4)
