"""Metric functions of the evaluation stage: arrays in, floats out.

Every function here is deterministic (the bootstrap takes a seed) and is checked in the
tests against an independent reference (scikit-learn, fairlearn, scipy). The AUC is
computed by one rank-based routine that also serves the vectorized bootstrap, so the
point estimate and its interval share one definition.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "accuracy",
    "balanced_accuracy",
    "auc",
    "auc_bootstrap_interval",
    "majority_accuracy",
    "entropy_bits",
    "cross_entropy_bits",
    "mi_lower_bound_bits",
    "dp_gap",
    "eo_gap",
    "fairness_gaps",
    "predict_from_proba",
]

_BOOT_CHUNK_CELLS = 2_000_000  # bootstrap replicates x rows held in memory at once


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of rows where the prediction equals the label (any number of classes)."""
    yt, yp = _pair(y_true, y_pred)
    return float(np.mean(yt == yp))


def balanced_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean recall over the classes present in ``y_true``.

    Unlike accuracy it is not inflated by predicting the majority class of an imbalanced
    attribute: a constant predictor scores 1/k.
    """
    yt, yp = _pair(y_true, y_pred)
    recalls = [np.mean(yp[yt == c] == c) for c in np.unique(yt)]
    return float(np.mean(recalls))


def predict_from_proba(proba: ArrayLike, classes: ArrayLike) -> NDArray:
    """Labels of the most probable column of ``proba`` (columns ordered as ``classes``)."""
    p = np.asarray(proba, dtype=float)
    cls = np.asarray(classes)
    if p.ndim != 2 or p.shape[1] != cls.shape[0]:
        raise ValueError(f"proba of shape {p.shape} does not match {cls.shape[0]} classes")
    return cls[np.argmax(p, axis=1)]


def auc(y_true: ArrayLike, proba: ArrayLike, classes: ArrayLike | None = None) -> float:
    """ROC AUC of probabilistic predictions; macro one-vs-rest when there are >2 classes.

    ``proba`` is either a 1-D score of the positive (greater) label of a binary ``y_true``,
    or a 2-D array whose columns follow ``classes`` (default: the sorted labels of
    ``y_true``), as returned by ``predict_proba`` with ``estimator.classes_``. With two
    columns the score is column 1 (the positive class). With more, the AUC of each column
    against the rest is averaged without weights over the classes for which it is
    defined (both present and absent rows exist in ``y_true``). Ties count one half.
    Returns nan when no class is scorable.
    """
    return float(_auc_weighted(y_true, proba, classes, None)[0])


def auc_bootstrap_interval(
    y_true: ArrayLike,
    proba: ArrayLike,
    classes: ArrayLike | None = None,
    n_boot: int = 200,
    random_state: int | np.random.Generator | None = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`auc` over rows resampled with replacement.

    Rows are resampled ``n_boot`` times (seeded by ``random_state``); each replicate's AUC
    is computed in a vectorized pass as a weighted rank statistic (the multiplicity of each
    row is its weight), so 200 replicates on 15,000 rows take well under a second.
    Returns the (1-confidence)/2 and (1+confidence)/2 percentiles.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    yt = np.asarray(y_true)
    n = yt.shape[0]
    rng = np.random.default_rng(random_state)
    chunk = max(1, _BOOT_CHUNK_CELLS // max(n, 1))
    values: list[NDArray] = []
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        offsets = (np.arange(b) * n)[:, None]
        weights = np.bincount((idx + offsets).ravel(), minlength=b * n).reshape(b, n)
        values.append(_auc_weighted(yt, proba, classes, weights.astype(float)))
        done += b
    boots = np.concatenate(values)
    alpha = (1.0 - confidence) / 2.0
    if np.all(np.isnan(boots)):
        return float("nan"), float("nan")
    lo, hi = np.nanpercentile(boots, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def majority_accuracy(y_true: ArrayLike, y_reference: ArrayLike | None = None) -> float:
    """Accuracy of always predicting the most frequent label.

    The label is taken from ``y_reference`` (normally the training split, as a trained
    constant predictor would) or from ``y_true`` itself when no reference is given. Ties
    go to the smallest label, as in scikit-learn's ``DummyClassifier``.
    """
    yt = np.asarray(y_true)
    ref = yt if y_reference is None else np.asarray(y_reference)
    labels, counts = np.unique(ref, return_counts=True)
    return float(np.mean(yt == labels[np.argmax(counts)]))


def entropy_bits(labels: ArrayLike) -> float:
    """Empirical entropy H(S) in bits of a label vector (plug-in estimate)."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log2(p)))


