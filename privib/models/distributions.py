"""Gaussian posterior helpers: the KL rate against N(0, I) and reparameterized samples."""
from __future__ import annotations

import math

import torch

LN2 = math.log(2.0)


def kl_standard_normal(mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag(scale^2)) || N(0, I)) in nats, one value per row.

    Closed form: 0.5 * sum(scale^2 + mean^2 - 1 - log(scale^2)). A deterministic encoder
    (scale 0) has infinite KL; callers do not add this term for it.
    """
    variance = scale.pow(2)
    return 0.5 * (variance + mean.pow(2) - 1.0 - torch.log(variance)).sum(dim=-1)


def reparameterize(mean: torch.Tensor, scale: torch.Tensor, n_samples: int | None = None) -> torch.Tensor:
    """Draw z = mean + scale * eps, differentiable in mean and scale.

    With ``n_samples`` the result has a leading sample dimension ``(n_samples, *mean.shape)``.
    """
    shape = mean.shape if n_samples is None else (n_samples, *mean.shape)
    eps = torch.randn(shape, dtype=mean.dtype, device=mean.device)
    return mean + scale * eps


def nats_to_bits(value: torch.Tensor | float) -> torch.Tensor | float:
    """Convert nats to bits."""
    return value / LN2
