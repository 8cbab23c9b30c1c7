"""The literature's downstream protocol: FARE's classifier, one fit per seed, means of accuracy and gaps."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from privib.evaluation.downstream import DEFAULT_SPEC, default_downstream, downstream_estimators, downstream_figures


def test_the_default_is_fares_one_hidden_layer_of_fifty_standardized():
    estimators = downstream_estimators(default_downstream(), 5, 10)
    assert len(estimators) == 5 and all(isinstance(e, Pipeline) for e in estimators)
    mlp = estimators[0][-1]
    assert isinstance(mlp, MLPClassifier) and tuple(mlp.hidden_layer_sizes) == (50,)
    assert (mlp.max_iter, mlp.n_iter_no_change, mlp.early_stopping) == (1000, 10, False)
    assert [e[-1].random_state for e in estimators] == [10, 11, 12, 13, 14]
    assert default_downstream() == DEFAULT_SPEC and default_downstream() is not DEFAULT_SPEC


def _reference_gaps(y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Independent: fairlearn's definitions written with pandas (selection rate; TPR and FPR gaps)."""
    frame = pd.DataFrame({"y": y, "p": pred, "g": groups})
    rates = frame.groupby("g")["p"].mean()
    by_label = [frame[frame.y == v].groupby("g")["p"].mean() for v in (0, 1)]
    return float(rates.max() - rates.min()), float(max(r.max() - r.min() for r in by_label))


def test_figures_are_means_over_seeds_of_fairlearns_gaps():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    groups = {"age": rng.integers(0, 9, 2000), "old": rng.integers(0, 2, 2000)}
    predictions = [np.where(rng.random(2000) < 0.8 + 0.02 * k, y, 1 - y) for k in range(5)]
    fitted = [(SimpleNamespace(classes_=np.array([0, 1])), np.eye(2)[p]) for p in predictions]
    out = downstream_figures(y, fitted, groups)
    accs = [np.mean(p == y) for p in predictions]
    assert out["acc"] == pytest.approx(np.mean(accs)) and out["acc_std"] == pytest.approx(np.std(accs, ddof=1))
    for attribute, g in groups.items():
        gaps = np.array([_reference_gaps(y, p, g) for p in predictions])
        assert out[f"{attribute}/dp_gap"] == pytest.approx(gaps[:, 0].mean())
        assert out[f"{attribute}/dp_gap_std"] == pytest.approx(gaps[:, 0].std(ddof=1))
        assert out[f"{attribute}/eo_gap"] == pytest.approx(gaps[:, 1].mean())


def test_a_multiclass_task_gets_accuracy_only():
    y = np.array([0, 1, 2, 2])
    fitted = [(SimpleNamespace(classes_=np.array([0, 1, 2])), np.eye(3)[[0, 1, 2, 0]])]
    assert downstream_figures(y, fitted, {"g": np.array([0, 0, 1, 1])}) == {"acc": 0.75, "acc_std": 0.0}
