"""Reference attention and Temporal Interaction Learning, as diffusers attention processors.

RefinerNet → denoiser: in every spatial self-attention (``…transformer_blocks.N.attn1``) of the denoiser,
the RefinerNet features of the layer with the same module name are concatenated with the denoiser's along
the height axis, self-attention is applied over the doubled map and the first half (the denoiser's rows)
is kept. Self-attention has no positional terms, so this equals attention whose queries are the
denoiser's tokens and whose keys/values are [denoiser tokens ‖ reference tokens] — what
:class:`ReferenceReaderProcessor` computes (without wasting queries on the discarded half);
``tests/engine/refiner/test_attention.py`` holds it equal to the literal concatenation.

TIL inside RefinerNet: for reference frame t of a clip of F frames, the spatial self-attention output is
aug_r^t = λ·Attn(r^t, r^t) + (1 − λ)·(1/N_r) Σ_i Attn(r^t, r^i) over the N_r nearest other frames i
(t−1, t+1, t−2, … that exist in the window; the average is over those that exist), Attn(a, b) being the
layer's own attention with queries from a and keys/values from b. λ = 1 (or N_r = 0, or a one-frame
window) is plain self-attention. The writer stores the layer's *input* tokens r^t (the same feature space
as the denoiser's own attention input — what the reader concatenates); TIL shapes the RefinerNet stream, so
every later layer writes temporally-informed features.

Context travels in a :class:`ReferenceBank` set before each UNet call (``UNetSpatioTemporalConditionModel.forward``
has no ``cross_attention_kwargs``); processors are paired by module name, never by patching ``forward``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention
from torch import Tensor, nn


class ReferenceBank:
    """Per-call context shared by the writer processors (RefinerNet) and the reader processors (denoiser).

    Attributes:
        mode: ``"off"`` (readers do plain self-attention), ``"write"`` (writers store their input),
            ``"read"`` (readers attend to the stored features).
        features: layer name -> (B·F, L, C) reference tokens of the last write.
        num_frames: frames per clip in the RefinerNet batch (TIL groups frames by it).
        keep: (N,) bool per denoiser sample, False = no reference for that sample (classifier-free
            guidance's unconditional half, or reference dropout in training); None = all True.
    """

    def __init__(self) -> None:
        self.mode = "off"
        self.features: dict[str, Tensor] = {}
        self.num_frames = 1
        self.keep: Tensor | None = None

    @contextmanager
    def writing(self, num_frames: int) -> Iterator[ReferenceBank]:
        """Collect features from one RefinerNet call on clips of `num_frames` frames."""
        self.features, self.num_frames, self.mode = {}, int(num_frames), "write"
        try:
            yield self
        finally:
            self.mode = "off"

    @contextmanager
    def reading(self, keep: Tensor | None = None) -> Iterator[ReferenceBank]:
        """Let the denoiser attend to the stored features (`keep` as in the class doc)."""
        self.keep, self.mode = keep, "read"
        try:
            yield self
        finally:
            self.mode, self.keep = "off", None

    def reference_for(self, name: str, hidden_states: Tensor) -> Tensor | None:
        """The (N, L, C) reference tokens for denoiser layer `name` and its (N, L, C) input, or None."""
        if self.mode != "read":
            return None
        ref = self.features.get(name)
        if ref is None:
            raise RuntimeError(f"no RefinerNet features for {name}: run RefinerNet.encode_reference first")
        n = hidden_states.shape[0]
        if ref.shape[1:] != hidden_states.shape[1:] or n % ref.shape[0]:
            raise ValueError(f"{name}: reference tokens {tuple(ref.shape)} do not fit the denoiser's "
                             f"{tuple(hidden_states.shape)} (same size and a batch multiple needed)")
        if n != ref.shape[0]:
            ref = ref.repeat(n // ref.shape[0], 1, 1)
        ref = ref.to(hidden_states.dtype)
        if self.keep is not None:
            ref = torch.where(self.keep.to(ref.device).view(-1, 1, 1), ref, hidden_states)
        return ref


def attend(attn: Attention, hidden_states: Tensor, context: Tensor) -> Tensor:
    """`attn`'s attention with queries from `hidden_states` and keys/values from `context`.

    The same arithmetic as diffusers' AttnProcessor2_0 for a token-sequence self-attention layer.

    Args:
        hidden_states: (N, L, C) query tokens. context: (N, M, C) key/value tokens.
    Returns:
        (N, L, C) the layer's output (after its output projection).
    """
    if attn.spatial_norm is not None or attn.group_norm is not None or hidden_states.ndim != 3:
        raise ValueError("reference attention supports token-sequence attention layers without spatial/group norm")
    n = hidden_states.shape[0]
    query, key, value = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
    head_dim = key.shape[-1] // attn.heads
    query = query.view(n, -1, attn.heads, head_dim).transpose(1, 2)
    key = key.view(n, -1, attn.heads, head_dim).transpose(1, 2)
    value = value.view(n, -1, attn.heads, head_dim).transpose(1, 2)
    if attn.norm_q is not None:
        query = attn.norm_q(query)
    if attn.norm_k is not None:
        key = attn.norm_k(key)
    out = F.scaled_dot_product_attention(query, key, value, dropout_p=0.0, is_causal=False)
    out = out.transpose(1, 2).reshape(n, -1, attn.heads * head_dim).to(query.dtype)
    out = attn.to_out[1](attn.to_out[0](out))
    if attn.residual_connection:
        out = out + hidden_states
    return out / attn.rescale_output_factor


def neighbour_offsets(count: int) -> list[int]:
    """The N_r nearest other frames as offsets: -1, +1, -2, +2, … (first `count`)."""
    return [sign * (k // 2 + 1) for k, sign in zip(range(count), [-1, 1] * count, strict=False)]


def til_attention(attn: Attention, tokens: Tensor, num_frames: int, til_lambda: float, neighbours: int) -> Tensor:
    """Temporal Interaction Learning: λ·Attn(r^t, r^t) + (1 − λ)·mean_i Attn(r^t, r^i).

    Args:
        tokens: (B·F, L, C) reference tokens, frames of a clip consecutive.
        num_frames: F. til_lambda: λ in [0, 1]. neighbours: N_r.
    Returns:
        (B·F, L, C). Frames with no neighbour in the window keep plain self-attention.
    """
    own = attend(attn, tokens, tokens)
    if til_lambda >= 1.0 or neighbours == 0 or num_frames < 2:
        return own
    n, length, channels = tokens.shape
    if n % num_frames:
        raise ValueError(f"TIL: batch {n} is not a multiple of {num_frames} frames")
    clip = tokens.view(n // num_frames, num_frames, length, channels)
    total = torch.zeros_like(own).view_as(clip)
    count = torch.zeros(num_frames, device=tokens.device, dtype=own.dtype)
    for offset in neighbour_offsets(neighbours):
        lo, hi = max(0, -offset), min(num_frames, num_frames - offset)
        if lo >= hi:
            continue
        queries, others = clip[:, lo:hi].flatten(0, 1), clip[:, lo + offset:hi + offset].flatten(0, 1)
        total[:, lo:hi] += attend(attn, queries, others).view(clip.shape[0], hi - lo, length, channels)
        count[lo:hi] += 1
    mean = (total / count.clamp(min=1).view(1, -1, 1, 1)).view_as(own)
    has = (count > 0).view(1, -1, 1, 1).expand_as(clip).reshape_as(own)
    return torch.where(has, til_lambda * own + (1.0 - til_lambda) * mean, own)


class ReferenceWriterProcessor:
    """On a RefinerNet ``attn1``: stores its input tokens in the bank (write mode) and applies TIL."""

    def __init__(self, bank: ReferenceBank, name: str, til_lambda: float, til_neighbours: int) -> None:
        self.bank, self.name = bank, name
        self.til_lambda, self.til_neighbours = float(til_lambda), int(til_neighbours)

    def __call__(self, attn: Attention, hidden_states: Tensor, encoder_hidden_states: Tensor | None = None,
                 attention_mask: Tensor | None = None, temb: Tensor | None = None, *args, **kwargs) -> Tensor:
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError(f"{self.name}: the reference writer sits on self-attention layers only")
        if self.bank.mode == "write":
            self.bank.features[self.name] = hidden_states
        frames = self.bank.num_frames if self.bank.mode == "write" else 1
        return til_attention(attn, hidden_states, frames, self.til_lambda, self.til_neighbours)


class ReferenceReaderProcessor:
    """On a denoiser spatial ``attn1``: self-attention over [own tokens ‖ RefinerNet tokens], own half kept."""

    def __init__(self, bank: ReferenceBank, name: str) -> None:
        self.bank, self.name = bank, name

    def __call__(self, attn: Attention, hidden_states: Tensor, encoder_hidden_states: Tensor | None = None,
                 attention_mask: Tensor | None = None, temb: Tensor | None = None, *args, **kwargs) -> Tensor:
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError(f"{self.name}: the reference reader sits on self-attention layers only")
        ref = self.bank.reference_for(self.name, hidden_states)
        context = hidden_states if ref is None else torch.cat([hidden_states, ref], dim=1)
        return attend(attn, hidden_states, context)


def spatial_self_attention(model: nn.Module) -> dict[str, Attention]:
    """The spatial self-attention layers (``…transformer_blocks.N.attn1``, not temporal ones) by name."""
    return {name: m for name, m in model.named_modules()
            if isinstance(m, Attention) and name.endswith(".attn1") and ".transformer_blocks." in name
            and ".temporal_transformer_blocks." not in name}


def paired_layers(denoiser: nn.Module, refiner_net: nn.Module) -> list[str]:
    """Names of the denoiser's spatial self-attention layers, each checked to have a RefinerNet partner.

    Raises:
        ValueError: a denoiser layer has no RefinerNet layer of the same name and width.
    """
    ours, theirs = spatial_self_attention(denoiser), spatial_self_attention(refiner_net)
    missing = [n for n, m in ours.items() if n not in theirs or theirs[n].to_q.in_features != m.to_q.in_features]
    if missing:
        raise ValueError(f"RefinerNet does not mirror the denoiser: no matching layer for {', '.join(missing)}")
    if not ours:
        raise ValueError("the denoiser has no spatial self-attention layer to read reference features into")
    return sorted(ours)


def install_reference_attention(denoiser: nn.Module, refiner_net: nn.Module, bank: ReferenceBank,
                                til_lambda: float, til_neighbours: int) -> list[str]:
    """Put readers on the denoiser and writers (with TIL) on RefinerNet, paired by layer name.

    Other layers keep their processors. Returns the paired names.
    """
    names = paired_layers(denoiser, refiner_net)
    readers = dict(denoiser.attn_processors)
    writers = dict(refiner_net.attn_processors)
    for name in names:
        readers[f"{name}.processor"] = ReferenceReaderProcessor(bank, name)
        writers[f"{name}.processor"] = ReferenceWriterProcessor(bank, name, til_lambda, til_neighbours)
    denoiser.set_attn_processor(readers)
    refiner_net.set_attn_processor(writers)
    return names


__all__ = [
    "ReferenceBank",
    "ReferenceReaderProcessor",
    "ReferenceWriterProcessor",
    "attend",
    "install_reference_attention",
    "neighbour_offsets",
    "paired_layers",
    "spatial_self_attention",
    "til_attention",
]
