"""Gaussian posterior helpers: the KL closed form, reparameterization gradients and moments."""
from __future__ import annotations

import torch
from torch.distributions import Normal, kl_divergence

from privib.models.distributions import kl_standard_normal, reparameterize


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mean = torch.randn(32, 8)
    scale = torch.rand(32, 8) * 2 + 0.05
    reference = kl_divergence(Normal(mean, scale), Normal(torch.zeros(8), torch.ones(8))).sum(-1)
    torch.testing.assert_close(kl_standard_normal(mean, scale), reference, rtol=1e-5, atol=1e-5)
    assert torch.allclose(kl_standard_normal(torch.zeros(3, 4), torch.ones(3, 4)), torch.zeros(3))


def test_reparameterization_gradient_is_one_for_mean_and_eps_for_scale():
    torch.manual_seed(1)
    mean = torch.zeros(5, 3, requires_grad=True)
    scale = torch.ones(5, 3, requires_grad=True)
    torch.manual_seed(7)
    z = reparameterize(mean, scale)
    z.sum().backward()
    torch.manual_seed(7)
    eps = torch.randn(5, 3)
    torch.testing.assert_close(mean.grad, torch.ones(5, 3))
    torch.testing.assert_close(scale.grad, eps)
    torch.testing.assert_close(z.detach(), eps)


def test_reparameterized_samples_have_the_right_moments():
    torch.manual_seed(2)
    mean, scale = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 2.0]])
    z = reparameterize(mean, scale, n_samples=100_000)
    assert z.shape == (100_000, 1, 2)
    torch.testing.assert_close(z.mean(0), mean, atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(0), scale, atol=0.03, rtol=0)
