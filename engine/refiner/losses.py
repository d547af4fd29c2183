"""The training objective: v-prediction MSE plus the stereo-aware loss, in SVD's EDM-style parametrisation.

With noise level σ, clean latent z₀ and noise ε: z_σ = z₀ + σε; the network sees c_in·z_σ with
c_in = 1/√(σ² + 1) and the continuous timestep 0.25·ln σ (EulerDiscreteScheduler with
``timestep_type="continuous"``, as SVD). Its v-prediction target is v = (ε − σ·z₀)/√(σ² + 1) and the
clean latent it implies is ẑ₀ = z_σ/(σ² + 1) − σ/√(σ² + 1)·v̂ — exactly the scheduler's
``pred_original_sample``, so training and inference share one parametrisation.

l = l_v + λ_d · l_d, l_v = mean (v̂ − v)², l_d = mean (s(z₀) − s(ẑ₀))² with s(z) = |z − z_ref| (channel mean).

Residual configs (``RefinerConfig.residual_sigma``) predict the v of the residual r = z₀ − b over the
geometric render's latent b, with EDM's preconditioning at the residual's data scale σ_d: the network sees
the noisy *residual* c_in·(z_σ − b) with c_in = 1/√(σ² + σ_d²) (:func:`residual_input`; unit variance at
every σ, as EDM's c_in) and ẑ₀ = b + c_skip·(z_σ − b) − c_out·v̂_r. :func:`plain_v` converts its output
into the plain v the scheduler steps with.

Region weighting (``TrainSettings.hole_share``): the squared errors can be averaged with a weight map
(:func:`hole_weights`) that gives the latent cells of the (dilated) holes a fixed share of the loss and the
rest of the frame the remainder, whatever the hole fraction of the batch — the holes are the pixels the
refiner is composited into, and a loss pooled over all cells would be set by the ~97 % that a render
already gets right, and would swing with each clip's hole fraction.
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


def stratified_sigmas(batch_index: int, batch: int, mean: float, std: float) -> Tensor:
    """(B,) noise levels of one batch: ln σ_j = mean + std·Φ⁻¹(u_j), u_j = (j + frac(0.5 + n·φ⁻¹)) / B for
    j < B, n = `batch_index` (the golden-ratio sequence).

    Stratified and low-discrepancy instead of random draws: every batch holds one level from each of the B
    equal-probability strata of the log-normal, and the offset inside the strata walks the golden-ratio
    sequence, so consecutive steps cover the distribution evenly — the loss of one step compares with the
    next (the raw per-step loss is dominated by σ: at one σ it is a fixed mix of the predictable residual
    and the noise) — and the levels still follow the distribution exactly in the long run. Depends only on
    the batch number, so a resumed run draws the same levels.
    """
    offset = float(torch.frac(torch.tensor(0.5 + batch_index * GOLDEN, dtype=torch.float64)))
    u = ((torch.arange(batch, dtype=torch.float64) + offset) / batch).clamp(1e-6, 1 - 1e-6)
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


def residual_input(noisy: Tensor, base: Tensor, sigma: Tensor, sigma_data: float) -> Tensor:
    """The residual model's network input c_in·(z_σ − b), c_in = 1/√(σ² + σ_d²) ((B, F, C, h, w); `sigma`
    (B,) or one level for the whole batch)."""
    s = _per_sample(sigma.reshape(-1).expand(noisy.shape[0]), noisy)
    return (noisy - base) / torch.sqrt(s**2 + sigma_data**2)


def hole_weights(mask: Tensor, share: float, dilate: int = 1) -> Tensor | None:
    """Per-cell loss weights giving the holes `share` of the loss (None when `share` is 0: plain mean).

    Args:
        mask: (B, F, 1, h, w) fraction of hole pixels per latent cell.
        share: the holes' share of the loss in [0, 1); a cell is a hole cell when any pixel of it, or of a
            cell within `dilate` cells, is a hole.
    Returns:
        (B, F, 1, h, w) weights summing to 1 over each window; hole cells share `share` equally, the others
        1 − share (a window without holes: all cells equal).
    """
    if share <= 0.0:
        return None
    b, f = mask.shape[:2]
    flat = mask.flatten(0, 1).float()
    holes = torch.nn.functional.max_pool2d(flat, 2 * dilate + 1, stride=1, padding=dilate) > 0
    holes = holes.unflatten(0, (b, f)).float()
    n_holes = holes.sum(dim=(1, 2, 3, 4), keepdim=True)
    n_rest = holes[0].numel() - n_holes
    w = torch.where(holes > 0, share / n_holes.clamp(min=1), (1.0 - share) / n_rest.clamp(min=1))
    empty = (n_holes == 0) | (n_rest == 0)
    return torch.where(empty, torch.full_like(w, 1.0 / holes[0].numel()), w)


def _mean(x: Tensor, weights: Tensor | None) -> Tensor:
    """Mean of (B, F, C, h, w) squared errors: plain, or with per-window weights (each window's weights sum
    to 1 over cells; channels averaged) averaged over the batch."""
    if weights is None:
        return x.mean()
    return (x.mean(dim=2, keepdim=True) * weights).sum() / x.shape[0]


def plain_v(noisy: Tensor, clean: Tensor, sigma: Tensor) -> Tensor:
    """The plain v (σ_d = 1, what EulerDiscreteScheduler expects) whose implied ẑ₀ is `clean`:
    v = (z_σ/(σ² + 1) − ẑ₀)·√(σ² + 1)/σ."""
    s = _per_sample(sigma.reshape(-1).expand(noisy.shape[0]), noisy)
    return (noisy / (s**2 + 1) - clean) * torch.sqrt(s**2 + 1) / s


def predicted_clean(noisy: Tensor, v: Tensor, sigma: Tensor) -> Tensor:
    """ẑ₀ = z_σ/(σ² + 1) − σ/√(σ² + 1)·v̂ (EulerDiscreteScheduler's v-prediction pred_original_sample)."""
    s = _per_sample(sigma, noisy)
    return noisy / (s**2 + 1) - s / torch.sqrt(s**2 + 1) * v


def stereo_loss(clean: Tensor, predicted: Tensor, reference: Tensor, weights: Tensor | None = None) -> Tensor:
    """l_d = mean (s(z₀) − s(ẑ₀))², s(z) = |z − z_ref|; 0 when the prediction equals the target."""
    return _mean((stereo_strength(clean, reference) - stereo_strength(predicted, reference)).square(), weights)


@dataclass
class LossTerms:
    """One step's loss and its parts (tensors; ``total`` carries the gradient)."""

    total: Tensor
    v: Tensor
    stereo: Tensor


def refiner_loss(v_pred: Tensor, latents: Tensor, noise: Tensor, noisy: Tensor, sigma: Tensor, reference: Tensor,
                 lambda_d: float, base: Tensor | None = None, sigma_data: float = 1.0,
                 weights: Tensor | None = None) -> LossTerms:
    """l = l_v + λ_d·l_d for one batch.

    Args:
        v_pred: (B, F, C, h, w) the network output. latents: z₀ (the target view). noise: ε.
        noisy: z_σ. sigma: (B,). reference: z_ref latents of the reference view.
        base: the geometric render's latent b for residual models (v_pred is then the residual's v at
            data scale `sigma_data`); None = the paper's plain v-prediction.
        weights: (B, F, 1, h, w) per-cell weights (:func:`hole_weights`), None = plain means.
    """
    if base is None:
        target = v_target(latents, noise, sigma)
        clean = predicted_clean(noisy.float(), v_pred.float(), sigma.float())
    else:
        target = residual_v_target(latents, noise, sigma, base, sigma_data)
        clean = residual_clean(noisy.float(), v_pred.float(), sigma.float(), base.float(), sigma_data)
    l_v = _mean((v_pred.float() - target.float()).square(), weights)
    l_d = stereo_loss(latents.float(), clean, reference.float(), weights)
    return LossTerms(l_v + lambda_d * l_d, l_v, l_d)


__all__ = [
    "LossTerms",
    "plain_v",
    "residual_clean",
    "residual_v_target",
    "continuous_timestep",
    "hole_weights",
    "residual_input",
    "noise_input",
    "predicted_clean",
    "stratified_sigmas",
    "refiner_loss",
    "sample_sigmas",
    "stereo_loss",
    "v_target",
]
