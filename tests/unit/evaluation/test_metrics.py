"""Every metric against an independent reference (scikit-learn, fairlearn, scipy) on fixed inputs."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, balanced_accuracy_score, log_loss, roc_auc_score

from privib.evaluation import metrics as M

fairlearn_metrics = pytest.importorskip("fairlearn.metrics")


@pytest.fixture
def binary_case() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    # rounded scores create many ties, which the rank statistic must count as one half
    score = np.round(np.clip(0.35 + 0.3 * y + rng.normal(0, 0.25, 400), 0, 1), 1)
    return y, score


@pytest.fixture
def multiclass_case() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 500)
    logits = rng.normal(size=(500, 4)) + 1.5 * np.eye(4)[y]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, proba


def test_accuracy_and_balanced_accuracy_match_sklearn(multiclass_case) -> None:
    y, proba = multiclass_case
    pred = proba.argmax(1)
    assert M.accuracy(y, pred) == pytest.approx(accuracy_score(y, pred))
    assert M.balanced_accuracy(y, pred) == pytest.approx(balanced_accuracy_score(y, pred))
    y_imb = np.r_[np.zeros(90, int), np.ones(10, int)]
    pred_imb = np.r_[np.zeros(95, int), np.ones(5, int)]
    assert M.balanced_accuracy(y_imb, pred_imb) == pytest.approx(balanced_accuracy_score(y_imb, pred_imb))
    assert M.balanced_accuracy(y_imb, np.zeros(100, int)) == pytest.approx(0.5)


def test_string_labels_work() -> None:
    y = np.array(["a", "b", "b", "c"])
    pred = np.array(["a", "b", "c", "c"])
    assert M.accuracy(y, pred) == pytest.approx(0.75)
    assert M.balanced_accuracy(y, pred) == pytest.approx(balanced_accuracy_score(y, pred))


def test_binary_auc_matches_sklearn_with_ties(binary_case) -> None:
    y, score = binary_case
    ref = roc_auc_score(y, score)
    assert M.auc(y, score) == pytest.approx(ref, abs=1e-12)
    two_cols = np.column_stack([1 - score, score])
    assert M.auc(y, two_cols, classes=[0, 1]) == pytest.approx(ref, abs=1e-12)


def test_binary_auc_with_string_classes() -> None:
    y = np.array(["Female", "Male", "Male", "Female", "Male"])
    p_male = np.array([0.2, 0.7, 0.4, 0.5, 0.9])
    proba = np.column_stack([1 - p_male, p_male])
    assert M.auc(y, proba, classes=["Female", "Male"]) == pytest.approx(roc_auc_score(y == "Male", p_male))


def test_multiclass_auc_is_macro_ovr(multiclass_case) -> None:
    y, proba = multiclass_case
    ref = roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert M.auc(y, proba) == pytest.approx(ref, abs=1e-12)
    assert M.auc(y, proba, classes=[0, 1, 2, 3]) == pytest.approx(ref, abs=1e-12)


def test_auc_of_constant_score_is_half(binary_case) -> None:
    y, _ = binary_case
    assert M.auc(y, np.full(y.shape, 0.3)) == pytest.approx(0.5)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate(binary_case) -> None:
    y, score = binary_case
    lo, hi = M.auc_bootstrap_interval(y, score, n_boot=300, random_state=3)
    assert (lo, hi) == M.auc_bootstrap_interval(y, score, n_boot=300, random_state=3)
    assert lo < M.auc(y, score) < hi
    assert hi - lo < 0.2


def test_bootstrap_replicates_equal_sklearn_on_the_resample(binary_case) -> None:
    """The vectorized weighted AUC equals sklearn's AUC on the explicitly resampled rows."""
    y, score = binary_case
    rng = np.random.default_rng(7)
    idx = rng.integers(0, y.size, size=(5, y.size))
    weights = np.stack([np.bincount(i, minlength=y.size) for i in idx]).astype(float)
    got = M._auc_weighted(y, score, None, weights)
    ref = [roc_auc_score(y[i], score[i]) for i in idx]
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_bootstrap_percentiles_match_a_naive_loop(multiclass_case) -> None:
    y, proba = multiclass_case
    n_boot, seed = 50, 11
    lo, hi = M.auc_bootstrap_interval(y, proba, n_boot=n_boot, random_state=seed)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, y.size, size=(n_boot, y.size))  # same draws as the vectorized version
    ref = [roc_auc_score(y[i], proba[i], multi_class="ovr") for i in idx]
    assert lo == pytest.approx(np.percentile(ref, 2.5), abs=1e-12)
    assert hi == pytest.approx(np.percentile(ref, 97.5), abs=1e-12)


