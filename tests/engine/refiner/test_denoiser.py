"""engine.refiner.models: shapes through every module; the stereo embedding; the fixed autoencoder."""

from __future__ import annotations

import pytest
import torch
from diffusers import UNetSpatioTemporalConditionModel

from engine.refiner.configs import SMALL, SVD_XT, TINY
from engine.refiner.models import PatchAutoencoder, build_components, parameter_count
from engine.refiner.models.denoiser import (
    SpatialDreamerUNet,
    expand_conv_in,
    fourier_features,
    residual_blocks,
    stereo_strength,
)

SVD_TINY = dict(block_out_channels=(32, 64), layers_per_block=1, cross_attention_dim=32, num_attention_heads=(2, 4),
                addition_time_embed_dim=8, projection_class_embeddings_input_dim=24, num_frames=3,
                down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
                up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"))


def inputs(b=1, f=3, c=9, h=8, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, f, c, h, w, generator=g), torch.tensor(0.4), torch.randn(b, 1, 32, generator=g),
            torch.rand(b, 3, generator=g), torch.rand(b, f, 1, h, w, generator=g))


def test_denoiser_shapes_and_config():
    model = SpatialDreamerUNet(in_channels=9, out_channels=4, stereo_embed_dim=8, **SVD_TINY).eval()
    sample, t, ehs, ids, s = inputs()
    out = model(sample, t, ehs, ids, stereo_strength=s).sample
    assert out.shape == (1, 3, 4, 8, 12)
    assert model.config.in_channels == 9 and model.config.stereo_embed_dim == 8
    assert set(model.stereo_embedding.proj) == {n.replace(".", "__") for n in residual_blocks(model)}
    with pytest.raises(ValueError, match="does not match the sample"):
        model(sample, t, ehs, ids, stereo_strength=s[:, :2])


def test_stereo_embedding_is_zero_initialised_and_reaches_every_resolution():
    torch.manual_seed(0)
    ours = SpatialDreamerUNet(in_channels=8, out_channels=4, stereo_embed_dim=8, **SVD_TINY).eval()
    torch.manual_seed(0)
    svd = UNetSpatioTemporalConditionModel(in_channels=8, out_channels=4, **SVD_TINY).eval()
    missing, unexpected = ours.load_state_dict(svd.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("stereo_embedding.") for k in missing)
    sample, t, ehs, ids, s = inputs(c=8)
    with torch.no_grad():
        plain = svd(sample, t, ehs, ids).sample
        torch.testing.assert_close(ours(sample, t, ehs, ids, stereo_strength=s).sample, plain)  # zero at start
        sizes = set()
        for _name, block in residual_blocks(ours).items():
            block.register_forward_pre_hook(lambda m, a: sizes.add(tuple(a[0].shape[-2:])))
        for conv in ours.stereo_embedding.proj.values():
            torch.nn.init.normal_(conv.weight, std=0.1)
        moved = ours(sample, t, ehs, ids, stereo_strength=s).sample
        again = ours(sample, t, ehs, ids, stereo_strength=s * 0.5).sample
    assert sizes == {(8, 12), (4, 6)}  # both resolutions of the tiny UNet
    assert not torch.allclose(moved, plain, atol=1e-4) and not torch.allclose(moved, again, atol=1e-5)


def test_stereo_strength_and_fourier_features():
    z, ref = torch.randn(2, 3, 4, 5, 6), torch.randn(2, 3, 4, 5, 6)
    s = stereo_strength(z, ref)
    assert s.shape == (2, 3, 1, 5, 6)
    torch.testing.assert_close(s, (z - ref).abs().mean(2, keepdim=True))
    assert float(stereo_strength(ref, ref).abs().max()) == 0.0
    assert fourier_features(torch.rand(2, 1, 3, 3)).shape == (2, 9, 3, 3)
    with pytest.raises(ValueError, match="shapes differ"):
        stereo_strength(z, ref[:, :2])


def test_expand_conv_in_keeps_svd_channels_and_zeroes_the_mask_channel():
    w = torch.randn(32, 8, 3, 3)
    out = expand_conv_in(w, 9)
    torch.testing.assert_close(out[:, :8], w)
    assert float(out[:, 8].abs().max()) == 0.0


def test_refiner_net_shapes_and_every_config_builds():
    for config in (TINY, SMALL):
        parts = build_components(config)
        c = config.latent_channels
        ref = torch.randn(2, c, 8, 8)
        out = parts["refiner_net"](ref, torch.tensor(0), encoder_hidden_states=torch.zeros(2, 1, 32)).sample
        assert out.shape == (2, c, 8, 8)
        assert parts["denoiser"].config.in_channels == 2 * c + 1 and parts["denoiser"].config.out_channels == c
    assert parameter_count(build_components(SMALL)["denoiser"]) < 6_000_000


def test_svd_xt_architecture_is_the_papers(monkeypatch):
    from accelerate import init_empty_weights

    with init_empty_weights():
        den = SpatialDreamerUNet(in_channels=9, out_channels=4, **SVD_XT.denoiser)
    assert den.config.in_channels == 9 and SVD_XT.latent_channels == 4
    assert 1.5e9 < parameter_count(den) < 1.6e9  # SVD img2vid-xt's UNet is 1.52 B parameters


def test_patch_autoencoder_is_exactly_invertible():
    ae = PatchAutoencoder(patch_size=4)
    x = torch.rand(3, 3, 16, 24) * 2 - 1
    z = ae.encode(x).latent_dist.mode()
    assert z.shape == (3, 48, 4, 6) and ae.latent_channels == 48
    torch.testing.assert_close(ae.decode(z, num_frames=3).sample, x)
    with pytest.raises(ValueError, match="multiples of 4"):
        ae.encode(torch.zeros(1, 3, 10, 16))
