"""Transfer figures: the best probe, the base rate, the DP gap of predictions of any number of classes."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from privib.evaluation.transfer import class_dp_gap, labelled_rows, mean_over_tasks, task_figures


def _reference_dp(pred: np.ndarray, groups: np.ndarray) -> float:
    """Independent: per predicted class, max minus min over groups of its rate (pandas crosstab)."""
    rates = pd.crosstab(groups, pred, normalize="index")
    return float((rates.max(axis=0) - rates.min(axis=0)).max())


@pytest.mark.parametrize("classes", [2, 3])
def test_dp_gap_of_any_number_of_classes_matches_a_crosstab(classes):
    rng = np.random.default_rng(classes)
    groups = rng.integers(0, 4, 3000)
    pred = np.where(groups == 0, rng.integers(0, classes, 3000), rng.integers(0, 2, 3000))
    assert class_dp_gap(pred, sensitive_features=groups) == pytest.approx(_reference_dp(pred, groups))
    assert class_dp_gap(np.zeros(10, dtype=int), sensitive_features=np.arange(10) % 2) == 0.0


def _fitted(pred: np.ndarray, classes: list[int]) -> tuple[SimpleNamespace, np.ndarray]:
    proba = np.eye(len(classes))[np.searchsorted(classes, pred)]
    return SimpleNamespace(classes_=np.asarray(classes)), proba


def test_task_figures_take_the_best_probe_and_its_gap():
    y_test = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    groups = {"g": np.array([0, 0, 0, 0, 1, 1, 1, 1]), "h": np.array([0, 1, 0, 1, 0, 1, 0, 1])}
    good, bad = np.array([0, 0, 0, 1, 1, 1, 1, 1]), np.zeros(8, dtype=int)
    out = task_figures({"bad": _fitted(bad, [0, 1]), "good": _fitted(good, [0, 1])}, np.array([1, 1, 0]), y_test, groups)
    assert out["good/acc"] == 1.0 and out["bad/acc"] == 3 / 8 and out["acc"] == 1.0
    assert out["base"] == 5 / 8  # the training majority (1) on the test rows
    assert out["dp_gap/g"] == pytest.approx(1.0 - 0.25) and out["dp_gap/h"] == pytest.approx(0.75 - 0.5)
    assert out["dp_gap"] == max(out["dp_gap/g"], out["dp_gap/h"])
    single = task_figures({"good": _fitted(good, [0, 1])}, np.array([0]), y_test, {"g": groups["g"]})
    assert "dp_gap/g" not in single and single["dp_gap"] == pytest.approx(0.75)


def test_means_over_tasks_and_labelled_rows():
    means = mean_over_tasks({"a": {"acc": 0.8, "base": 0.6, "dp_gap": 0.1}, "b": {"acc": 0.6, "base": 0.5}})
    assert means == pytest.approx({"mean/acc": 0.7, "mean/base": 0.55, "mean/dp_gap": 0.1})
    np.testing.assert_array_equal(labelled_rows(np.array([1, -1, 0])), [True, False, True])
