"""Plain modules: KL closed form, reparameterization gradients, gradient reversal, encoder modes."""
from __future__ import annotations

import torch
from torch.distributions import Normal, kl_divergence

from privib.models import GaussianMLPEncoder, GradientReversal, grad_reverse, kl_standard_normal, reparameterize


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


def test_gradient_reversal_flips_and_scales_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    y = grad_reverse(x, 2.5)
    torch.testing.assert_close(y, x)
    (y * torch.arange(3.0)).sum().backward()
    torch.testing.assert_close(x.grad, -2.5 * torch.arange(3.0).expand(4, 3))
    x.grad = None
    GradientReversal(1.0)(x).sum().backward()
    torch.testing.assert_close(x.grad, -torch.ones(4, 3))


def test_encoder_scale_positive_and_zero_when_deterministic():
    x = torch.randn(10, 6)
    mean, scale = GaussianMLPEncoder(6, z_dim=4, widths=(8,))(x)
    assert mean.shape == scale.shape == (10, 4) and (scale > 0).all()
    _, zero = GaussianMLPEncoder(6, z_dim=4, widths=(8,), deterministic=True)(x)
    assert (zero == 0).all()
