"""Marigold provider: the real loading code on a tiny random pipeline saved in a tmp models folder.

Every component is built here (diffusers' get_dummy_components habit); the CLIP
tokenizer's vocab.json / merges.txt are written by the test, never fetched, in
the classic layout of the real prs-eth/marigold-depth-v1-1 repo.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

diffusers = pytest.importorskip("diffusers", reason="the model extras (diffusers) are not installed")
transformers = pytest.importorskip("transformers", reason="the model extras (transformers) are not installed")

from engine.depth.learned import create_learned_provider, find_best_model  # noqa: E402
from engine.depth.learned.marigold import MarigoldProvider, MarigoldSettings  # noqa: E402
from engine.depth.protocol import DepthConfig, DepthProvider  # noqa: E402
from engine.errors import ModelNotFound, UsageError  # noqa: E402
from engine.models import MODEL_SPECS  # noqa: E402

SPECIAL = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}


def write_tokenizer(folder: Path) -> None:
    """A tiny CLIP BPE vocabulary: the two special tokens and single letters, no merges."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for letter in "abcdefghijklmnopqrstuvwxyz":
        vocab[letter] = len(vocab)
        vocab[letter + "</w>"] = len(vocab) + 26
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": 77,
        "pad_token": "<|endoftext|>",
        **SPECIAL,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")


def tiny_pipeline(tokenizer_dir: Path):
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=8,
        in_channels=8,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )
    vae = diffusers.AutoencoderKL(
        block_out_channels=[32, 64],
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4,
        layers_per_block=1,
    )
    scheduler = diffusers.DDIMScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        prediction_type="v_prediction",
        timestep_spacing="trailing",
        set_alpha_to_one=False,
        clip_sample=False,
    )
    text_config = transformers.CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=54,
    )
    return diffusers.MarigoldDepthPipeline(
        unet=unet,
        vae=vae,
        scheduler=scheduler,
        text_encoder=transformers.CLIPTextModel(text_config),
        tokenizer=transformers.CLIPTokenizer.from_pretrained(tokenizer_dir, local_files_only=True),
        prediction_type="depth",
        default_denoising_steps=1,
        default_processing_resolution=32,
    )


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_tokenizer(root / "tok")
    folder = root / "marigold"
    tiny_pipeline(root / "tok").save_pretrained(folder)
    # Lay the tokenizer out as the real repo does (vocab.json + merges.txt, no tokenizer.json).
    shutil.rmtree(folder / "tokenizer")
    write_tokenizer(folder / "tokenizer")
    return root


@pytest.fixture(scope="module")
def provider(models_dir: Path):
    return create_learned_provider("marigold", DepthConfig(models_dir=models_dir, device="cpu", batch_size=2))


