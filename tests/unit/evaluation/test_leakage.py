"""Leakage audit: fresh attackers on z, keys, calibration checks, rescoring, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from privib.errors import ConfigError, DataError
from privib.evaluation.leakage import AttackResult, attack, fitted_auc_max

N = 4000  # rows per split: small enough to stay fast, large enough for tight intervals


def _split(z: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return z[:N], s[:N], z[N:], s[N:]


@pytest.fixture(scope="module")
def independent() -> AttackResult:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2 * N, 4))
    s = rng.integers(0, 2, 2 * N)
    return attack(*_split(z, s), random_state=0, n_boot=200)


@pytest.fixture(scope="module")
def xor() -> AttackResult:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(2 * N, 4))
    s = ((z[:, 0] > 0) ^ (z[:, 1] > 0)).astype(int)
    return attack(*_split(z, s), random_state=0, n_boot=200)


def test_keys_are_flat_and_unprefixed(independent: AttackResult) -> None:
    names = ["logreg", "mlp_64", "mlp_128_64", "hgb"]
    expected = {f"{n}/{m}" for n in names for m in ("acc", "bacc", "auc")} | {
        "acc_max", "bacc_max", "auc_max", "auc_max_lo", "auc_max_hi", "majority", "n_classes", "mi_bits_lb"}
    assert set(independent.metrics) == expected
    assert all(isinstance(v, float) for v in independent.metrics.values())
    assert set(independent.fitted) == set(names)
    assert independent.best in names
    assert independent.metrics["auc_max"] == independent.metrics[f"{independent.best}/auc"]


def test_calibration_independent_attribute_reads_as_chance(independent: AttackResult) -> None:
    m = independent.metrics
    assert 0.45 <= m["auc_max"] <= 0.55
    assert m["auc_max_lo"] <= 0.5 <= m["auc_max_hi"]
    assert m["mi_bits_lb"] < 0.01
    assert abs(m["bacc_max"] - 0.5) < 0.05


def test_calibration_xor_leak_is_invisible_to_linear_but_found_by_the_battery(xor: AttackResult) -> None:
    m = xor.metrics
    assert m["logreg/auc"] < 0.6
    assert m["auc_max"] > 0.9
    assert m["auc_max_lo"] > 0.9
    assert xor.best != "logreg"
    assert m["mi_bits_lb"] > 0.5


def test_fitted_attackers_rescore_without_refitting(xor: AttackResult) -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(2 * N, 4))
    s = ((z[:, 0] > 0) ^ (z[:, 1] > 0)).astype(int)
    assert fitted_auc_max(xor.fitted, z[N:], s[N:]) == pytest.approx(xor.metrics["auc_max"])
    # destroying the informative coordinates drops the leak to chance
    z_noise = z[N:].copy()
    z_noise[:, :2] = rng.normal(size=(N, 2))
    assert fitted_auc_max(xor.fitted, z_noise, s[N:]) < 0.6


def test_multiclass_attribute_and_custom_spec_list() -> None:
    rng = np.random.default_rng(2)
    s = rng.choice(["a", "b", "c"], size=1200, p=[0.6, 0.3, 0.1])
    centers = np.array([[0, 0, 0], [1.5, 0, 0], [0, 1.5, 0]])
    z = rng.normal(size=(1200, 3)) + centers[np.searchsorted(["a", "b", "c"], s)]
    specs = [{"name": "lr", "class_path": "sklearn.linear_model.LogisticRegression"},
             {"class_path": "sklearn.tree.DecisionTreeClassifier", "init_args": {"max_depth": 4}}]
    res = attack(z[:600], s[:600], z[600:], s[600:], attackers=specs, n_boot=50)
    ref = roc_auc_score(s[600:], res.fitted["lr"].predict_proba(z[600:]), multi_class="ovr")
    assert res.metrics["lr/auc"] == pytest.approx(ref)
    assert "decision_tree_classifier/auc" in res.metrics
    assert res.metrics["majority"] == pytest.approx(np.mean(s[600:] == "a"))
    assert res.metrics["auc_max_lo"] <= res.metrics["auc_max"] <= res.metrics["auc_max_hi"]


def test_attack_is_reproducible_and_accepts_estimator_mappings() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=(400, 2))
    s = (z[:, 0] + rng.normal(size=400) > 0).astype(int)
    est = {"lr": LogisticRegression()}
    a = attack(z[:200], s[:200], z[200:], s[200:], attackers=est, random_state=4, n_boot=30)
    b = attack(z[:200], s[:200], z[200:], s[200:], attackers=est, random_state=4, n_boot=30)
    assert a.metrics == b.metrics
    assert not hasattr(est["lr"], "coef_")  # the caller's estimator is cloned, not fitted


def test_attack_input_errors() -> None:
    z = np.zeros((10, 2))
    with pytest.raises(DataError, match="single value"):
        attack(z, np.zeros(10), z, np.zeros(10))
    with pytest.raises(ValueError):
        attack(z, np.arange(10) % 2, np.zeros((10, 3)), np.arange(10) % 2)
    with pytest.raises(ValueError, match="NaN"):
        attack(np.full((10, 2), np.nan), np.arange(10) % 2, z, np.arange(10) % 2)
    with pytest.raises(ConfigError, match="cannot import"):
        attack(z, np.arange(10) % 2, z, np.arange(10) % 2, attackers=[{"class_path": "sklearn.nope.X"}])


def test_the_number_of_classes_gives_the_majority_guess_balanced_accuracy(independent: AttackResult) -> None:
    assert independent.metrics["n_classes"] == 2.0
