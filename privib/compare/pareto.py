"""Pareto math on (leakage, accuracy) points: pure functions, NaN points never count.

Leakage is lower-is-better (an attacker's AUC, chance 0.5), accuracy higher-is-better.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["pareto_front", "best_accuracy_at", "dominated_area", "REFERENCE_AUC", "REFERENCE_ACC"]

REFERENCE_AUC = 1.0  # the dominated region is measured up to this leakage ...
REFERENCE_ACC = 0.5  # ... and down to this accuracy (see dominated_area)


def pareto_front(leakage: Sequence[float], accuracy: Sequence[float]) -> list[int]:
    """Indices of the non-dominated points (lower leakage, higher accuracy), sorted by leakage.

    A point is dominated when another has leakage <= and accuracy >= with one of them strict.
    NaN points are never on the front.
    """
    points = [(float(a), float(u), i) for i, (a, u) in enumerate(zip(leakage, accuracy))
              if not (math.isnan(float(a)) or math.isnan(float(u)))]
    points.sort(key=lambda p: (p[0], -p[1]))
    front: list[int] = []
    best = -math.inf
    for _, acc, index in points:
        if acc > best:
            front.append(index)
            best = acc
    return front


def best_accuracy_at(leakage: Sequence[float], accuracy: Sequence[float], threshold: float) -> int | None:
    """Index of the most accurate point whose leakage is at most ``threshold`` (None when none is)."""
    best: int | None = None
    for i, (leak, acc) in enumerate(zip(leakage, accuracy)):
        if math.isnan(float(leak)) or math.isnan(float(acc)) or float(leak) > threshold:
            continue
        if best is None or float(acc) > float(accuracy[best]):
            best = i
    return best


def dominated_area(leakage: Sequence[float], accuracy: Sequence[float], reference_auc: float = REFERENCE_AUC,
                   reference_acc: float = REFERENCE_ACC, best_leakage: float = 0.5) -> float:
    """Area of the region the points dominate inside [best_leakage, reference_auc] x [reference_acc, 1] (a hypervolume).

    Leakage below ``best_leakage`` (0.5: an attacker worse than chance; 0 for a DP gap) counts as it.
    The largest possible area, a point at (best_leakage, 1.0), is ``(reference_auc - best_leakage) *
    (1 - reference_acc)`` (0.25 by default).
    """
    points = sorted((max(best_leakage, float(a)), min(1.0, float(u))) for a, u in zip(leakage, accuracy)
                    if not (math.isnan(float(a)) or math.isnan(float(u))) and float(a) < reference_auc and float(u) > reference_acc)
    area, best = 0.0, reference_acc
    for i, (leak, acc) in enumerate(points):
        best = max(best, acc)
        right = points[i + 1][0] if i + 1 < len(points) else reference_auc
        area += (right - leak) * (best - reference_acc)
    return area


