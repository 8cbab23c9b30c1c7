"""Non-adversarial dependence penalties between a representation z and a discrete attribute s.

Unlike an adversary, these need no game to be won: each is a closed-form, differentiable
estimate of dependence on a batch. Kernels use the median pairwise distance of the batch
(detached) as bandwidth, so the encoder cannot lower a penalty by merely rescaling z.
:func:`mixture_penalty` is the audit's encoder holder on a batch: it reads s from a sampled z
through the encoder's own Gaussians, so it needs no bandwidth and rescaling z does not change it.
"""
from __future__ import annotations

import math

import torch

BANDWIDTH_FACTORS = (0.5, 1.0, 2.0)


def _rbf_kernel(z: torch.Tensor, factors: tuple[float, ...] = BANDWIDTH_FACTORS) -> torch.Tensor:
    """Mean of RBF kernels at ``factors`` times the batch's median pairwise distance."""
    squared = torch.cdist(z, z).pow(2)
    median = squared.detach()[~torch.eye(len(z), dtype=torch.bool, device=z.device)].median().clamp_min(1e-8)
    return torch.stack([torch.exp(-squared / (2 * f * f * median)) for f in factors]).mean(dim=0)


def mmd_penalty(z: torch.Tensor, s: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Prior-weighted sum over classes c of MMD^2(z | s=c, z): zero iff every group's codes match the pool's.

    A biased V-statistic on the batch; classes with fewer than two rows in the batch are skipped.
    """
    kernel = _rbf_kernel(z)
    pooled = kernel.mean()
    total = z.new_zeros(())
    for c in range(n_classes):
        member = s == c
        count = int(member.sum())
        if count < 2:
            continue
        within = kernel[member][:, member].mean()
        across = kernel[member].mean()
        total = total + (count / len(z)) * (within - 2 * across + pooled)
    return total


def hsic_penalty(z: torch.Tensor, s: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Normalized HSIC between z (RBF kernel) and one-hot s (linear kernel), in [0, 1]; zero iff independent."""
    k = _rbf_kernel(z)
    one_hot = torch.nn.functional.one_hot(s, n_classes).to(z.dtype)
    kc = _double_center(k)
    lc = _double_center(one_hot @ one_hot.T)
    hsic = (kc * lc).sum()
    return hsic / ((kc * kc).sum().sqrt() * (lc * lc).sum().sqrt()).clamp_min(1e-12)


def _double_center(matrix: torch.Tensor) -> torch.Tensor:
    """H M H with H = I - 11^T/n, in O(n^2) rather than two n x n products."""
    return matrix - matrix.mean(dim=0, keepdim=True) - matrix.mean(dim=1, keepdim=True) + matrix.mean()


def tv_penalty(z: torch.Tensor, s: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Prior-weighted sum over classes c of TV(mean z | s=c, mean z)^2: for one-hot cells (``release cells``)
    the squared total variation between each group's cell frequencies and the pool's; zero iff they match.

    With straight-through cells its value is exactly that of the released code on the batch, and its
    gradient reaches the encoder through the cells' softmax; the square makes the push vanish smoothly
    as the groups meet, where the plain TV collapsed the code to one cell on Health.
    """
    pooled = z.mean(dim=0)
    total = z.new_zeros(())
    for c in range(n_classes):
        member = s == c
        count = int(member.sum())
        if count:
            total = total + (count / len(z)) * (0.5 * (z[member].mean(dim=0) - pooled).abs().sum()).pow(2)
    return total


def mixture_penalty(z: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor, s: torch.Tensor,
                    n_classes: int) -> torch.Tensor:
    """How far apart the encoder holder's posteriors of s are between the groups, on a batch of samples.

    ``z ~ N(mean, scale^2)`` row by row. Row i's posterior of class c is the share of the batch's *other*
    rows' Gaussians, weighted by their density at z_i, that belong to c (the mixture posterior of
    :class:`~privib.evaluation.encoder_attack.MixturePosteriorAttacker`, with the batch as its auxiliary
    set and row i left out). Per class c, the gap is the mean posterior of c over the rows of c minus that
    over the other rows; the penalty is the prior-weighted sum of the squared gaps: 0 when the holder's
    posterior means do not depend on s, at most 1. Bounded where the holder's log-loss is not (a posterior
    this peaked is often 0 for the true class), and its push vanishes smoothly as the groups meet, as
    :func:`tv_penalty`'s does. Classes with no row or all rows in the batch are skipped.

    Its known evasion: scales shrunk until each sample's posterior is a vote of its nearest other rows, with the
    groups interleaved at that scale while they stay apart at a coarser one (a strong reconstruction term led
    there; docs/results.md, "The encoder holder as a penalty"). The audit's battery still reads s then.
    """
    n = z.shape[0]
    weights = _log_densities(z, mean, scale).masked_fill(torch.eye(n, dtype=torch.bool, device=z.device), -math.inf)
    weights = weights.softmax(1)  # each row's posterior over the other rows' Gaussians
    posterior = weights @ torch.nn.functional.one_hot(s, n_classes).to(z.dtype)  # (row, class)
    total = z.new_zeros(())
    for c in range(n_classes):
        member = s == c
        count = int(member.sum())
        if 0 < count < n:
            gap = posterior[member, c].mean() - posterior[~member, c].mean()
            total = total + (count / n) * gap.square()
    return total


def _log_densities(z: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """log N(z_i; mean_j, diag(scale_j^2)) for every pair (i, j), up to a constant.

    One (n, 2d) x (2d, n) product of the expanded square instead of an (n, n, d) tensor (what the encoder
    holder computes too); codes and means centred on the means' average first, so less cancels.
    """
    center = mean.detach().mean(0)
    z, mean, precision = z - center, mean - center, scale.pow(-2)
    weights = torch.cat([-0.5 * precision, mean * precision], 1)
    offset = -0.5 * (mean.square() * precision).sum(1) + 0.5 * precision.log().sum(1)
    return torch.cat([z.square(), z], 1) @ weights.T + offset


PENALTIES = {"mmd": mmd_penalty, "hsic": hsic_penalty, "tv": tv_penalty}
"""The penalties of a code and an attribute alone; ``mixture`` (it needs the sample's Gaussians too) is called apart."""
