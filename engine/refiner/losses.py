"""The training objective: v-prediction MSE plus the stereo-aware loss, in SVD's EDM-style parametrisation.

With noise level σ, clean latent z₀ and noise ε: z_σ = z₀ + σε; the network sees c_in·z_σ with
c_in = 1/√(σ² + 1) and the continuous timestep 0.25·ln σ (EulerDiscreteScheduler with
``timestep_type="continuous"``, as SVD). Its v-prediction target is v = (ε − σ·z₀)/√(σ² + 1) and the
clean latent it implies is ẑ₀ = z_σ/(σ² + 1) − σ/√(σ² + 1)·v̂ — exactly the scheduler's
``pred_original_sample``, so training and inference share one parametrisation.

l = l_v + λ_d · l_d, l_v = mean (v̂ − v)², l_d = mean (s(z₀) − s(ẑ₀))² with s(z) = |z − z_ref| (channel mean).

Residual configs (``RefinerConfig.residual``) predict the v of the residual r = z₀ − b over the geometric
render's latent b, with EDM's preconditioning at the residual's data scale σ_d: ẑ₀ = b + c_skip·(z_σ − b) −
c_out·v̂_r; the network input is the same c_in·z_σ. :func:`plain_v` converts its output into the plain v
the scheduler steps with.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from engine.refiner.models.denoiser import stereo_strength


def _per_sample(sigma: Tensor, like: Tensor) -> Tensor:
    """(B,) σ -> broadcastable to (B, F, C, h, w)."""
    return sigma.view(-1, *([1] * (like.ndim - 1))).to(like.dtype)


def sample_sigmas(batch: int, mean: float, std: float, generator: torch.Generator | None = None,
                  device: torch.device | None = None) -> Tensor:
    """(B,) noise levels with ln σ ~ N(mean, std) (EDM's log-normal)."""
    normal = torch.randn(batch, generator=generator, device=device or torch.device("cpu"))
    return torch.exp(mean + std * normal)


GOLDEN = 0.6180339887498949


def quasi_random_sigmas(first: int, batch: int, mean: float, std: float) -> Tensor:
    """(B,) noise levels of examples first … first + B − 1, ln σ = mean + std·Φ⁻¹(u) with u the golden-ratio
    sequence frac(0.5 + n·φ⁻¹).

    Low-discrepancy instead of random draws: any few consecutive steps cover the log-normal evenly, so the
    loss of one step compares with the next (a loss curve of raw per-step values is readable) and the
    noise levels still follow the distribution exactly in the long run. Depends only on the example number,
    so a resumed run draws the same levels.
    """
    n = torch.arange(first, first + batch, dtype=torch.float64)
    u = torch.frac(0.5 + n * GOLDEN).clamp(1e-6, 1 - 1e-6)
    return torch.exp(mean + std * torch.special.ndtri(u)).float()


def noise_input(latents: Tensor, noise: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
    """z_σ = z₀ + σε and the network's scaled input c_in·z_σ (both (B, F, C, h, w))."""
    s = _per_sample(sigma, latents)
    noisy = latents + s * noise
    return noisy, noisy / torch.sqrt(s**2 + 1)


def continuous_timestep(sigma: Tensor) -> Tensor:
    """The UNet's timestep for σ: 0.25·ln σ (SVD's continuous-time EDM conditioning)."""
    return 0.25 * torch.log(sigma)


def v_target(latents: Tensor, noise: Tensor, sigma: Tensor) -> Tensor:
    """v = (ε − σ·z₀)/√(σ² + 1)."""
    s = _per_sample(sigma, latents)
    return (noise - s * latents) / torch.sqrt(s**2 + 1)


def residual_clean(noisy: Tensor, v_residual: Tensor, sigma: Tensor, base: Tensor, sigma_data: float) -> Tensor:
    """ẑ₀ of a residual model: b + c_skip·(z_σ − b) − c_out·v̂_r with EDM's c_skip = σ_d²/(σ² + σ_d²) and
    c_out = σ·σ_d/√(σ² + σ_d²) for the residual r = z₀ − b of standard deviation σ_d (`sigma_data`)."""
    s = _per_sample(sigma.reshape(-1).expand(noisy.shape[0]), noisy)
    d2 = sigma_data**2
    return base + d2 / (s**2 + d2) * (noisy - base) - s * sigma_data / torch.sqrt(s**2 + d2) * v_residual


def residual_v_target(latents: Tensor, noise: Tensor, sigma: Tensor, base: Tensor, sigma_data: float) -> Tensor:
    """v of the residual r = z₀ − b at data scale σ_d: (σ_d·ε − σ·r/σ_d)/√(σ² + σ_d²) (unit variance)."""
    s = _per_sample(sigma, latents)
    return (sigma_data * noise - s * (latents - base) / sigma_data) / torch.sqrt(s**2 + sigma_data**2)


def plain_v(noisy: Tensor, clean: Tensor, sigma: Tensor) -> Tensor:
    """The plain v (σ_d = 1, what EulerDiscreteScheduler expects) whose implied ẑ₀ is `clean`:
    v = (z_σ/(σ² + 1) − ẑ₀)·√(σ² + 1)/σ."""
    s = _per_sample(sigma.reshape(-1).expand(noisy.shape[0]), noisy)
    return (noisy / (s**2 + 1) - clean) * torch.sqrt(s**2 + 1) / s


def predicted_clean(noisy: Tensor, v: Tensor, sigma: Tensor) -> Tensor:
    """ẑ₀ = z_σ/(σ² + 1) − σ/√(σ² + 1)·v̂ (EulerDiscreteScheduler's v-prediction pred_original_sample)."""
    s = _per_sample(sigma, noisy)
    return noisy / (s**2 + 1) - s / torch.sqrt(s**2 + 1) * v


def stereo_loss(clean: Tensor, predicted: Tensor, reference: Tensor) -> Tensor:
    """l_d = mean (s(z₀) − s(ẑ₀))², s(z) = |z − z_ref|; 0 when the prediction equals the target."""
    return (stereo_strength(clean, reference) - stereo_strength(predicted, reference)).square().mean()


@dataclass
class LossTerms:
    """One step's loss and its parts (tensors; ``total`` carries the gradient)."""

    total: Tensor
    v: Tensor
    stereo: Tensor


def refiner_loss(v_pred: Tensor, latents: Tensor, noise: Tensor, noisy: Tensor, sigma: Tensor, reference: Tensor,
                 lambda_d: float, base: Tensor | None = None, sigma_data: float = 1.0) -> LossTerms:
    """l = l_v + λ_d·l_d for one batch.

    Args:
        v_pred: (B, F, C, h, w) the network output. latents: z₀ (the target view). noise: ε.
        noisy: z_σ. sigma: (B,). reference: z_ref latents of the reference view.
        base: the geometric render's latent b for residual models (v_pred is then the residual's v at
            data scale `sigma_data`); None = the paper's plain v-prediction.
    """
    if base is None:
        target = v_target(latents, noise, sigma)
        clean = predicted_clean(noisy.float(), v_pred.float(), sigma.float())
    else:
        target = residual_v_target(latents, noise, sigma, base, sigma_data)
        clean = residual_clean(noisy.float(), v_pred.float(), sigma.float(), base.float(), sigma_data)
    l_v = (v_pred.float() - target.float()).square().mean()
    l_d = stereo_loss(latents.float(), clean, reference.float())
    return LossTerms(l_v + lambda_d * l_d, l_v, l_d)


__all__ = [
    "LossTerms",
    "plain_v",
    "residual_clean",
    "residual_v_target",
    "continuous_timestep",
    "noise_input",
    "predicted_clean",
    "quasi_random_sigmas",
    "refiner_loss",
    "sample_sigmas",
    "stereo_loss",
    "v_target",
]
