"""Downstream task probes: how much task information frozen representations keep.

Fresh classifiers (same spec format as the attackers) are fitted on train-split
representations to predict the task label and scored on the test split. Keys are
returned without the ``task/probe/`` prefix; the stage adds it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator

from privib.evaluation import metrics
from privib.evaluation.attackers import (
    EstimatorSpec,
    as_feature_matrix,
    default_probes,
    fit_predict_proba,
    resolve_estimators,
)

__all__ = ["probe"]


def probe(
    z_train: ArrayLike,
    y_train: ArrayLike,
    z_test: ArrayLike,
    y_test: ArrayLike,
    probes: Sequence[EstimatorSpec] | Mapping[str, BaseEstimator] | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
    threads_per_job: int | None = 1,
) -> dict[str, float]:
    """Fit each probe on (z_train, y_train); return ``<probe>/acc`` on the test split and ``acc_max``.

    ``probes`` is a list of specs, a mapping of unfitted estimators, or None for
    :func:`privib.evaluation.attackers.default_probes` (logistic regression, MLP,
    gradient boosting).
    """
    ztr, zte = as_feature_matrix(z_train, "z_train"), as_feature_matrix(z_test, "z_test")
    ytr, yte = np.asarray(y_train).ravel(), np.asarray(y_test).ravel()
    if ztr.shape[0] != ytr.shape[0] or zte.shape[0] != yte.shape[0]:
        raise ValueError("z and y must have the same number of rows in each split")
    estimators = resolve_estimators(
        default_probes(random_state) if probes is None else probes, random_state
    )
    out: dict[str, float] = {}
    fitted = fit_predict_proba(estimators, ztr, ytr, zte, n_jobs=n_jobs, threads_per_job=threads_per_job)
    for name, (est, proba) in fitted.items():
        out[f"{name}/acc"] = metrics.accuracy(yte, metrics.predict_from_proba(proba, est.classes_))
    out["acc_max"] = max(out.values())
    return out
