"""Prediction releases: accurate on the task, and ExponentiatedGradient's bit closes the demographic-parity gap."""
from __future__ import annotations

import numpy as np
from fairlearn.metrics import demographic_parity_difference
from sklearn.linear_model import LogisticRegression

from privib.baselines.predict import fair_predict_release, predict_release


def _dp(bits: np.ndarray, s: np.ndarray) -> float:
    return float(demographic_parity_difference(bits[:, 0], bits[:, 0], sensitive_features=s[:, 0]))


def test_with_the_target_independent_of_s_predict_is_accurate_and_fair_predict_has_no_gap(independent) -> None:
    d = independent
    predicted = predict_release(d)
    fair = fair_predict_release(d, eps=0.01)
    accuracy = np.mean(predicted.codes["test"][:, 0] == d.y["test"])
    reference = LogisticRegression(max_iter=2000).fit(d.x["train"], d.y["train"]).score(d.x["test"], d.y["test"])
    assert accuracy > 0.88 and abs(accuracy - reference) < 0.005
    assert np.mean(fair.codes["test"][:, 0] == d.y["test"]) > 0.86
    assert _dp(fair.codes["test"], d.s["test"]) < 0.04
    assert np.mean(predict_release(d, "gbm").codes["test"][:, 0] == d.y["test"]) > 0.85


def test_when_s_drives_the_target_fair_predict_trades_accuracy_for_parity(leaky) -> None:
    d = leaky
    predicted, fair = predict_release(d), fair_predict_release(d, eps=0.01)
    gap, fair_gap = _dp(predicted.codes["test"], d.s["test"]), _dp(fair.codes["test"], d.s["test"])
    acc = np.mean(predicted.codes["test"][:, 0] == d.y["test"])
    fair_acc = np.mean(fair.codes["test"][:, 0] == d.y["test"])
    assert gap > 0.5 and fair_gap < 0.05, (gap, fair_gap)
    assert acc > 0.9 and acc - 0.15 > fair_acc > 0.55, (acc, fair_acc)


def test_a_looser_dp_bound_trades_parity_back_for_accuracy(leaky) -> None:
    d = leaky
    tight, loose = fair_predict_release(d, dp_bound=0.01), fair_predict_release(d, dp_bound=0.1)
    gaps = [_dp(r.codes["test"], d.s["test"]) for r in (tight, loose)]
    accs = [np.mean(r.codes["test"][:, 0] == d.y["test"]) for r in (tight, loose)]
    # each group's rate may differ from the overall rate by dp_bound: the gap between two groups by up to twice it
    assert gaps[0] < 0.05 and 0.12 < gaps[1] < 0.25, gaps
    assert accs[1] > accs[0] + 0.05, accs
