"""Plain building blocks: the Gaussian MLP encoder's scale in stochastic and deterministic mode."""
from __future__ import annotations

import torch

from privib.models.networks import GaussianMLPEncoder


def test_encoder_scale_positive_and_zero_when_deterministic():
    x = torch.randn(10, 6)
    mean, scale = GaussianMLPEncoder(6, z_dim=4, widths=(8,))(x)
    assert mean.shape == scale.shape == (10, 4) and (scale > 0).all()
    _, zero = GaussianMLPEncoder(6, z_dim=4, widths=(8,), deterministic=True)(x)
    assert (zero == 0).all()
