"""The literature's downstream protocol: one small MLP, several seeds, on frozen codes.

FARE, FNF and FCRL report a representation's (accuracy, demographic-parity gap) through a
one-hidden-layer MLP (50 units, standardized inputs) trained five times with different seeds on
the frozen train-split codes and scored on the test split; the published figures are the means
over the seeds. :data:`DEFAULT_SPEC` is that classifier with FARE's settings (scikit-learn's
``MLPClassifier`` model: Adam, batches of 200, at most 1000 epochs, stopping after 10 without
improvement of the training loss), trained by privib's :class:`~privib.evaluation.torch_mlp.TorchMLPClassifier`
with ``early_stopping: false`` (FARE's stopping rule): the pool trains the five seeds as one batched model,
about half the time of scikit-learn's, with the same accuracy and DP gaps within the seeds' spread
(docs/performance.md). It is a spec like the attackers', so any classifier can take its place
(``class_path: sklearn.neural_network.MLPClassifier`` for scikit-learn's own). DP gap: fairlearn's
``demographic_parity_difference`` (max minus min over the groups of P(yhat = 1 | group), so any number
of groups); EO gap: ``equalized_odds_difference``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from privib.evaluation import metrics as M
from privib.evaluation.attackers import EstimatorSpec, build_estimator

__all__ = ["DEFAULT_SPEC", "default_downstream", "downstream_estimators", "downstream_figures"]

DEFAULT_SPEC: dict[str, Any] = {
    "name": "mlp_50",
    "class_path": "privib.evaluation.torch_mlp.TorchMLPClassifier",
    "init_args": {"hidden_layer_sizes": [50], "max_iter": 1000, "n_iter_no_change": 10, "early_stopping": False},
    "standardize": True,
}


def default_downstream() -> dict[str, Any]:
    """A fresh copy of :data:`DEFAULT_SPEC`."""
    return {**DEFAULT_SPEC, "init_args": dict(DEFAULT_SPEC["init_args"])}


def downstream_estimators(spec: EstimatorSpec, seeds: int, seed: int, trusted: Sequence[str] = ()) -> list[BaseEstimator]:
    """One unfitted classifier per seed: ``spec`` with every ``random_state`` left null set to ``seed + i``."""
    return [build_estimator(spec, seed + i, trusted)[1] for i in range(seeds)]


def downstream_figures(
    y_test: NDArray, fitted: Sequence[tuple[BaseEstimator, NDArray]], sensitive: Mapping[str, NDArray]
) -> dict[str, float]:
    """``acc``, ``acc_std`` and, for a binary task, ``<attr>/{dp_gap,dp_gap_std,eo_gap}``: means (and sample
    standard deviations) over the seeds' test predictions; keys without the ``downstream/`` prefix."""
    predictions = [M.predict_from_proba(proba, est.classes_) for est, proba in fitted]
    accs = np.array([M.accuracy(y_test, p) for p in predictions])
    out = {"acc": float(accs.mean()), "acc_std": _std(accs)}
    if not np.isin(y_test, (0, 1)).all() or not all(np.array_equal(est.classes_, [0, 1]) for est, _ in fitted):
        return out  # the gaps are defined for binary tasks (codes 0 / 1)
    for attribute, groups in sensitive.items():
        dp = np.array([M.dp_gap(None, p, sensitive_features=groups) for p in predictions])
        eo = np.array([M.eo_gap(y_test, p, sensitive_features=groups) for p in predictions])
        out.update({f"{attribute}/dp_gap": float(dp.mean()), f"{attribute}/dp_gap_std": _std(dp),
                    f"{attribute}/eo_gap": float(eo.mean())})
    return out


def _std(values: NDArray) -> float:
    return float(values.std(ddof=1)) if values.size > 1 else 0.0
