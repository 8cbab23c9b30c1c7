"""GradientLFR: fairlearn's objective (checked against fairlearn's own), its exact gradient, and its fairness term at work."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from fairlearn.metrics import demographic_parity_difference
from fairlearn.preprocessing import PrototypeRepresentationLearner
from scipy.optimize import approx_fprime

from privib.baselines.lfr import GradientLFR, lfr_objective, lfr_release


def test_the_objective_and_its_gradient_are_fairlearns() -> None:
    rng = np.random.default_rng(0)
    x, s = rng.standard_normal((200, 4)), rng.integers(0, 3, 200)
    y = (x[:, 0] > 0).astype(int)
    reference = PrototypeRepresentationLearner(n_prototypes=3, reconstruct_weight=0.5, target_weight=2.0,
                                               fairness_weight=3.0, max_iter=2, random_state=0).fit(x, y, sensitive_features=s)
    groups = [torch.as_tensor(s == g) for g in range(3)]
    for _ in range(3):
        theta = rng.random(3 * 4 + 3 + 4)
        expected = reference._objective(theta, x, y, pd.Series(s))
        params = torch.as_tensor(theta).requires_grad_(True)
        value = lfr_objective(params, torch.as_tensor(x), torch.as_tensor(y, dtype=torch.float64), groups, 3, (0.5, 2.0, 3.0))
        value.backward()
        assert float(value.detach()) == pytest.approx(expected, rel=1e-12)
        numeric = approx_fprime(theta, lambda t: reference._objective(t, x, y, pd.Series(s)), 1e-7)
        np.testing.assert_allclose(params.grad.numpy(), numeric, atol=2e-5)


def test_the_fairness_weight_closes_the_gap_of_the_prototype_labels(leaky) -> None:
    gaps, accs = {}, {}
    for weight in (0.0, 20.0):
        release = lfr_release(leaky, n_prototypes=4, fairness_weight=weight, max_iter=150, seed=0)
        pred = release.head["test"].argmax(axis=1)
        gaps[weight] = float(demographic_parity_difference(pred, pred, sensitive_features=leaky.s["test"][:, 0]))
        accs[weight] = float(np.mean(pred == leaky.y["test"]))
    assert gaps[0.0] > 0.4 and gaps[20.0] < gaps[0.0] - 0.2, gaps
    assert accs[0.0] > 0.85, accs


def test_it_is_fairlearns_estimator() -> None:
    assert issubclass(GradientLFR, PrototypeRepresentationLearner)