def cross_entropy_bits(
    y_true: ArrayLike, proba: ArrayLike, classes: ArrayLike | None = None, eps: float = 1e-15
) -> float:
    """Mean negative log2-probability given to the true label, in bits.

    ``proba`` columns follow ``classes`` (default: sorted labels of ``y_true``); a 1-D
    ``proba`` is the probability of the greater of two labels. A label absent from
    ``classes`` gets probability 0. Probabilities are clipped to [eps, 1] so a confident
    mistake costs a large but finite amount.
    """
    yt = np.asarray(y_true)
    p, cls = _proba_matrix(yt, proba, classes)
    col = {c: i for i, c in enumerate(cls.tolist())}
    idx = np.array([col.get(v, -1) for v in yt.tolist()])
    p_true = np.where(idx >= 0, p[np.arange(len(yt)), np.maximum(idx, 0)], 0.0)
    return float(-np.mean(np.log2(np.clip(p_true, eps, 1.0))))


def mi_lower_bound_bits(cross_entropies_bits: Sequence[float] | float, labels: ArrayLike) -> float:
    """Lower bound on I(Z;S) in bits: max(0, H(S) - min cross-entropy).

    For any predictor q(s|z), I(Z;S) = H(S) - H(S|Z) >= H(S) - E[-log2 q(s|z)], so each
    attacker's test cross-entropy gives a bound; the smallest cross-entropy gives the
    tightest one. ``labels`` are the labels the cross-entropies were measured on.
    """
    ces = np.atleast_1d(np.asarray(cross_entropies_bits, dtype=float))
    if ces.size == 0:
        raise ValueError("need at least one cross-entropy")
    return float(max(0.0, entropy_bits(labels) - float(np.min(ces))))


def dp_gap(y_true: ArrayLike | None, y_pred: ArrayLike, *, sensitive_features: ArrayLike) -> float:
    """Demographic-parity gap: max minus min over groups of P(yhat = 1 | group).

    fairlearn's argument order and result (``demographic_parity_difference``); ``y_true`` is not
    used (it may be None). ``y_pred`` is binary (0/1 or bool); the groups may take any number of values.
    """
    yp = _binary(y_pred, "y_pred")
    g = np.asarray(sensitive_features)
    if g.shape[0] != yp.shape[0]:
        raise ValueError(f"group has {g.shape[0]} rows, y_pred has {yp.shape[0]}")
    rates = [yp[g == v].mean() for v in np.unique(g)]
    return float(max(rates) - min(rates))


def eo_gap(y_true: ArrayLike, y_pred: ArrayLike, *, sensitive_features: ArrayLike) -> float:
    """Equalized-odds gap: max over y in {0,1} of the demographic-parity gap among rows with label y.

    That is the larger of the true-positive-rate gap and the false-positive-rate gap
    across groups; groups with no rows of a label are left out of that label's gap. Equals
    fairlearn's ``equalized_odds_difference`` (same argument order).
    """
    yp = _binary(y_pred, "y_pred")
    yt = _binary(y_true, "y_true")
    g = np.asarray(sensitive_features)
    if not (g.shape[0] == yp.shape[0] == yt.shape[0]):
        raise ValueError("y_pred, y_true and sensitive_features must have the same number of rows")
    gaps = [dp_gap(None, yp[yt == y], sensitive_features=g[yt == y]) for y in (0, 1) if np.any(yt == y)]
    return float(max(gaps)) if gaps else 0.0


