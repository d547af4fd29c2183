"""engine.refiner.pipeline: shapes, save/load round trip, windows and tiles, seeds, callbacks, SVD layout."""

from __future__ import annotations

import json

import pytest
import torch
from diffusers import AutoencoderKLTemporalDecoder
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from engine.errors import Cancelled, UsageError
from engine.refiner.configs import TINY
from engine.refiner.models import SpatialDreamerUNet, build_components, denoiser_kwargs
from engine.refiner.pipeline import SpatialDreamerPipeline, drain, window_seed
from engine.refiner.train import make_pipeline
from tests.support.refiner import clip_tensors


def test_output_shape_range_and_determinism(pipe):
    ref, geo, mask = clip_tensors(frames=6, height=22, width=37)  # odd sizes: padded inside, cropped back
    out = pipe(ref, geo, mask, seed=3, num_inference_steps=2).frames
    assert out.shape == (6, 3, 22, 37) and float(out.min()) >= 0 and float(out.max()) <= 1
    torch.testing.assert_close(pipe(ref, geo, mask, seed=3, num_inference_steps=2).frames, out, rtol=0, atol=0)
    assert not torch.allclose(pipe(ref, geo, mask, seed=4, num_inference_steps=2).frames, out)
    as_np = pipe(ref, geo, mask, seed=3, num_inference_steps=2, output_type="np").frames
    assert as_np.shape == (6, 22, 37, 3)


def test_save_load_round_trip_gives_identical_outputs(pipe, tmp_path):
    ref, geo, mask = clip_tensors()
    before = pipe(ref, geo, mask, seed=1, num_inference_steps=2).frames
    pipe.save_pretrained(tmp_path / "refiner")
    index = json.loads((tmp_path / "refiner" / "model_index.json").read_text())
    assert index["denoiser"] == ["engine.refiner.models.denoiser", "SpatialDreamerUNet"]
    assert index["refiner_net"] == ["engine.refiner.models.refiner_net", "RefinerNet"]
    assert index["vae"] == ["engine.refiner.models.autoencoder", "PatchAutoencoder"]
    assert index["til_lambda"] == TINY.til_lambda and index["config_name"] == "tiny"
    loaded = SpatialDreamerPipeline.from_pretrained(tmp_path / "refiner")
    assert isinstance(loaded.denoiser, SpatialDreamerUNet) and loaded.paired_layers == pipe.paired_layers
    after = loaded(ref, geo, mask, seed=1, num_inference_steps=2).frames
    torch.testing.assert_close(after, before, rtol=0, atol=0)


