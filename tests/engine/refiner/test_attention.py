"""engine.refiner.attention: the reference reader equals the literal height concatenation; TIL; pairing."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from engine.refiner.attention import (
    ReferenceBank,
    ReferenceReaderProcessor,
    ReferenceWriterProcessor,
    attend,
    install_reference_attention,
    neighbour_offsets,
    paired_layers,
    til_attention,
)
from tests.support.refiner import tiny_pipeline


def layer(dim: int = 32, heads: int = 4, seed: int = 0) -> Attention:
    torch.manual_seed(seed)
    attn = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, bias=False)
    attn.set_processor(AttnProcessor2_0())
    return attn.eval()


def literal_height_concat(attn: Attention, x: torch.Tensor, ref: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The paper's recipe, literally: (N, H·W, C) maps -> concat along height -> self-attention -> top half."""
    n, _, c = x.shape
    maps = torch.cat([x.view(n, h, w, c), ref.view(n, h, w, c)], dim=1)  # (N, 2H, W, C)
    out = attn(maps.reshape(n, 2 * h * w, c))  # diffusers' own processor over the doubled map
    return out.view(n, 2 * h, w, c)[:, :h].reshape(n, h * w, c)


def test_reader_equals_literal_concatenation_along_height():
    attn, h, w = layer(), 5, 7
    x, ref = torch.randn(3, h * w, 32), torch.randn(3, h * w, 32)
    bank = ReferenceBank()
    bank.features["blk.attn1"] = ref
    attn.set_processor(ReferenceReaderProcessor(bank, "blk.attn1"))
    with bank.reading():
        ours = attn(x)
    attn.set_processor(AttnProcessor2_0())
    torch.testing.assert_close(ours, literal_height_concat(attn, x, ref, h, w), rtol=1e-5, atol=1e-5)


def test_reader_without_reference_is_plain_self_attention():
    attn = layer()
    x = torch.randn(2, 12, 32)
    plain = attn(x)
    bank = ReferenceBank()
    bank.features["a"] = torch.randn(2, 12, 32)
    attn.set_processor(ReferenceReaderProcessor(bank, "a"))
    torch.testing.assert_close(attn(x), plain)  # bank off: no reference
    with bank.reading(keep=torch.tensor([False, True])):  # sample 0 dropped (CFG's unconditional half)
        out = attn(x)
    torch.testing.assert_close(out[0], plain[0], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(out[1], plain[1], atol=1e-3)


def test_reader_repeats_the_bank_for_a_doubled_batch():
    attn = layer()
    x, ref = torch.randn(4, 9, 32), torch.randn(2, 9, 32)
    bank = ReferenceBank()
    bank.features["a"] = ref
    attn.set_processor(ReferenceReaderProcessor(bank, "a"))
    with bank.reading():
        out = attn(x)
    torch.testing.assert_close(out[2:], attend(attn, x[2:], torch.cat([x[2:], ref], 1)))
    with bank.reading(), pytest.raises(ValueError, match="do not fit"):
        attn(torch.randn(3, 9, 32))


def test_til_lambda_one_is_plain_self_attention():
    attn = layer()
    r = torch.randn(2 * 5, 16, 32)  # B = 2 clips of F = 5 frames
    torch.testing.assert_close(til_attention(attn, r, 5, 1.0, 2), attn(r), rtol=1e-5, atol=1e-6)


def test_til_mixes_neighbouring_frames_as_the_paper_writes():
    attn, lam = layer(), 0.3
    r = torch.randn(4, 10, 32)  # one clip of 4 frames
    out = til_attention(attn, r, 4, lam, 2)
    for t in range(4):
        neighbours = [i for i in (t - 1, t + 1) if 0 <= i < 4]
        cross = sum(attend(attn, r[t:t + 1], r[i:i + 1]) for i in neighbours) / len(neighbours)
        expected = lam * attend(attn, r[t:t + 1], r[t:t + 1]) + (1 - lam) * cross
        torch.testing.assert_close(out[t:t + 1], expected, rtol=1e-5, atol=1e-6)
    assert neighbour_offsets(4) == [-1, 1, -2, 2]
    torch.testing.assert_close(til_attention(attn, r[:1], 1, lam, 2), attn(r[:1]))  # one frame: no neighbour


def test_writer_stores_its_input_and_applies_til():
    attn, bank = layer(), ReferenceBank()
    attn.set_processor(ReferenceWriterProcessor(bank, "w", 0.5, 2))
    r = torch.randn(6, 8, 32)
    with bank.writing(3):
        out = attn(r)
    assert bank.features["w"] is r and bank.mode == "off"
    torch.testing.assert_close(out, til_attention(attn, r, 3, 0.5, 2))


def test_install_pairs_every_spatial_self_attention_by_name(pipe):
    names = pipe.paired_layers
    assert names and all(n.endswith(".attn1") and ".temporal_" not in n for n in names)
    readers = [k for k, v in pipe.denoiser.attn_processors.items() if isinstance(v, ReferenceReaderProcessor)]
    writers = [k for k, v in pipe.refiner_net.attn_processors.items() if isinstance(v, ReferenceWriterProcessor)]
    assert sorted(readers) == sorted(writers) == [f"{n}.processor" for n in names]
    temporal = [k for k in pipe.denoiser.attn_processors if "temporal_transformer_blocks" in k]
    assert temporal and not any(isinstance(pipe.denoiser.attn_processors[k], ReferenceReaderProcessor)
                                for k in temporal)


def test_unpaired_layers_are_refused():
    small, other = tiny_pipeline(), tiny_pipeline()
    other.refiner_net.up_blocks[1].attentions[0].transformer_blocks[0].attn1.to_q = torch.nn.Linear(16, 32)
    with pytest.raises(ValueError, match="does not mirror"):
        paired_layers(small.denoiser, other.refiner_net)
    with pytest.raises(ValueError, match="does not mirror"):
        install_reference_attention(small.denoiser, other.refiner_net, ReferenceBank(), 0.5, 2)


def test_denoiser_in_read_mode_needs_features(pipe):
    bank = pipe.bank
    x = torch.randn(1, 2, pipe.denoiser.config.in_channels, 8, 8)
    with bank.reading(), pytest.raises(RuntimeError, match="RefinerNet.encode_reference"):
        pipe.denoiser(x, torch.tensor(0.1), torch.zeros(1, 1, 32), torch.zeros(1, 3))