def frames(n: int, h: int = 40, w: int = 56, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def broken_copy(models_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(models_dir / "marigold", tmp_path / "marigold")
    return tmp_path


def test_loads_by_path_with_the_checkpoint_defaults(provider) -> None:
    assert isinstance(provider, DepthProvider)
    assert provider.name == "marigold" and provider.output_kind == "relative"
    assert provider.steps == 1 and provider.resolution == 32
    out = list(provider.estimate(frames(3)))
    assert len(out) == 3
    for depth in out:
        assert depth.shape == (40, 56) and depth.dtype == np.float32
        assert np.isfinite(depth).all() and depth.min() >= 0 and depth.max() <= 1
        assert depth.std() > 0


def test_deterministic_and_batch_independent(models_dir: Path, provider) -> None:
    clip = frames(3, seed=1)
    batched = list(provider.estimate(clip))  # batches of 2 + 1
    again = list(provider.estimate(clip))
    single = create_learned_provider(
        "marigold", DepthConfig(models_dir=models_dir, device="cpu", batch_size=1)
    )
    one_by_one = list(single.estimate(clip))
    for a, b, c in zip(batched, again, one_by_one, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, atol=1e-5)


def test_same_noise_for_every_frame(provider) -> None:
    (frame,) = frames(1, seed=2)
    first, second = provider.estimate([frame, frame.copy()])
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_settings_override_the_checkpoint(models_dir: Path) -> None:
    folder = models_dir / "marigold"
    config = DepthConfig(models_dir=models_dir, device="cpu")
    native = MarigoldProvider.from_folder(
        folder,
        MODEL_SPECS["marigold"],
        config,
        MarigoldSettings(num_inference_steps=2, processing_resolution=0),
    )
    assert native.steps == 2 and native.resolution == 0
    (depth,) = native.estimate(frames(1, 24, 40))
    assert depth.shape == (24, 40) and np.isfinite(depth).all()
    factor = native.pipe.vae_scale_factor  # 2 for the tiny two-level VAE (8 for the real one)
    with pytest.raises(UsageError, match=f"multiple of {factor}"):
        MarigoldProvider.from_folder(
            folder, MODEL_SPECS["marigold"], config, MarigoldSettings(processing_resolution=33)
        )


def test_ensemble_of_three(models_dir: Path) -> None:
    settings = MarigoldSettings(ensemble_size=3, seed=5)
    config = DepthConfig(models_dir=models_dir, device="cpu", batch_size=2)
    ensemble = MarigoldProvider.from_folder(
        models_dir / "marigold", MODEL_SPECS["marigold"], config, settings
    )
    out = list(ensemble.estimate(frames(2, seed=3)))
    assert [d.shape for d in out] == [(40, 56), (40, 56)]
    assert all(np.isfinite(d).all() for d in out)


def test_disparity_checkpoint_is_inverse(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    index_path = root / "marigold" / "model_index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    index["prediction_type"] = "disparity"
    index_path.write_text(json.dumps(index), encoding="utf-8")
    assert (
        create_learned_provider("marigold", DepthConfig(models_dir=root, device="cpu")).output_kind
        == "inverse"
    )


def test_find_best_model_picks_it(models_dir: Path) -> None:
    assert find_best_model(DepthConfig(models_dir=models_dir)) == "marigold"


def test_deleted_text_encoder_weights_are_listed(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    (root / "marigold" / "text_encoder" / "model.safetensors").unlink()
    with pytest.raises(ModelNotFound, match="incomplete; missing: text_encoder/model.safetensors or"):
        create_learned_provider("marigold", DepthConfig(models_dir=root))


def test_deleted_tokenizer_file_is_listed(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    (root / "marigold" / "tokenizer" / "vocab.json").unlink()
    with pytest.raises(ModelNotFound, match="tokenizer/vocab.json or tokenizer/tokenizer.json"):
        create_learned_provider("marigold", DepthConfig(models_dir=root))


def test_truncated_unet_is_refused(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    weights = root / "marigold" / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:4096])
    with pytest.raises(ModelNotFound, match="unet/diffusion_pytorch_model.safetensors is truncated"):
        create_learned_provider("marigold", DepthConfig(models_dir=root))


def test_garbage_model_index_is_refused(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    (root / "marigold" / "model_index.json").write_text("<html>not found</html>", encoding="utf-8")
    with pytest.raises(ModelNotFound, match="model_index.json is not valid JSON") as info:
        create_learned_provider("marigold", DepthConfig(models_dir=root))
    assert info.value.path == str(root / "marigold")


def test_vae_weights_missing_layers_are_refused_not_randomised(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    path = root / "marigold" / "vae" / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["layers_per_block"] = 2  # the weights hold 1 layer per block
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelNotFound, match="missing from the weights") as info:
        create_learned_provider("marigold", DepthConfig(models_dir=root, device="cpu"))
    assert info.value.path == str(root / "marigold" / "vae")


def test_unet_of_the_wrong_shape_is_refused(models_dir: Path, tmp_path: Path) -> None:
    root = broken_copy(models_dir, tmp_path)
    path = root / "marigold" / "unet" / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["cross_attention_dim"] = 48
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelNotFound, match="cannot load the marigold model"):
        create_learned_provider("marigold", DepthConfig(models_dir=root, device="cpu"))


def test_fp16_variant_only_folder_loads(models_dir: Path, tmp_path: Path, provider) -> None:
    root = broken_copy(models_dir, tmp_path)
    unet = root / "marigold" / "unet"
    (unet / "diffusion_pytorch_model.safetensors").rename(unet / "diffusion_pytorch_model.fp16.safetensors")
    variant = create_learned_provider("marigold", DepthConfig(models_dir=root, device="cpu"))
    clip = frames(1, seed=6)
    np.testing.assert_allclose(next(variant.estimate(clip)), next(provider.estimate(clip)), atol=1e-6)


def test_bf16_precision_casts_the_pipeline(models_dir: Path, provider) -> None:
    low = create_learned_provider(
        "marigold", DepthConfig(models_dir=models_dir, device="cpu", precision="bf16")
    )
    assert low.dtype == torch.bfloat16 and low.pipe.unet.dtype == torch.bfloat16
    clip = frames(1, seed=8)
    (a,) = provider.estimate(clip)
    (b,) = low.estimate(clip)
    assert b.dtype == np.float32 and np.isfinite(b).all()
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_matches_the_pipeline_resizing_itself(provider) -> None:
    """Our float32 pre-resize + native processing equals the pipeline's own processing_resolution path."""
    (frame,) = frames(1, h=48, w=80, seed=9)
    (ours,) = provider.estimate([frame])
    image = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        theirs = provider.pipe(
            image,
            num_inference_steps=1,
            processing_resolution=32,
            generator=[torch.Generator("cpu").manual_seed(0)],
            output_type="np",
        ).prediction[0, :, :, 0]
    assert theirs.shape == ours.shape == (48, 80)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