def test_majority_matches_dummy_classifier() -> None:
    y_train = np.array([0, 1, 1, 2, 1, 0])
    y_test = np.array([0, 0, 1, 2, 2])
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((6, 1)), y_train)
    assert M.majority_accuracy(y_test, y_train) == pytest.approx(dummy.score(np.zeros((5, 1)), y_test))
    assert M.majority_accuracy(y_test) == pytest.approx(0.4)


def test_entropy_bits_matches_scipy() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    _, counts = np.unique(labels, return_counts=True)
    assert M.entropy_bits(labels) == pytest.approx(scipy_entropy(counts, base=2))
    assert M.entropy_bits(np.array([1, 0] * 50)) == pytest.approx(1.0)
    assert M.entropy_bits(np.ones(10)) == pytest.approx(0.0)


def test_cross_entropy_bits_matches_log_loss(multiclass_case, binary_case) -> None:
    y, proba = multiclass_case
    assert M.cross_entropy_bits(y, proba) == pytest.approx(log_loss(y, proba) / np.log(2))
    yb, score = binary_case
    p = np.clip(score, 0.05, 0.95)
    assert M.cross_entropy_bits(yb, p) == pytest.approx(log_loss(yb, p) / np.log(2))


def test_cross_entropy_of_unseen_label_is_large_but_finite() -> None:
    ce = M.cross_entropy_bits(np.array([0, 2]), np.array([[0.5, 0.5], [0.5, 0.5]]), classes=[0, 1])
    assert 20 < ce < 30


def test_mi_lower_bound() -> None:
    labels = np.array([0, 1] * 10)  # H = 1 bit
    assert M.mi_lower_bound_bits([0.9, 0.4, 0.7], labels) == pytest.approx(0.6)
    assert M.mi_lower_bound_bits(1.3, labels) == 0.0


def _group_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    group = rng.choice(["w", "b", "a", "o"], size=600, p=[0.6, 0.2, 0.1, 0.1])
    y_true = rng.integers(0, 2, 600)
    bias = np.select([group == "w", group == "b", group == "a"], [0.2, -0.1, 0.05], 0.0)
    y_pred = (rng.random(600) < 0.3 + 0.4 * y_true + bias).astype(int)
    return y_pred, y_true, group


def test_fairness_gaps_match_fairlearn() -> None:
    y_pred, y_true, group = _group_case()
    got = M.fairness_gaps(y_true, y_pred, sensitive_features=group)
    ref_dp = fairlearn_metrics.demographic_parity_difference(y_true, y_pred, sensitive_features=group)
    ref_eo = fairlearn_metrics.equalized_odds_difference(y_true, y_pred, sensitive_features=group)
    assert got["dp_gap"] == pytest.approx(ref_dp, abs=1e-12)
    assert got["eo_gap"] == pytest.approx(ref_eo, abs=1e-12)
    assert got["eo_gap"] > 0 and got["dp_gap"] > 0


def test_fairness_gaps_binary_group_and_bool_predictions() -> None:
    y_pred, y_true, group = _group_case()
    g2 = (group == "w").astype(int)
    got = M.fairness_gaps(y_true, y_pred.astype(bool), sensitive_features=g2)
    assert got["dp_gap"] == pytest.approx(
        fairlearn_metrics.demographic_parity_difference(y_true, y_pred, sensitive_features=g2)
    )
    assert got["eo_gap"] == pytest.approx(
        fairlearn_metrics.equalized_odds_difference(y_true, y_pred, sensitive_features=g2)
    )


def test_fairness_gaps_reject_non_binary_predictions() -> None:
    with pytest.raises(ValueError, match="binary"):
        M.dp_gap(None, np.array([0, 1, 2]), sensitive_features=np.array([0, 0, 1]))


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        M.accuracy(np.array([0, 1]), np.array([0, 1, 1]))
    with pytest.raises(ValueError):
        M.auc(np.array([0, 1, 2]), np.ones((3, 2)), classes=[0, 1, 2])
