"""engine.refiner.models.loading: base weights (svd-xt/, sd21/) and trained folders, checked before loading."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKLTemporalDecoder, UNet2DConditionModel, UNetSpatioTemporalConditionModel
from safetensors.torch import load_file, save_file
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from engine.errors import InvalidProject, ModelNotFound
from engine.refiner.configs import SVD_SCHEDULER, TINY
from engine.refiner.models.loading import check_pipeline_folder, components_from_base
from engine.refiner.train import make_pipeline

SVD_UNET = dict(block_out_channels=(32, 64), layers_per_block=1, cross_attention_dim=32, num_attention_heads=(2, 4),
                addition_time_embed_dim=8, projection_class_embeddings_input_dim=24, num_frames=4,
                down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
                up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"))
SD_UNET = dict(block_out_channels=(32, 64), layers_per_block=1, cross_attention_dim=32, attention_head_dim=(2, 4),
               down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
               up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
VAE = dict(block_out_channels=[32, 32], latent_channels=4, down_block_types=["DownEncoderBlock2D"] * 2)
CONFIG = replace(TINY, autoencoder="svd", vae=VAE, base="svd-xt+sd21", image_encoder="clip")


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """A models folder with tiny stand-ins for svd-xt/ and sd21/ in diffusers layout."""
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    UNetSpatioTemporalConditionModel(in_channels=8, out_channels=4, **SVD_UNET).save_pretrained(root / "svd-xt/unet")
    AutoencoderKLTemporalDecoder(**VAE).save_pretrained(root / "svd-xt/vae")
    CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=32, projection_dim=32, num_hidden_layers=2,
                                                   num_attention_heads=4, image_size=32, intermediate_size=37,
                                                   patch_size=4)).save_pretrained(root / "svd-xt/image_encoder")
    (root / "svd-xt/scheduler").mkdir(parents=True)
    (root / "svd-xt/scheduler/scheduler_config.json").write_text(json.dumps(
        {"_class_name": "EulerDiscreteScheduler", **SVD_SCHEDULER}))
    (root / "svd-xt/model_index.json").write_text(json.dumps({"_class_name": "StableVideoDiffusionPipeline"}))
    UNet2DConditionModel(in_channels=4, out_channels=4, **SD_UNET).save_pretrained(root / "sd21/unet")
    return root


def test_base_weights_load_with_a_zero_mask_channel(models_dir):
    parts = components_from_base(CONFIG, models_dir)
    den = parts["denoiser"]
    svd = UNetSpatioTemporalConditionModel.from_pretrained(models_dir / "svd-xt/unet").eval()
    assert den.config.in_channels == 9
    torch.testing.assert_close(den.conv_in.weight[:, :8], svd.conv_in.weight)
    assert float(den.conv_in.weight[:, 8].abs().max()) == 0.0
    x, ehs, ids = torch.randn(1, 2, 8, 8, 8), torch.randn(1, 1, 32), torch.rand(1, 3)
    mask = torch.rand(1, 2, 1, 8, 8)
    with torch.no_grad():  # a fresh SpatialDreamer denoiser behaves exactly like the SVD it came from
        ours = den.eval()(torch.cat([x, mask], 2), 0.3, ehs, ids, stereo_strength=torch.rand(1, 2, 1, 8, 8)).sample
        torch.testing.assert_close(ours, svd(x, 0.3, ehs, ids).sample, rtol=1e-5, atol=1e-5)
    sd = UNet2DConditionModel.from_pretrained(models_dir / "sd21/unet")
    for k, v in sd.state_dict().items():
        torch.testing.assert_close(parts["refiner_net"].state_dict()[k], v)
    pipe = make_pipeline(CONFIG, parts)  # pairs: the SD 2.1 RefinerNet mirrors the SVD denoiser
    assert pipe.paired_layers


def test_missing_base_weights_list_what_and_where(models_dir, tmp_path):
    with pytest.raises(ModelNotFound, match="not found") as err:
        components_from_base(CONFIG, tmp_path)
    assert str(tmp_path / "svd-xt") in err.value.one_line()
    partial = tmp_path / "partial"
    shutil.copytree(models_dir, partial)
    (partial / "svd-xt/vae/diffusion_pytorch_model.safetensors").unlink()
    (partial / "svd-xt/scheduler/scheduler_config.json").unlink()
    with pytest.raises(ModelNotFound, match="scheduler/scheduler_config.json.*vae/diffusion_pytorch_model"):
        components_from_base(CONFIG, partial)


def test_mismatched_base_weights_name_the_file_and_tensor(models_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(models_dir, bad)
    path = bad / "sd21/unet/diffusion_pytorch_model.safetensors"
    state = load_file(str(path))
    state["conv_in.weight"] = torch.zeros(32, 5, 3, 3)
    save_file(state, str(path))
    with pytest.raises(InvalidProject, match=r"conv_in.weight has shape \(32, 5, 3, 3\)") as err:
        components_from_base(CONFIG, bad)
    assert err.value.path == str(path)


def test_trained_folder_checks(pipe, tmp_path):
    folder = tmp_path / "refiner"
    pipe.save_pretrained(folder)
    assert check_pipeline_folder(folder)["_class_name"] == "SpatialDreamerPipeline"
    with pytest.raises(ModelNotFound, match="refiner not found"):
        check_pipeline_folder(tmp_path / "nothing")
    weights = folder / "denoiser/diffusion_pytorch_model.safetensors"
    state = load_file(str(weights))
    state["conv_in.weight"] = state["conv_in.weight"][:, :5].contiguous()
    save_file(state, str(weights))
    with pytest.raises(InvalidProject, match="tensor conv_in.weight has shape"):
        check_pipeline_folder(folder)
    weights.unlink()
    (folder / "refiner_net/config.json").unlink()
    with pytest.raises(ModelNotFound, match="refiner_net/config.json.*denoiser/diffusion_pytorch_model"):
        check_pipeline_folder(folder)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableVideoDiffusionPipeline"}))
    with pytest.raises(InvalidProject, match="not a SpatialDreamerPipeline"):
        check_pipeline_folder(folder)
