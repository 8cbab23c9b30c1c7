"""FCRL (Gupta et al. 2021, "Controllable Guarantees for Fair Outcomes via Contrastive Information Estimation").

z is computed from x alone, so I(z; c) = I(z; x) - I(z; x | c) for the sensitive attribute c. FCRL
maximizes I(y; z | c) while bounding I(z; c) through those two terms, each estimated on a batch:

- I(y; z | c) >= H(y | c) - E[-log q(y | z, c)]: the cross-entropy of a predictor that reads z *and* c;
- I(z; x) <= E_x KL(q(z|x) || N(0, I)): the VIB rate (:func:`privib.models.distributions.kl_standard_normal`);
- I(z; x | c) >= the conditional InfoNCE bound of :class:`ContrastiveCritic`, whose negatives for row i
  are the batch rows of i's own sensitive group, so no bound on I(z; x | c) credits what c explains.

The loss to minimize is ``CE(y | z, c) + beta * KL - lambda * NCE``; the authors sweep lambda with
beta = lambda / 2. The critic is theirs in form: T(x, z, c) = softplus(f_x(x)^T W_c f_z(z)) with an MLP
f_x, a linear f_z and one matrix W_c per group, and the bound of row i is
``log T(x_i, z_i, c_i) - log mean_{j : c_j = c_i} T(x_i, z_j, c_i)`` (at most log n_{c_i}).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from privib.errors import ConfigError
from privib.models.decoder import ConditionalDecoder
from privib.models.networks import make_mlp

__all__ = ["ContrastiveCritic", "FCRLObjective", "FCRLTerms", "conditional_nce", "group_index"]

_LINEAR_BELOW = -15.0  # log(softplus(u)) = u + O(e^u) below this; computing it directly would underflow


def group_index(s: torch.Tensor, n_classes: Sequence[int]) -> torch.Tensor:
    """One group id per row from the class codes ``s`` ``(batch, attrs)``: the joint code over all attributes."""
    index = torch.zeros(s.shape[0], dtype=torch.long, device=s.device)
    for i, n in enumerate(n_classes):
        index = index * int(n) + s[:, i].long()
    return index


def conditional_nce(log_scores: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Per row i: ``log_scores[i, i] - log mean_{j : groups[j] = groups[i]} exp(log_scores[i, j])``, in nats.

    ``log_scores[i, j]`` is the log critic value of x_i with z_j; the positive pair is the diagonal and
    the negatives are the rows of the same group (the positive among them), so row i is at most
    ``log n_{groups[i]}`` and the batch mean at most ``log(batch)``.
    """
    same = groups[:, None] == groups[None, :]
    negatives = torch.logsumexp(log_scores.masked_fill(~same, float("-inf")), dim=1)
    return log_scores.diagonal() - negatives + same.sum(dim=1).to(log_scores.dtype).log()


class ContrastiveCritic(nn.Module):
    """The critic T(x, z, c) = softplus(f_x(x)^T W_c f_z(z)) of FCRL's bound on I(x; z | c).

    Args:
        input_dim: width of x.
        z_dim: width of z (also the width of f_x and f_z).
        n_groups: number of sensitive groups c (one W_c each).
        widths: hidden layer widths of f_x (the authors use one layer of 50).
        activation: hidden activation of f_x.
    """

    def __init__(self, input_dim: int, z_dim: int, n_groups: int, widths: Sequence[int] = (50,),
                 activation: str = "relu") -> None:
        super().__init__()
        if n_groups < 1:
            raise ConfigError(f"the FCRL critic needs at least one sensitive group, got {n_groups}")
        self.f_x = make_mlp(input_dim, widths, z_dim, activation)
        self.f_z = nn.Linear(z_dim, z_dim)
        self.w = nn.Parameter(torch.randn(n_groups, z_dim, z_dim))

    def log_scores(self, x: torch.Tensor, z: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """``(batch, batch)``: entry (i, j) is log T(x_i, z_j, c_i)."""
        left = torch.einsum("bi,bij->bj", self.f_x(x), self.w[groups])
        u = left @ self.f_z(z).T
        return torch.where(u < _LINEAR_BELOW, u, torch.log(F.softplus(u.clamp_min(_LINEAR_BELOW))))

    def forward(self, x: torch.Tensor, z: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
        """The conditional InfoNCE bound of each row, in nats (:func:`conditional_nce`)."""
        return conditional_nce(self.log_scores(x, z, groups), groups)


@dataclass(frozen=True)
class FCRLTerms:
    """Batch means of FCRL's data terms: the conditional task CE (nats), its correct count, the NCE bound (nats)."""

    task_ce: torch.Tensor
    task_correct: torch.Tensor
    nce: torch.Tensor


class FCRLObjective(nn.Module):
    """FCRL's two estimators besides the KL: the predictor q(y | z, c) and the contrastive critic.

    The predictor is an MLP on z and one-hot codes of every sensitive attribute (privib's
    :class:`~privib.models.decoder.ConditionalDecoder` with the class logits as output); with several
    attributes, c is their joint code.

    Args:
        input_dim: width of x.
        z_dim: width of z.
        n_target_classes: classes of y.
        n_sensitive_classes: classes of each sensitive attribute.
        predictor_widths: hidden layer widths of q(y | z, c) (the authors: one layer of 50).
        critic_widths: hidden layer widths of the critic's f_x (the authors: one layer of 50).
        activation: hidden activation of both.
    """

    def __init__(self, input_dim: int, z_dim: int, n_target_classes: int, n_sensitive_classes: Sequence[int],
                 predictor_widths: Sequence[int] = (50,), critic_widths: Sequence[int] = (50,),
                 activation: str = "relu") -> None:
        super().__init__()
        self.n_sensitive_classes = [int(n) for n in n_sensitive_classes]
        self.predictor = ConditionalDecoder(z_dim, self.n_sensitive_classes, n_target_classes, predictor_widths,
                                            activation)
        self.critic = ContrastiveCritic(input_dim, z_dim, math.prod(self.n_sensitive_classes), critic_widths,
                                        activation)

    def forward(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor, s: torch.Tensor) -> FCRLTerms:
        """The terms on a batch: ``x`` features, ``z`` a sample of q(z|x), ``y`` labels, ``s`` class codes ``(batch, attrs)``."""
        logits = self.predictor(z, s)
        nce = self.critic(x, z, group_index(s, self.n_sensitive_classes))
        return FCRLTerms(F.cross_entropy(logits, y), (logits.argmax(-1) == y).sum(), nce.mean())
