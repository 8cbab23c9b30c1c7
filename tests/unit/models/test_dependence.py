"""Dependence penalties: near zero for independent s, large for dependent s, invariant to rescaling z."""
from __future__ import annotations

import pytest
import torch

from privib.models.dependence import PENALTIES


@pytest.mark.parametrize("name", sorted(PENALTIES))
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