def fairness_gaps(y_true: ArrayLike, y_pred: ArrayLike, *, sensitive_features: ArrayLike) -> dict[str, float]:
    """Both group-fairness gaps of binary task predictions: ``{"dp_gap", "eo_gap"}`` (fairlearn's argument order)."""
    return {"dp_gap": dp_gap(y_true, y_pred, sensitive_features=sensitive_features),
            "eo_gap": eo_gap(y_true, y_pred, sensitive_features=sensitive_features)}


# --- internals ----------------------------------------------------------------------


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[NDArray, NDArray]:
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.shape != yp.shape or yt.ndim != 1:
        raise ValueError(f"y_true {yt.shape} and y_pred {yp.shape} must be 1-D of equal length")
    if yt.size == 0:
        raise ValueError("empty label vector")
    return yt, yp


def _binary(y: ArrayLike, what: str) -> NDArray:
    arr = np.asarray(y)
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.all(np.isin(arr, (0, 1))):
        raise ValueError(f"{what} must be binary 0/1, got values {np.unique(arr)[:5].tolist()}")
    return arr.astype(np.int64)


def _proba_matrix(
    yt: NDArray, proba: ArrayLike, classes: ArrayLike | None
) -> tuple[NDArray, NDArray]:
    """Normalize ``proba`` to an (n, k) matrix and its column labels."""
    p = np.asarray(proba, dtype=float)
    if p.shape[0] != yt.shape[0]:
        raise ValueError(f"proba has {p.shape[0]} rows, labels have {yt.shape[0]}")
    if p.ndim == 1:
        cls = np.unique(yt) if classes is None else np.asarray(classes)
        if cls.shape[0] != 2:
            raise ValueError("a 1-D proba needs exactly two classes (score of the greater one)")
        return np.column_stack([1.0 - p, p]), cls
    if p.ndim != 2:
        raise ValueError(f"proba must be 1-D or 2-D, got shape {p.shape}")
    cls = np.unique(yt) if classes is None else np.asarray(classes)
    if cls.shape[0] != p.shape[1]:
        raise ValueError(f"proba has {p.shape[1]} columns but there are {cls.shape[0]} classes")
    return p, cls


def _auc_weighted(
    y_true: ArrayLike, proba: ArrayLike, classes: ArrayLike | None, weights: NDArray | None
) -> NDArray:
    """AUC for each row of ``weights`` (shape (B, n)); one row of ones when None."""
    yt = np.asarray(y_true)
    p, cls = _proba_matrix(yt, proba, classes)
    w = np.ones((1, yt.shape[0])) if weights is None else weights
    columns = [1] if p.shape[1] == 2 else range(p.shape[1])
    per_class = [
        _binary_auc_weighted(p[:, j], (yt == cls[j]).astype(float), w)
        for j in columns
        if 0 < np.sum(yt == cls[j]) < yt.shape[0]
    ]
    if not per_class:
        return np.full(w.shape[0], np.nan)
    stacked = np.vstack(per_class)
    with np.errstate(all="ignore"):
        counts = np.sum(~np.isnan(stacked), axis=0)
        total = np.nansum(stacked, axis=0)
        return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def _binary_auc_weighted(score: NDArray, pos: NDArray, weights: NDArray) -> NDArray:
    """Weighted Mann-Whitney AUC: P(score_pos > score_neg) + P(tie)/2, per weight row."""
    order = np.argsort(score, kind="mergesort")
    s, y, w = score[order], pos[order], weights[:, order]
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]  # first row of each tie group
    wp = np.add.reduceat(w * y, starts, axis=1)
    wn = np.add.reduceat(w * (1.0 - y), starts, axis=1)
    neg_below = np.cumsum(wn, axis=1) - wn
    num = np.sum(wp * (neg_below + 0.5 * wn), axis=1)
    den = wp.sum(axis=1) * wn.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
