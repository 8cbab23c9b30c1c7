"""Prediction releases: a plain classifier's prediction, and fairlearn's ExponentiatedGradient under demographic parity.

Releasing the task prediction serves the trained task at the least leakage any release can have for
that accuracy: on the trained task, these points trace the frontier a representation is measured
against. The transfer tasks show what a prediction cannot do.
"""
from __future__ import annotations

import time
import warnings
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

from privib.baselines.release import SPLITS, BaselineData, BaselineRelease, one_hot

__all__ = ["classifier", "predict_release", "fair_predict_release"]

class Weighted(NamedTuple):
    """A classifier and the name under which its ``fit`` takes sample weights (ExponentiatedGradient reweights rows)."""

    estimator: BaseEstimator
    sample_weight_name: str


def classifier(kind: str, seed: int) -> Weighted:
    """An unfitted task classifier: ``lr`` (standardized logistic regression) or ``gbm`` (histogram boosting)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "lr":
        return Weighted(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed)),
                        "logisticregression__sample_weight")
    return Weighted(HistGradientBoostingClassifier(random_state=seed), "sample_weight")


def _probabilities(fitted: Any, x: NDArray, n_classes: int) -> NDArray:
    """Class probabilities in ``n_classes`` columns (a class absent from training gets probability 0)."""
    proba = np.zeros((len(x), n_classes), dtype=np.float32)
    proba[:, np.asarray(fitted.classes_, dtype=np.int64)] = fitted.predict_proba(x)
    return proba


def _code(proba: NDArray, output: str) -> NDArray:
    """The released code of class probabilities: the class (one column for two classes, else one-hot) or the score."""
    if output == "bit":
        classes = proba.argmax(axis=1)
        return classes[:, None].astype(np.float32) if proba.shape[1] == 2 else one_hot(classes, proba.shape[1])
    return (proba[:, 1:] if proba.shape[1] == 2 else proba).astype(np.float32)


def predict_release(data: BaselineData, kind: str = "lr", output: str = "bit", seed: int = 0) -> BaselineRelease:
    """The prediction of a ``kind`` classifier fitted on the training split: its class (``bit``) or its probability (``score``).

    The head is what the release alone tells about the task: the released class itself, or the score.
    """
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        fitted = classifier(kind, seed).estimator.fit(data.x["train"], data.y["train"])
        proba = {split: _probabilities(fitted, data.x[split], data.n_classes) for split in SPLITS}
    codes = {split: _code(p, output) for split, p in proba.items()}
    head = {split: (one_hot(p.argmax(axis=1), data.n_classes) if output == "bit" else p) for split, p in proba.items()
            if split != "train"}
    return BaselineRelease(codes=codes, head=head,
                           info={"fit_s": time.perf_counter() - started,
                                 "train_acc": float(np.mean(proba["train"].argmax(axis=1) == data.y["train"]))})


def fair_predict_release(data: BaselineData, eps: float = 0.01, kind: str = "lr", max_iter: int = 50,
                         seed: int = 0, dp_bound: float = 0.01) -> BaselineRelease:
    """The 1-bit prediction of fairlearn's ExponentiatedGradient under DemographicParity.

    ``dp_bound`` is the demographic-parity difference the constraint allows (fairlearn's default 0.01): the knob of the
    frontier. ``eps`` is ExponentiatedGradient's multiplier bound (1 / eps); since fairlearn 0.5 it no longer
    loosens the constraint: eps 0.01, 0.02 and 0.05 gave the same release on Adult and Health.

    The sensitive groups are the intersection of the run's sensitive attributes. The fitted model is a
    mixture of classifiers whose prediction is randomized: each split's bits are drawn once, seeded.
    """
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient

    data.require_binary("fair_predict")
    started = time.perf_counter()
    base = classifier(kind, seed)
    model = ExponentiatedGradient(base.estimator, constraints=DemographicParity(difference_bound=float(dp_bound)), eps=float(eps), max_iter=int(max_iter),
                                  sample_weight_name=base.sample_weight_name)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"fairlearn\.")  # pandas deprecations inside fairlearn's reductions
        model.fit(data.x["train"], data.y["train"], sensitive_features=data.groups("train"))
        bits = {split: np.asarray(model.predict(data.x[split], random_state=seed + i), dtype=np.int64)
                for i, split in enumerate(SPLITS)}
    return BaselineRelease(
        codes={split: b[:, None].astype(np.float32) for split, b in bits.items()},
        head={split: one_hot(bits[split], 2) for split in ("val", "test")},
        info={"fit_s": time.perf_counter() - started, "iterations": float(len(model.predictors_)),
              "train_acc": float(np.mean(bits["train"] == data.y["train"]))},
    )
