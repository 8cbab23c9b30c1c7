"""The Pareto math of privib compare: the front, the best accuracy under a leakage threshold, the dominated area."""
from __future__ import annotations

import numpy as np
import pytest

from privib.compare.pareto import best_accuracy_at, dominated_area, pareto_front


def test_pareto_front_keeps_non_dominated_points_sorted_by_leakage():
    leak = [0.9, 0.6, 0.7, 0.6, float("nan"), 0.95]
    acc = [0.86, 0.80, 0.79, 0.78, 0.99, 0.85]
    # 0.7/0.79 is dominated by 0.6/0.80; 0.6/0.78 by 0.6/0.80; 0.95/0.85 by 0.9/0.86; NaN never on the front.
    assert pareto_front(leak, acc) == [1, 0]
    assert pareto_front([], []) == []


def test_best_accuracy_at_threshold():
    leak, acc = [0.9, 0.6, 0.54, 0.7], [0.86, 0.80, 0.75, 0.83]
    assert best_accuracy_at(leak, acc, 0.55) == 2
    assert best_accuracy_at(leak, acc, 0.60) == 1
    assert best_accuracy_at(leak, acc, 0.70) == 3
    assert best_accuracy_at(leak, acc, 0.5) is None


def test_dominated_area_matches_a_brute_force_reference():
    assert dominated_area([0.6], [0.8]) == pytest.approx((1.0 - 0.6) * (0.8 - 0.5))
    assert dominated_area([0.4], [1.0]) == pytest.approx(0.25)  # AUC below chance counts as 0.5: the maximum
    assert dominated_area([], []) == 0.0
    rng = np.random.default_rng(1)
    leak, acc = rng.uniform(0.45, 1.0, 12), rng.uniform(0.4, 0.95, 12)
    grid_a, grid_u = np.meshgrid(np.linspace(0.5, 1.0, 1001), np.linspace(0.5, 1.0, 1001))
    covered = np.zeros_like(grid_a, dtype=bool)
    for a, u in zip(np.maximum(leak, 0.5), acc):
        covered |= (grid_a >= a) & (grid_u <= u)
    assert dominated_area(leak, acc) == pytest.approx(covered.mean() * 0.25, abs=2e-3)
