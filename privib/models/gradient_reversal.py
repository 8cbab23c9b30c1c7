"""Gradient reversal: identity forward, gradient multiplied by -scale backward (Ganin & Lempitsky 2015)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad_output, None


def grad_reverse(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Pass ``x`` through unchanged; reverse and scale its gradient by ``scale``."""
    return _GradReverse.apply(x, scale)


class GradientReversal(nn.Module):
    """Module form of :func:`grad_reverse`, so it can sit inside ``nn.Sequential``."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.scale)
