"""RefinerNet: the reference branch, a ``UNet2DConditionModel`` (SD 2.1's layout) run on the reference view.

It is the denoiser's architecture without temporal layers. It runs once per window on the clean
reference latents (timestep 0) with the same image embedding as the denoiser; what matters are not its
outputs but the features its spatial self-attention layers hand to the denoiser (``engine.refiner.attention``:
a writer processor with Temporal Interaction Learning on each RefinerNet ``attn1``, a reader on the
denoiser's ``attn1`` of the same name). No new configuration or weights: SD 2.1's UNet loads as is.
"""

from __future__ import annotations

import torch

# DiffusionPipeline.from_pretrained finds a custom component's load method by looking its base class up
# by name in the component's module, so ModelMixin must be importable from here.
from diffusers.models.modeling_utils import ModelMixin  # noqa: F401
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from torch import Tensor


class RefinerNet(UNet2DConditionModel):
    """UNet2DConditionModel whose job is to fill the reference feature bank (see :meth:`encode_reference`)."""

    def encode_reference(self, latents: Tensor, encoder_hidden_states: Tensor) -> None:
        """Run on reference latents so the writer processors capture their features.

        Args:
            latents: (B·F, C, h, w) reference-view latents (scaled like the denoiser's latents).
            encoder_hidden_states: (B·F, 1, cross_attention_dim) image embedding per frame.
        """
        timestep = torch.zeros((), device=latents.device, dtype=latents.dtype)
        self(latents, timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False)
