"""Non-adversarial dependence penalties between a representation z and a discrete attribute s.

Unlike an adversary, these need no game to be won: each is a closed-form, differentiable
estimate of dependence on a batch. Kernels use the median pairwise distance of the batch
(detached) as bandwidth, so the encoder cannot lower a penalty by merely rescaling z.
"""
from __future__ import annotations

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


PENALTIES = {"mmd": mmd_penalty, "hsic": hsic_penalty, "tv": tv_penalty}
