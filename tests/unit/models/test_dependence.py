"""Dependence penalties: near zero for independent s, large for dependent s, kernels invariant to rescaling z."""
from __future__ import annotations

import pytest
import torch

from privib.models.dependence import PENALTIES, mixture_penalty, tv_penalty

KERNELS = sorted(set(PENALTIES) - {"tv"})  # tv is for one-hot cells, whose scale is fixed


@pytest.mark.parametrize("name", KERNELS)
def test_penalty_separates_independent_from_dependent(name):
    torch.manual_seed(0)
    penalty = PENALTIES[name]
    z = torch.randn(400, 4)
    independent = torch.randint(0, 3, (400,))
    dependent = (z[:, 0] > 0.5).long() + (z[:, 1] > 0).long()
    low = penalty(z, independent, 3).item()
    high = penalty(z, dependent, 3).item()
    assert high > 10 * low
    assert penalty(z * 100, dependent, 3).item() == pytest.approx(high, rel=1e-3)


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_penalty_gradient_moves_groups_together(name):
    torch.manual_seed(1)
    s = torch.randint(0, 2, (256,))
    z = (torch.randn(256, 2) + 2.0 * s[:, None]).requires_grad_(True)
    penalty = PENALTIES[name]
    before = penalty(z, s, 2)
    before.backward()
    with torch.no_grad():
        moved = z - 0.5 * z.grad / z.grad.norm() * z.norm()
    assert penalty(moved, s, 2).item() < before.item()


def test_tv_penalty_is_the_squared_total_variation_of_the_cells():
    torch.manual_seed(2)
    cells = torch.randint(0, 4, (1000,))
    s = (torch.rand(1000) < torch.tensor([0.2, 0.4, 0.6, 0.8])[cells]).long()
    code = torch.nn.functional.one_hot(cells, 4).float()
    f0, f1 = code[s == 0].mean(dim=0), code[s == 1].mean(dim=0)
    p0 = float((s == 0).float().mean())
    tv = 0.5 * float((f0 - f1).abs().sum())
    assert tv_penalty(code, s, 2).item() == pytest.approx(p0 * (1 - p0) * tv**2, rel=1e-5)
    assert tv_penalty(code, torch.randint(0, 2, (1000,)), 2).item() < 0.02 * tv_penalty(code, s, 2).item()


def _gaussian_batch(shift: float, n: int = 400, seed: int = 3) -> tuple[torch.Tensor, ...]:
    """Means with class 1 moved by ``shift`` along one axis, unit-half scales, one sample per row."""
    g = torch.Generator().manual_seed(seed)
    s = (torch.rand(n, generator=g) < 0.33).long()
    mean = torch.randn(n, 4, generator=g)
    mean[:, 0] += shift * s
    scale = torch.full((n, 4), 0.5)
    return mean + scale * torch.randn(n, 4, generator=g), mean, scale, s


def test_the_mixture_penalty_is_the_squared_gap_of_the_leave_one_out_posteriors():
    z = torch.tensor([[0.0], [0.3], [2.0], [2.4]])
    mean = torch.tensor([[0.1], [0.2], [1.9], [2.5]])
    scale = torch.tensor([[0.5], [1.0], [0.5], [2.0]])
    s = torch.tensor([0, 1, 1, 0])
    density = torch.exp(-0.5 * ((z - mean.T) / scale.T) ** 2) / scale.T  # row i, Gaussian j
    density.fill_diagonal_(0.0)
    p1 = (density * (s == 1)).sum(1) / density.sum(1)
    gap = float(p1[s == 1].mean() - p1[s == 0].mean())
    assert mixture_penalty(z, mean, scale, s, 2).item() == pytest.approx(gap**2, rel=1e-5)  # two classes: one gap, priors sum to 1


def test_the_mixture_penalty_separates_independent_from_dependent_and_ignores_the_scale_of_z():
    low = mixture_penalty(*_gaussian_batch(0.0), 2).item()
    z, mean, scale, s = _gaussian_batch(2.0)
    high = mixture_penalty(z, mean, scale, s, 2).item()
    assert high > 0.05 and high > 20 * low
    assert mixture_penalty(100 * z, 100 * mean, 100 * scale, s, 2).item() == pytest.approx(high, rel=1e-4)
    assert mixture_penalty(z, mean, scale, torch.zeros_like(s), 2).item() == 0.0  # one class: nothing to read


def test_the_mixture_penalty_gradient_moves_the_groups_together():
    z, mean, scale, s = _gaussian_batch(2.0)
    mean = mean.requires_grad_(True)
    noise = (z - mean.detach()) / scale
    before = mixture_penalty(mean + scale * noise, mean, scale, s, 2)
    before.backward()
    with torch.no_grad():
        moved = mean - 0.5 * mean.grad / mean.grad.norm() * mean.norm()
        assert mixture_penalty(moved + scale * noise, moved, scale, s, 2).item() < before.item()
