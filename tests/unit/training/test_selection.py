"""Held-out leakage on the validation split, and the score that chooses the checkpoint by it."""
from __future__ import annotations

import numpy as np


def test_holdout_leakage_sees_nonlinear_leakage_and_none_where_there_is_none():
    from privib.training.selection import holdout_leakage_auc, selection_score

    rng = np.random.default_rng(0)
    z = rng.normal(size=(2000, 4))
    independent = rng.integers(0, 2, size=(2000, 1))
    xor = ((z[:, :1] > 0) ^ (z[:, 1:2] > 0)).astype(int)
    assert holdout_leakage_auc(z, independent) < 0.56
    assert holdout_leakage_auc(z, np.hstack([independent, xor])) > 0.9
    assert selection_score(0.84, 0.58, 0.6) > selection_score(0.90, 0.61, 0.6) > selection_score(0.9, 0.7, 0.6)
