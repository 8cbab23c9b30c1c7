"""Transfer figures: how well fresh probes predict held-out targets from frozen codes.

A held-out target (``data.transfer``, see :mod:`privib.data.transfer`) was never an input of
the encoder; fresh probes (the task-probe family: logistic regression, MLP, gradient boosting)
are fitted on the frozen train-split codes to predict it and scored on the test split. What a
representation offers beyond a released task prediction shows here: a 1-bit prediction serves
the trained task, not these. Rows whose label is missing (code -1) are left out of the task.

Per task (keys without the ``transfer/`` prefix): ``<task>/<probe>/acc``, ``<task>/acc`` (the best
probe), ``<task>/base`` (always guessing the training split's majority class), ``<task>/dp_gap``
(demographic-parity gap of the best probe's test predictions, the maximum over sensitive
attributes, with ``<task>/dp_gap/<attr>`` when there are several); ``mean/...`` averages each
figure over the tasks.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privib.evaluation import metrics as M

__all__ = ["class_dp_gap", "task_figures", "mean_over_tasks", "labelled_rows"]


def labelled_rows(labels: NDArray) -> NDArray:
    """Boolean mask of the rows whose transfer label is known (code >= 0)."""
    return np.asarray(labels) >= 0


def class_dp_gap(y_pred: NDArray, *, sensitive_features: NDArray) -> float:
    """Demographic-parity gap of predictions of any number of classes: the largest, over the predicted
    classes c, of max minus min over groups of P(yhat = c | group); for two classes, fairlearn's."""
    pred = np.asarray(y_pred)
    classes = np.unique(pred)
    if len(classes) < 2:
        return 0.0
    return max(M.dp_gap(None, (pred == c).astype(np.int64), sensitive_features=sensitive_features) for c in classes)


def task_figures(
    fitted: Mapping[str, tuple[Any, NDArray]], y_train: NDArray, y_test: NDArray, sensitive: Mapping[str, NDArray]
) -> dict[str, float]:
    """One task's figures from ``{probe: (fitted estimator, test probabilities)}`` (keys without ``<task>/``).

    ``y_train`` / ``y_test`` are the task's labels on the rows the probes were fitted and scored on;
    ``sensitive`` maps each attribute to its codes on those test rows.
    """
    out: dict[str, float] = {}
    predictions = {}
    for name, (est, proba) in fitted.items():
        predictions[name] = M.predict_from_proba(proba, est.classes_)
        out[f"{name}/acc"] = M.accuracy(y_test, predictions[name])
    best = max(predictions, key=lambda name: out[f"{name}/acc"])
    out["acc"] = out[f"{best}/acc"]
    out["base"] = M.majority_accuracy(y_test, y_train)
    gaps = {a: class_dp_gap(predictions[best], sensitive_features=groups) for a, groups in sensitive.items()}
    out["dp_gap"] = max(gaps.values()) if gaps else float("nan")
    if len(gaps) > 1:
        out.update({f"dp_gap/{a}": v for a, v in gaps.items()})
    return out


def mean_over_tasks(per_task: Mapping[str, Mapping[str, float]], figures: tuple[str, ...] = ("acc", "base", "dp_gap")
                    ) -> dict[str, float]:
    """``mean/<figure>``: each figure averaged over the tasks that have it."""
    out = {}
    for figure in figures:
        values = [float(f[figure]) for f in per_task.values() if figure in f]
        if values:
            out[f"mean/{figure}"] = float(np.mean(values))
    return out
