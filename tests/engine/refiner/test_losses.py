"""engine.refiner.losses: the v-parametrisation matches the scheduler; l_d is zero at the target."""

from __future__ import annotations

import torch
from diffusers import EulerDiscreteScheduler

from engine.refiner.configs import SVD_SCHEDULER
from engine.refiner.losses import (
    continuous_timestep,
    noise_input,
    predicted_clean,
    refiner_loss,
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
