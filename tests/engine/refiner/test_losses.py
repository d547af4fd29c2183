"""engine.refiner.losses: the v-parametrisation matches the scheduler; l_d is zero at the target."""

from __future__ import annotations

import pytest
import torch
from diffusers import EulerDiscreteScheduler

from engine.refiner.configs import SVD_SCHEDULER
from engine.refiner.losses import (
    continuous_timestep,
    hole_weights,
    noise_input,
    predicted_clean,
    refiner_loss,
    residual_clean,
    residual_input,
    residual_v_target,
    sample_sigmas,
    stereo_loss,
    v_target,
)


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    z0, ref, eps = (torch.randn(2, 3, 4, 5, 6, generator=g) for _ in range(3))
    return z0, ref, eps, torch.tensor([0.3, 7.0])


def test_stereo_loss_is_zero_when_the_prediction_is_the_target():
    z0, ref, eps, sigma = batch()
    noisy, _ = noise_input(z0, eps, sigma)
    v = v_target(z0, eps, sigma)
    terms = refiner_loss(v, z0, eps, noisy, sigma, ref, lambda_d=0.5)
    assert float(terms.stereo) < 1e-10 and float(terms.v) == 0.0 and float(terms.total) < 1e-10
    assert float(stereo_loss(z0, z0 + 0.1, ref)) > 0


def test_predicted_clean_inverts_the_target_and_matches_euler():
    z0, _, eps, sigma = batch(1)
    noisy, scaled = noise_input(z0, eps, sigma)
    torch.testing.assert_close(predicted_clean(noisy, v_target(z0, eps, sigma), sigma), z0, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(scaled, noisy / torch.sqrt(sigma.view(-1, 1, 1, 1, 1) ** 2 + 1))
    scheduler = EulerDiscreteScheduler(**SVD_SCHEDULER)
    scheduler.set_timesteps(5)
    s = scheduler.sigmas[1]
    sample = z0[:1] + s * eps[:1]
    v = torch.randn_like(sample)
    scheduler.scale_model_input(sample, scheduler.timesteps[1])
    scheduler._step_index = 1
    ours = predicted_clean(sample, v, s.view(1))
    theirs = scheduler.step(v, scheduler.timesteps[1], sample).pred_original_sample
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(continuous_timestep(s.view(1)), scheduler.timesteps[1].view(1), rtol=1e-5, atol=1e-6)


def test_sigmas_follow_the_log_normal():
    s = sample_sigmas(20000, 0.7, 1.6, torch.Generator().manual_seed(0))
    assert abs(float(s.log().mean()) - 0.7) < 0.05 and abs(float(s.log().std()) - 1.6) < 0.05


def test_loss_has_gradients_for_the_prediction():
    z0, ref, eps, sigma = batch(2)
    noisy, _ = noise_input(z0, eps, sigma)
    v = torch.zeros_like(z0, requires_grad=True)
    refiner_loss(v, z0, eps, noisy, sigma, ref, 0.1).total.backward()
    assert v.grad is not None and float(v.grad.abs().sum()) > 0


def test_residual_parametrisation_round_trips_and_starts_at_the_gaussian_prior():
    z0, base, eps, sigma = batch(3)
    sd = 0.2
    noisy, _ = noise_input(z0, eps, sigma)
    target = residual_v_target(z0, eps, sigma, base, sd)
    torch.testing.assert_close(residual_clean(noisy, target, sigma, base, sd), z0, rtol=1e-4, atol=1e-4)
    terms = refiner_loss(target, z0, eps, noisy, sigma, base, 0.1, base=base, sigma_data=sd)
    assert float(terms.total) < 1e-8
    # a zero output (the zero-initialised denoiser) is the Gaussian-prior denoiser b + c_skip·(z_σ − b)
    c_skip = sd**2 / (sigma.view(-1, 1, 1, 1, 1) ** 2 + sd**2)
    torch.testing.assert_close(residual_clean(noisy, torch.zeros_like(z0), sigma, base, sd),
                               base + c_skip * (noisy - base))
    # the network input is the noisy residual at unit variance when the residual has scale σ_d
    r = sd * torch.randn(2, 4000, generator=torch.Generator().manual_seed(0)).view(2, 4, 10, 10, 10)
    n = torch.randn_like(r)
    x = residual_input(r + sigma.view(-1, 1, 1, 1, 1) * n, torch.zeros_like(r), sigma, sd)
    assert abs(float(x[0].std()) - 1.0) < 0.05 and abs(float(x[1].std()) - 1.0) < 0.05


def test_hole_weights_give_the_holes_their_share_whatever_their_size():
    mask = torch.zeros(3, 2, 1, 8, 8)
    mask[0, :, :, 2:4, 2:4] = 0.5  # a small hole (grown by one cell: 4x4 = 16 cells per frame)
    mask[1, :, :, 0:8, 0:5] = 1.0  # a big one
    w = hole_weights(mask, 0.5)
    torch.testing.assert_close(w.sum(dim=(1, 2, 3, 4)), torch.ones(3))
    assert float(w[0][:, :, 1:5, 1:5].sum()) == pytest.approx(0.5)
    assert float(w[1][:, :, :, 0:6].sum()) == pytest.approx(0.5)
    torch.testing.assert_close(w[2], torch.full_like(w[2], 1 / 128))  # no holes: a plain mean
    assert hole_weights(mask, 0.0) is None
    err = torch.rand(3, 2, 5, 8, 8)
    z = torch.zeros_like(err)
    weighted = refiner_loss(err, z, z, z, torch.ones(3), z, 0.0, weights=w).v
    expected = sum(float((err[k].square().mean(dim=1, keepdim=True) * w[k]).sum()) for k in range(3)) / 3
    assert float(weighted) == pytest.approx(expected, rel=1e-5)
