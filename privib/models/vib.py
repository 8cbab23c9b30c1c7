"""The VIB model as a plain module: encoder q(z|x), task head p(y|z), one adversary per attribute."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from privib.models.distributions import reparameterize
from privib.models.networks import ClassifierHead, GaussianMLPEncoder


class VIBModel(nn.Module):
    """Encoder, task head and adversaries; ``adversaries[i]`` predicts sensitive attribute ``i``."""

    def __init__(
        self,
        input_dim: int,
        n_target_classes: int,
        n_sensitive_classes: Sequence[int],
        z_dim: int = 16,
        encoder_widths: Sequence[int] = (128, 128),
        head_widths: Sequence[int] = (),
        adversary_widths: Sequence[int] = (64, 64),
        activation: str = "relu",
        deterministic: bool = False,
    ) -> None:
        super().__init__()
        self.encoder = GaussianMLPEncoder(input_dim, z_dim, encoder_widths, activation, deterministic)
        self.task_head = ClassifierHead(z_dim, n_target_classes, head_widths, activation)
        self.adversaries = nn.ModuleList(
            ClassifierHead(z_dim, n, adversary_widths, activation) for n in n_sensitive_classes
        )

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor, n_samples: int = 0) -> torch.Tensor:
        """Task class probabilities: from the mean of q(z|x) when ``n_samples`` is 0, else averaged over draws."""
        mean, scale = self.encoder(x)
        if n_samples == 0 or self.encoder.deterministic:
            return self.task_head(mean).softmax(dim=-1)
        z = reparameterize(mean, scale, n_samples)
        return self.task_head(z).softmax(dim=-1).mean(dim=0)