def test_windows_follow_the_plan_and_their_seeds(pipe):
    ref, geo, mask = clip_tensors(frames=7)
    whole = pipe(ref, geo, mask, seed=5, shot_start=100, window=4, window_overlap=1, num_inference_steps=2).frames
    # frames 0-2 come only from the first window: the same as refining that window alone with its seed
    gen = torch.Generator().manual_seed(window_seed(5, 100, 100))
    first = drain(pipe.denoise_window(ref[:4], geo[:4], mask[:4], steps=2, guidance=1.0, generator=gen, tile=0,
                                      tile_overlap=0))
    torch.testing.assert_close(whole[:3], first[:3], rtol=0, atol=0)
    # the seam frame 3 is the mean of both windows' versions of it
    gen = torch.Generator().manual_seed(window_seed(5, 100, 103))
    second = drain(pipe.denoise_window(ref[3:7], geo[3:7], mask[3:7], steps=2, guidance=1.0, generator=gen, tile=0,
                                       tile_overlap=0))
    torch.testing.assert_close(whole[3], 0.5 * first[3] + 0.5 * second[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(whole[4:], second[1:], rtol=0, atol=0)
    assert window_seed(5, 100, 103) != window_seed(5, 0, 103)


def test_short_clip_is_padded_to_the_window(pipe):
    ref, geo, mask = clip_tensors(frames=2)
    out = pipe(ref, geo, mask, window=4, window_overlap=1, num_inference_steps=1).frames
    assert out.shape[0] == 2


def test_tiles_cover_the_frame_and_one_tile_equals_none(pipe):
    ref, geo, mask = clip_tensors(frames=4, height=32, width=64)
    plain = pipe(ref, geo, mask, seed=2, num_inference_steps=2, window=4).frames
    one = pipe(ref, geo, mask, seed=2, num_inference_steps=2, window=4, tile=64, tile_overlap=8).frames
    torch.testing.assert_close(one, plain, rtol=0, atol=0)
    tiled = pipe(ref, geo, mask, seed=2, num_inference_steps=2, window=4, tile=32, tile_overlap=16).frames
    assert tiled.shape == plain.shape and bool(torch.isfinite(tiled).all())
    assert not torch.allclose(tiled, plain)


def test_callback_sees_every_step_and_can_cancel(pipe):
    ref, geo, mask = clip_tensors(frames=7)
    calls = []

    def callback(p, step, t, kwargs):
        calls.append((step, tuple(kwargs)))
        return {"latents": kwargs["latents"]}

    pipe(ref, geo, mask, window=4, window_overlap=1, num_inference_steps=3, callback_on_step_end=callback)
    assert calls == [(i, ("latents",)) for i in range(3)] * 2  # 2 windows x 3 steps

    def cancel(p, step, t, kwargs):
        raise Cancelled()

    with pytest.raises(Cancelled):
        pipe(ref, geo, mask, num_inference_steps=3, callback_on_step_end=cancel)


def test_guidance_runs_the_unconditional_branch(pipe):
    ref, geo, mask = clip_tensors(frames=4)
    one = pipe(ref, geo, mask, seed=0, num_inference_steps=2, guidance_scale=1.0).frames
    two = pipe(ref, geo, mask, seed=0, num_inference_steps=2, guidance_scale=2.5).frames
    assert not torch.allclose(one, two)


def test_bad_settings_and_inputs_are_usage_errors(pipe):
    ref, geo, mask = clip_tensors(frames=4)
    for kwargs, match in (({"num_inference_steps": 0}, "steps"), ({"window": 4, "window_overlap": 4}, "overlap"),
                          ({"tile": 4}, "too small"), ({"tile": 16, "tile_overlap": 16}, "tile overlap")):
        with pytest.raises(UsageError, match=match):
            pipe(ref, geo, mask, **kwargs)
    with pytest.raises(UsageError, match="mask must be"):
        pipe(ref, geo, mask[:, :, :10])
    with pytest.raises(UsageError, match="geometric view"):
        pipe(ref, geo[:2], mask)


def svd_layout_components():
    """TINY's networks with SVD's real module types: a KL temporal-decoder VAE and a CLIP image encoder."""
    torch.manual_seed(0)
    config = TINY.__class__(**{**TINY.__dict__, "autoencoder": "svd",
                               "vae": {"block_out_channels": [32, 32], "latent_channels": 4,
                                       "down_block_types": ["DownEncoderBlock2D"] * 2}})
    parts = build_components(config)
    parts["vae"] = AutoencoderKLTemporalDecoder(block_out_channels=[32, 32], latent_channels=4,
                                                down_block_types=["DownEncoderBlock2D"] * 2)
    parts["image_encoder"] = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=32,
        intermediate_size=37, patch_size=4))
    assert denoiser_kwargs(config)["in_channels"] == 9  # 4 + 4 + 1, as with SVD's VAE
    return config, parts


def test_svd_layout_pipeline_runs_and_round_trips(tmp_path):
    config, parts = svd_layout_components()
    pipe = make_pipeline(config, parts)
    for m in (pipe.vae, pipe.denoiser, pipe.refiner_net, pipe.image_encoder):
        m.eval()
    ref, geo, mask = clip_tensors(frames=4, height=16, width=24)
    out = pipe(ref, geo, mask, num_inference_steps=2, guidance_scale=2.0).frames
    assert out.shape == (4, 3, 16, 24)
    pipe.save_pretrained(tmp_path / "svd")
    assert (tmp_path / "svd" / "image_encoder" / "model.safetensors").is_file()
    loaded = SpatialDreamerPipeline.from_pretrained(tmp_path / "svd")
    torch.testing.assert_close(loaded(ref, geo, mask, num_inference_steps=2, guidance_scale=2.0).frames, out,
                               rtol=0, atol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_cuda(pipe, dtype):
    ref, geo, mask = clip_tensors(frames=4)
    full = pipe(ref, geo, mask, num_inference_steps=2).frames
    pipe.to("cuda", dtype)
    half = pipe(ref.cuda(), geo.cuda(), mask.cuda(), num_inference_steps=2).frames.float().cpu()
    assert (half - full).abs().mean() < 5e-2
