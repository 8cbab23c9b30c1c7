"""Gradient reversal: identity forward, the gradient flipped and scaled backward."""
from __future__ import annotations

import torch

from privib.models.gradient_reversal import GradientReversal, grad_reverse


def test_gradient_reversal_flips_and_scales_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    y = grad_reverse(x, 2.5)
    torch.testing.assert_close(y, x)
    (y * torch.arange(3.0)).sum().backward()
    torch.testing.assert_close(x.grad, -2.5 * torch.arange(3.0).expand(4, 3))
    x.grad = None
    GradientReversal(1.0)(x).sum().backward()
    torch.testing.assert_close(x.grad, -torch.ones(4, 3))
