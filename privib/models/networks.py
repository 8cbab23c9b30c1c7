"""Plain ``nn.Module`` building blocks: the Gaussian MLP encoder and the classification heads."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from privib.errors import ConfigError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


def make_mlp(in_dim: int, widths: Sequence[int], out_dim: int, activation: str = "relu") -> nn.Sequential:
    """Linear layers of ``widths`` with ``activation`` between them, ending in a linear ``out_dim``."""
    if activation not in ACTIVATIONS:
        raise ConfigError(f"unknown activation '{activation}': use one of {', '.join(ACTIVATIONS)}")
    if any(int(w) < 1 for w in widths):
        raise ConfigError(f"layer widths must be positive integers, got {list(widths)}")
    layers: list[nn.Module] = []
    previous = in_dim
    for width in widths:
        layers += [nn.Linear(previous, int(width)), ACTIVATIONS[activation]()]
        previous = int(width)
    layers.append(nn.Linear(previous, out_dim))
    return nn.Sequential(*layers)


class GaussianMLPEncoder(nn.Module):
    """q(z|x) = N(mean(x), diag(scale(x)^2)) with ``scale = softplus(.) + min_scale``.

    With ``deterministic=True`` the scale is zero and z is the mean: the same module then
    serves the plain-MLP and adversary-only baselines.
    """

    def __init__(
        self,
        input_dim: int,
        z_dim: int = 16,
        widths: Sequence[int] = (128, 128),
        activation: str = "relu",
        deterministic: bool = False,
        min_scale: float = 1e-4,
    ) -> None:
        super().__init__()
        if z_dim < 1:
            raise ConfigError(f"model.z_dim must be at least 1, got {z_dim}")
        self.input_dim = input_dim
        self.z_dim = z_dim
        self.deterministic = deterministic
        self.min_scale = min_scale
        self.body = make_mlp(input_dim, widths, 2 * z_dim, activation)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(mean, scale)`` of q(z|x), each ``(batch, z_dim)``."""
        mean, raw_scale = self.body(x).chunk(2, dim=-1)
        if self.deterministic:
            return mean, torch.zeros_like(mean)
        return mean, F.softplus(raw_scale) + self.min_scale


class ClassifierHead(nn.Module):
    """An MLP from z to class logits (the task head, or an adversary)."""

    def __init__(self, z_dim: int, n_classes: int, widths: Sequence[int] = (), activation: str = "relu") -> None:
        super().__init__()
        if n_classes < 2:
            raise ConfigError(f"a classifier head needs at least 2 classes, got {n_classes}")
        self.n_classes = n_classes
        self.net = make_mlp(z_dim, widths, n_classes, activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
