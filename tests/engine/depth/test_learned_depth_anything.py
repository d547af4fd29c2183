"""Depth Anything V2 provider: the real loading code on a tiny random model saved in a tmp models folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

transformers = pytest.importorskip("transformers", reason="the model extras (transformers) are not installed")

from engine.depth.learned import create_learned_provider, find_best_model  # noqa: E402
from engine.depth.learned.frames import working_size  # noqa: E402
from engine.depth.protocol import DepthConfig, DepthProvider  # noqa: E402
from engine.errors import ModelNotFound, UsageError  # noqa: E402

MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)  # deliberately not ImageNet's: proves the file is read
INPUT_SIZE = 28  # two patches on the short side keeps the forward pass tiny


def tiny_config() -> transformers.DepthAnythingConfig:
    """A 2-layer Dinov2 (hidden 32, patch 14) with a small DPT neck; initializer 0.2 so outputs vary."""
    backbone = {
        "model_type": "dinov2",
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "patch_size": 14,
        "image_size": 56,
        "out_indices": [1, 2],
        "reshape_hidden_states": False,
        "initializer_range": 0.2,
    }
    return transformers.DepthAnythingConfig(
        backbone_config=backbone,
        neck_hidden_sizes=[8, 16],
        reassemble_factors=[2, 1],
        fusion_hidden_size=16,
        head_hidden_size=8,
        reassemble_hidden_size=32,
        patch_size=14,
        initializer_range=0.2,
    )


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    model = transformers.DepthAnythingForDepthEstimation(tiny_config())
    model.save_pretrained(root / "da2-small")
    preprocessor = {"image_mean": list(MEAN), "image_std": list(STD), "do_normalize": True}
    (root / "da2-small" / "preprocessor_config.json").write_text(json.dumps(preprocessor), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def provider(models_dir: Path):
    config = DepthConfig(
        model="da2-small", models_dir=models_dir, device="cpu", input_size=INPUT_SIZE, batch_size=3
    )
    return create_learned_provider("da2-small", config)


def frames(n: int, h: int = 40, w: int = 64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def broken_copy(models_dir: Path, tmp_path: Path) -> Path:
    """A copy of the good models folder to damage in one test."""
    shutil.copytree(models_dir / "da2-small", tmp_path / "da2-small")
    return tmp_path


def test_loads_by_path_and_gives_frame_size_inverse_depth(provider) -> None:
    assert isinstance(provider, DepthProvider)
    assert provider.name == "da2-small" and provider.output_kind == "inverse"
    assert provider.patch_size == 14 and provider.mean == MEAN and provider.std == STD
    out = list(provider.estimate(frames(4)))
    assert len(out) == 4
    for depth in out:
        assert depth.shape == (40, 64) and depth.dtype == np.float32
        assert np.isfinite(depth).all()
        assert depth.std() > 0, "a random model with initializer 0.2 gives a non-flat map"


def test_deterministic(provider) -> None:
    a = list(provider.estimate(frames(2, seed=3)))
    b = list(provider.estimate(frames(2, seed=3)))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_batching_matches_one_by_one(models_dir: Path, provider) -> None:
    clip = frames(5, seed=1)
    batched = list(provider.estimate(iter(clip)))  # batches of 3 + 2
    single = create_learned_provider(
        "da2-small", DepthConfig(models_dir=models_dir, device="cpu", input_size=INPUT_SIZE, batch_size=1)
    )
    one_by_one = [next(single.estimate([f])) for f in clip]
    for x, y in zip(batched, one_by_one, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5 * float(np.abs(y).max()))


@pytest.mark.parametrize(("h", "w"), [(40, 64), (64, 36)])
def test_model_input_keeps_aspect_on_patch_multiples(provider, h: int, w: int) -> None:
    seen = []
    handle = provider.model.register_forward_pre_hook(
        lambda _m, _args, kwargs: seen.append(tuple(kwargs["pixel_values"].shape)), with_kwargs=True
    )
    try:
        (depth,) = provider.estimate(frames(1, h, w))
    finally:
        handle.remove()
    (shape,) = seen
    assert shape[-2:] == working_size(h, w, INPUT_SIZE, 14)
    assert min(shape[-2:]) == INPUT_SIZE and shape[-2] % 14 == 0 and shape[-1] % 14 == 0
    assert abs(shape[-1] / shape[-2] - w / h) < 0.25
    assert depth.shape == (h, w)


def test_matches_a_hand_made_reference(provider) -> None:
    (frame,) = frames(1, seed=7)
    (depth,) = provider.estimate([frame])
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    x = F.interpolate(x, size=(28, 42), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        pred = provider.model(pixel_values=x).predicted_depth[:, None]
    ref = F.interpolate(pred, size=(40, 64), mode="bilinear", align_corners=False)[0, 0].numpy()
    np.testing.assert_allclose(depth, ref, rtol=1e-5, atol=1e-6 * float(np.abs(ref).max()))


def test_uint16_frames_match_uint8(provider) -> None:
    (frame,) = frames(1, seed=2)
    (a,) = provider.estimate([frame])
    (b,) = provider.estimate([frame.astype(np.uint16) * 257])
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(np.abs(a).max()))


def test_bf16_autocast_path_runs_close_to_fp32(models_dir: Path, provider) -> None:
    config = DepthConfig(models_dir=models_dir, device="cpu", precision="bf16", input_size=INPUT_SIZE)
    low = create_learned_provider("da2-small", config)
    assert low.dtype == torch.bfloat16 and next(low.model.parameters()).dtype == torch.float32
    clip = frames(1, seed=4)
    (a,) = provider.estimate(clip)
    (b,) = low.estimate(clip)
    assert np.isfinite(b).all()
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.98


def test_find_best_model_picks_it(models_dir: Path) -> None:
    assert find_best_model(DepthConfig(models_dir=models_dir)) == "da2-small"


def test_find_best_model_in_an_empty_folder(tmp_path: Path) -> None:
    assert find_best_model(DepthConfig(models_dir=tmp_path)) is None


def test_missing_folder_lists_what_to_put_where(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound) as info:
        create_learned_provider("da2-large", DepthConfig(models_dir=tmp_path))
    text = info.value.one_line()
    assert str(tmp_path / "da2-large") in text and "depth-anything/Depth-Anything-V2-Large-hf" in text


def test_deleted_weights_are_listed(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    (root / "da2-small" / "model.safetensors").unlink()
    with pytest.raises(ModelNotFound, match=r"missing: model\.safetensors or pytorch_model\.bin"):
        create_learned_provider("da2-small", DepthConfig(models_dir=root))


def test_truncated_weights_are_refused(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    weights = root / "da2-small" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelNotFound, match="truncated") as info:
        create_learned_provider("da2-small", DepthConfig(models_dir=root))
    assert info.value.path == str(root / "da2-small")


def test_garbage_config_is_refused(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    (root / "da2-small" / "config.json").write_text("\x00\x01 garbage", encoding="utf-8")
    with pytest.raises(ModelNotFound, match="config.json is not valid JSON"):
        create_learned_provider("da2-small", DepthConfig(models_dir=root))


def test_wrong_shapes_are_refused_at_load(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    path = root / "da2-small" / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["fusion_hidden_size"] = 24  # weights were saved for 16
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelNotFound, match="cannot load the da2-small model") as info:
        create_learned_provider("da2-small", DepthConfig(models_dir=root, device="cpu"))
    assert "re-download depth-anything/Depth-Anything-V2-Small-hf" in info.value.hint


def test_weights_missing_layers_are_refused_not_randomised(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    path = root / "da2-small" / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["backbone_config"]["num_hidden_layers"] = 3  # the weights hold only 2 layers
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelNotFound, match="missing from the weights"):
        create_learned_provider("da2-small", DepthConfig(models_dir=root, device="cpu"))


def test_malformed_preprocessor_config_is_refused(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    (root / "da2-small" / "preprocessor_config.json").write_text('{"image_std": [0, 1, 1]}', encoding="utf-8")
    with pytest.raises(ModelNotFound, match="preprocessor_config.json"):
        create_learned_provider("da2-small", DepthConfig(models_dir=root, device="cpu"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_asked_without_gpu(models_dir: Path) -> None:
    with pytest.raises(UsageError, match="CUDA"):
        create_learned_provider("da2-small", DepthConfig(models_dir=models_dir, device="cuda"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fp16_matches_cpu(models_dir: Path, provider) -> None:
    gpu = create_learned_provider(
        "da2-small", DepthConfig(models_dir=models_dir, device="cuda", input_size=INPUT_SIZE)
    )
    assert gpu.dtype == torch.float16
    clip = frames(2, seed=5)
    for a, b in zip(provider.estimate(clip), gpu.estimate(clip), strict=True):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99


def test_loading_restores_library_logging(models_dir: Path) -> None:
    logging = transformers.utils.logging
    logging.set_verbosity_info()
    try:
        create_learned_provider("da2-small", DepthConfig(models_dir=models_dir, device="cpu"))
        assert logging.get_verbosity() == logging.INFO
        assert logging.is_progress_bar_enabled()
    finally:
        logging.set_verbosity_warning()


def test_registry_serves_learned_names_and_auto(models_dir: Path) -> None:
    from engine.depth import registry

    names = registry.available_providers()
    assert names[:4] == ["da2-large", "da2-base", "da2-small", "marigold"] and names[-1] == "weights-free"
    auto = DepthConfig(model="auto", models_dir=models_dir, device="cpu", input_size=INPUT_SIZE)
    assert registry.resolve_model_name(auto) == "da2-small"
    provider = registry.create_provider(auto)
    assert provider.name == "da2-small" and provider.output_kind == "inverse"
    with pytest.raises(ModelNotFound, match="da2-base"):
        registry.create_provider(DepthConfig(model="da2-base", models_dir=models_dir))
