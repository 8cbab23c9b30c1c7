"""The literature's downstream protocol: FARE's classifier, one fit per seed, means of accuracy and gaps."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from privib.evaluation.attackers import FitPool
from privib.evaluation.downstream import DEFAULT_SPEC, default_downstream, downstream_estimators, downstream_figures
from privib.evaluation.torch_mlp import TorchMLPClassifier


def test_the_default_is_fares_one_hidden_layer_of_fifty_standardized():
    estimators = downstream_estimators(default_downstream(), 5, 10)
    assert len(estimators) == 5 and all(isinstance(e, Pipeline) for e in estimators)
    mlp = estimators[0][-1]
    assert isinstance(mlp, TorchMLPClassifier) and tuple(mlp.hidden_layer_sizes) == (50,)
    assert (mlp.max_iter, mlp.n_iter_no_change, mlp.early_stopping, mlp.batch_size) == (1000, 10, False, "auto")
    assert [e[-1].random_state for e in estimators] == [10, 11, 12, 13, 14]
    assert default_downstream() == DEFAULT_SPEC and default_downstream() is not DEFAULT_SPEC


@pytest.mark.slow
def test_the_default_protocol_reads_a_representation_as_scikit_learns_mlp_does():
    """Accuracy and DP gap of three batched torch fits against three of scikit-learn's MLPClassifier (FARE's
    settings) on a task whose best predictor depends on the group: the same figures within the seeds' spread."""
    rng = np.random.default_rng(3)
    n, group = 3000, rng.integers(0, 2, 3000)
    x = np.column_stack([rng.normal(size=(n, 6)), group + rng.normal(scale=0.5, size=n)])
    logit = 8 * (x[:, 0] - 0.8 * x[:, 1] * x[:, 2] + 1.5 * group - 0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    train, test = slice(0, 2250), slice(2250, n)
    pool = FitPool(1)
    torch_jobs = [pool.submit(e, x[train], y[train], x[test]) for e in downstream_estimators(default_downstream(), 3, 0)]
    sklearn_spec = {**default_downstream(), "class_path": "sklearn.neural_network.MLPClassifier",
                    "init_args": {"hidden_layer_sizes": [50], "max_iter": 1000, "n_iter_no_change": 10}}
    sklearn_jobs = [pool.submit(e, x[train], y[train], x[test]) for e in downstream_estimators(sklearn_spec, 3, 0)]
    ours = downstream_figures(y[test], [j.result()[:2] for j in torch_jobs], {"g": group[test]})
    theirs = downstream_figures(y[test], [j.result()[:2] for j in sklearn_jobs], {"g": group[test]})
    assert isinstance(sklearn_jobs[0].result()[0][-1], MLPClassifier)
    assert abs(ours["acc"] - theirs["acc"]) < 0.01
    assert theirs["g/dp_gap"] > 0.2  # the group shifts the task: a real gap to reproduce
    assert abs(ours["g/dp_gap"] - theirs["g/dp_gap"]) < 0.03


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
