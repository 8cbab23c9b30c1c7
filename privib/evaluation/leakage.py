"""Attribute leakage: how well fresh attackers recover a sensitive attribute from z.

Attackers never seen during training are fitted on frozen train-split representations
and scored on the test split. The headline is the maximum over attackers, because a
representation that fools one attacker (typically the linear one) may still leak to
another. Keys are returned without the ``leakage/<attr>/`` prefix; the stage adds it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from privib.errors import DataError
from privib.evaluation import metrics
from privib.evaluation.attackers import (
    EstimatorSpec,
    as_feature_matrix,
    default_attackers,
    fit_predict_proba,
    resolve_estimators,
)

__all__ = ["AttackResult", "attack", "attack_metrics", "check_attack_inputs", "fitted_auc_max"]


@dataclass
class AttackResult:
    """Outcome of :func:`attack`.

    ``metrics``: flat float keys (``<attacker>/acc|bacc|auc``, ``acc_max``, ``bacc_max``,
    ``auc_max``, ``auc_max_lo``, ``auc_max_hi``, ``majority``, ``n_classes``, ``mi_bits_lb``).
    ``fitted``: the fitted attackers by name, to score perturbed representations later.
    ``best``: name of the attacker with the highest test AUC (the one behind ``auc_max``).
    """

    metrics: dict[str, float]
    fitted: dict[str, BaseEstimator] = field(default_factory=dict)
    best: str = ""


def attack(
    z_train: ArrayLike,
    s_train: ArrayLike,
    z_test: ArrayLike,
    s_test: ArrayLike,
    attackers: Sequence[EstimatorSpec] | Mapping[str, BaseEstimator] | None = None,
    random_state: int = 0,
    n_boot: int = 200,
    n_jobs: int = 1,
    threads_per_job: int | None = 1,
) -> AttackResult:
    """Fit a fresh clone of every attacker on (z_train, s_train) and score it on the test split.

    ``attackers`` is a list of specs (see :mod:`privib.evaluation.attackers`), a mapping
    of unfitted estimators (cloned), or None for :func:`default_attackers`. Unset
    ``random_state`` parameters and the bootstrap use ``random_state``. ``auc_max_lo`` and
    ``auc_max_hi`` are the percentile-bootstrap 95% interval of the best attacker's AUC
    (``n_boot`` resamples of the test rows). ``majority`` is the test accuracy of the most
    frequent training label. ``mi_bits_lb`` is max(0, H(S) - smallest attacker
    cross-entropy), both in bits on the test split. Nothing is subsampled. ``n_jobs``
    fits attackers in parallel processes; ``threads_per_job`` caps BLAS/OpenMP threads
    per fit (see :func:`privib.evaluation.attackers.fit_predict_proba`).
    """
    ztr, str_, zte, ste = check_attack_inputs(z_train, s_train, z_test, s_test)
    estimators = resolve_estimators(
        default_attackers(random_state) if attackers is None else attackers, random_state
    )
    fitted_probas = fit_predict_proba(
        estimators, ztr, str_, zte, n_jobs=n_jobs, threads_per_job=threads_per_job
    )
    return attack_metrics(fitted_probas, str_, ste, n_boot=n_boot, random_state=random_state)


def check_attack_inputs(
    z_train: ArrayLike, s_train: ArrayLike, z_test: ArrayLike, s_test: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert the inputs of :func:`attack`: float64 features, 1-D labels."""
    ztr, zte = as_feature_matrix(z_train, "z_train"), as_feature_matrix(z_test, "z_test")
    str_, ste = np.asarray(s_train).ravel(), np.asarray(s_test).ravel()
    if ztr.shape[0] != str_.shape[0] or zte.shape[0] != ste.shape[0]:
        raise ValueError("z and s must have the same number of rows in each split")
    if ztr.shape[1] != zte.shape[1]:
        raise ValueError(f"z_train has {ztr.shape[1]} columns, z_test has {zte.shape[1]}")
    if np.unique(str_).size < 2:
        raise DataError(
            "the sensitive attribute takes a single value in the training split; leakage is undefined"
        )
    return ztr, str_, zte, ste


def attack_metrics(
    fitted_probas: Mapping[str, tuple[BaseEstimator, ArrayLike]],
    s_train: ArrayLike,
    s_test: ArrayLike,
    n_boot: int = 200,
    random_state: int = 0,
) -> AttackResult:
    """The :func:`attack` figures from attackers already fitted: ``{name: (estimator, test probabilities)}``.

    ``s_train`` gives the majority baseline, ``s_test`` is what the probabilities are scored
    against. :func:`attack` is this applied to freshly fitted attackers; the evaluation stage
    calls it directly when it fits the attackers itself (in parallel, with the probes).
    """
    str_, ste = np.asarray(s_train).ravel(), np.asarray(s_test).ravel()
    out: dict[str, float] = {}
    fitted: dict[str, BaseEstimator] = {}
    ces: list[float] = []
    for name, (est, proba) in fitted_probas.items():
        pred = metrics.predict_from_proba(proba, est.classes_)
        out[f"{name}/acc"] = metrics.accuracy(ste, pred)
        out[f"{name}/bacc"] = metrics.balanced_accuracy(ste, pred)
        out[f"{name}/auc"] = metrics.auc(ste, proba, est.classes_)
        ces.append(metrics.cross_entropy_bits(ste, proba, est.classes_))
        fitted[name] = est
    names = list(fitted)
    aucs = np.array([out[f"{n}/auc"] for n in names])
    best = names[int(np.nanargmax(aucs))] if not np.all(np.isnan(aucs)) else names[0]
    best_est, best_proba = fitted_probas[best]
    lo, hi = metrics.auc_bootstrap_interval(
        ste, best_proba, best_est.classes_, n_boot=n_boot, random_state=random_state
    )
    out.update(
        acc_max=max(out[f"{n}/acc"] for n in names),
        bacc_max=max(out[f"{n}/bacc"] for n in names),
        auc_max=out[f"{best}/auc"],
        auc_max_lo=lo,
        auc_max_hi=hi,
        majority=metrics.majority_accuracy(ste, str_),
        n_classes=float(len(np.unique(np.concatenate([str_, ste])))),  # the majority guess's balanced accuracy is 1 / n_classes
        mi_bits_lb=metrics.mi_lower_bound_bits(ces, ste),
    )
    return AttackResult(metrics=out, fitted=fitted, best=best)


def fitted_auc_max(fitted: Mapping[str, BaseEstimator], z: ArrayLike, s: ArrayLike) -> float:
    """Highest AUC of already-fitted attackers on new representations (no refitting).

    Used by the robustness stage: attackers trained on clean z score perturbed z.
    """
    if not fitted:
        raise ValueError("no fitted attackers given")
    zz, ss = as_feature_matrix(z, "z"), np.asarray(s).ravel()
    with threadpool_limits(limits=1):
        aucs = [metrics.auc(ss, est.predict_proba(zz), est.classes_) for est in fitted.values()]
    return float(np.nanmax(aucs)) if not np.all(np.isnan(aucs)) else float("nan")

