"""Dependence penalties: near zero for independent s, large for dependent s, kernels invariant to rescaling z."""
from __future__ import annotations

import pytest
import torch

from privib.models.dependence import PENALTIES, tv_penalty

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
