"""The certificate of a cell code: known answers (independent codes sit at the floor, planted dependence is
covered), never below an observed attacker, monotone in the split sizes, and the AUC bound's two regimes."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from privib.errors import ConfigError
from privib.evaluation.certificate import (
    auc_bound,
    cells_from_codes,
    certify,
    certify_release,
    clopper_pearson,
    empirical_tv,
    independent_floor,
    split_rows,
)

# Adult's sizes as the audit uses them: training rows bound P(s); 80 % / 20 % of the test rows.
ADULT = (24129, 12048, 3012)
P_FEMALE = 0.325  # P(s = 0) on Adult's training split


def _draw(rng: np.random.Generator, n: int, p_cell: np.ndarray, p_zero: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``n`` records of a planted code: cell ~ p_cell, then s = 0 with probability p_zero[cell]."""
    cells = rng.choice(len(p_cell), size=n, p=p_cell)
    s = (rng.random(n) >= p_zero[cells]).astype(np.int64)
    return cells, s


def _certify(rng: np.random.Generator, sizes: tuple[int, int, int], p_cell: np.ndarray, p_zero: np.ndarray, **kw):
    prior = _draw(rng, sizes[0], p_cell, p_zero)[1]
    fit, mean = _draw(rng, sizes[1], p_cell, p_zero), _draw(rng, sizes[2], p_cell, p_zero)
    return certify(prior, *fit, *mean, n_cells=len(p_cell), **kw)


def _population(p_cell: np.ndarray, p_zero: np.ndarray) -> tuple[float, float]:
    """(TV between the groups' code distributions, the best AUC of any score of the code), exactly."""
    q0 = p_cell * p_zero / (p_cell * p_zero).sum()
    q1 = p_cell * (1 - p_zero) / (p_cell * (1 - p_zero)).sum()
    ratio = q1 / np.maximum(q0, 1e-300)
    greater = (ratio[:, None] > ratio[None, :]) + 0.5 * (ratio[:, None] == ratio[None, :])
    return 0.5 * float(np.abs(q0 - q1).sum()), float(q1 @ greater @ q0)


def _fare_floor(sizes: tuple[int, int, int], n_cells: int, p: float) -> float:
    """FARE's route (its error split 0.005 / 0.04 / 0.005) written out with scipy's exact binomial intervals,
    for an independent, evenly used code."""
    n1, n2, n3 = sizes
    prior = binomtest(round(p * n1), n1).proportion_ci(1 - 0.005, method="exact")
    alpha, beta = 1 / (2 * prior.low), 1 / (2 * (1 - prior.high))
    per_cell = round(n2 / n_cells)
    cell = binomtest(round(p * per_cell), per_cell).proportion_ci(1 - 0.04 / n_cells, method="exact")
    t = min(max(alpha * cell.high, beta * (1 - cell.low)), max(alpha, beta))
    return 2 * t - 1  # every cell has the same t: Hoeffding's range is 0


def test_clopper_pearson_matches_scipy_exact_interval():
    for x, n, error in [(30, 100, 0.05), (0, 50, 0.01), (50, 50, 0.01), (7, 12048, 0.004), (3000, 6000, 0.1)]:
        low, high = clopper_pearson(x, n, error)
        reference = binomtest(x, n).proportion_ci(1 - error, method="exact")
        assert float(low) == pytest.approx(reference.low, abs=1e-9) and float(high) == pytest.approx(reference.high, abs=1e-9)
    low, high = clopper_pearson(np.array([0, 0]), np.array([0, 10]), 0.05)
    assert low.tolist() == [0.0, 0.0] and high[0] == 1.0 and 0 < high[1] < 1


def _exact_independent_code(sizes: tuple[int, int, int], n_cells: int, p: float) -> tuple[np.ndarray, ...]:
    """Splits of an independent, evenly used code with exactly the expected counts (no sampling noise)."""
    def labels(n: int) -> np.ndarray:
        return (np.arange(n) >= round(p * n)).astype(np.int64)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        per_cell = n // n_cells
        return np.repeat(np.arange(n_cells), per_cell), np.concatenate([labels(per_cell)] * n_cells)

    return (labels(sizes[0]), *split(sizes[1]), *split(sizes[2]))


def test_fare_route_matches_its_arithmetic_and_the_pairwise_route_is_tighter_for_few_cells():
    fare = {k: _fare_floor(ADULT, k, P_FEMALE) for k in (2, 3, 4, 8, 16)}
    # The simulation of FARE on Adult: ~0.065, ~0.10, ~0.135, ~0.19 for 2, 4, 8, 16 cells.
    assert [round(fare[k], 2) for k in (2, 4, 8, 16)] == [0.07, 0.10, 0.14, 0.20]
    for k, reference in fare.items():
        cert = certify(*_exact_independent_code(ADULT, k, P_FEMALE), n_cells=k)
        assert cert.tv_ub <= reference + 1e-3  # the tighter of FARE's route and the pairwise one
        assert cert.ba_ub == pytest.approx((1 + cert.tv_ub) / 2) and cert.dp_ub == cert.tv_ub
        assert 0.5 < cert.auc_ub <= auc_bound(cert.tv_ub, k) + 1e-9
        if k == 2:
            assert cert.tv_ub == pytest.approx(reference / 2, abs=0.01)  # the pairwise route halves it
        if k == 16:
            assert cert.tv_ub == pytest.approx(reference, abs=2e-3)  # FARE's route wins for many cells


@pytest.mark.parametrize("n_cells", [2, 4, 8])
def test_independent_code_certifies_at_the_floor(n_cells: int):
    rng = np.random.default_rng(n_cells)
    uniform, p_zero = np.full(n_cells, 1 / n_cells), np.full(n_cells, P_FEMALE)
    certificates = [_certify(rng, ADULT, uniform, p_zero) for _ in range(20)]
    floor = independent_floor(*ADULT, n_cells=n_cells, p_zero=P_FEMALE)
    for figure in ("tv_ub", "auc_ub"):
        bounds = [getattr(c, figure) for c in certificates]
        assert np.mean(bounds) == pytest.approx(getattr(floor, figure), abs=0.01)
        assert max(bounds) < getattr(floor, figure) + 0.04
    assert min(c.tv_ub for c in certificates) > 0.5 * floor.tv_ub
    expected = {2: (0.044, 0.522), 4: (0.095, 0.550), 8: (0.143, 0.588)}[n_cells]  # docs/evaluation.md quotes these
    assert (floor.tv_ub, floor.auc_ub) == pytest.approx(expected, abs=2e-3)


def test_planted_dependence_is_never_certified_below_an_attacker():
    rng = np.random.default_rng(3)
    p_cell, p_zero = np.array([0.4, 0.3, 0.2, 0.1]), np.array([0.15, 0.35, 0.5, 0.7])
    true_tv, true_auc = _population(p_cell, p_zero)
    train, test = _draw(rng, 20000, p_cell, p_zero), _draw(rng, 15000, p_cell, p_zero)
    one_hot = np.eye(4)
    figures = certify_release(one_hot[train[0]], train[1], one_hot[test[0]], test[1], {"sex": 2}, 4, seed=0)
    assert figures["leakage/sex/certified_tv_ub"] >= true_tv and figures["leakage/sex/certified_auc_ub"] >= true_auc
    for attacker in (LogisticRegression(), HistGradientBoostingClassifier(max_iter=30, random_state=0)):
        attacker.fit(one_hot[train[0]], train[1])
        score = attacker.predict_proba(one_hot[test[0]])[:, 1]
        auc = roc_auc_score(test[1], score)
        assert max(auc, 1 - auc) <= figures["leakage/sex/certified_auc_ub"]
        predicted = score > 0.5
        dp = abs(predicted[test[1] == 0].mean() - predicted[test[1] == 1].mean())
        assert dp <= figures["fairness/sex/certified_dp_ub"]
    assert figures["leakage/sex/empirical_tv"] == pytest.approx(true_tv, abs=0.03)
    assert figures["leakage/sex/empirical_tv"] < figures["leakage/sex/certified_tv_ub"] < true_tv + 0.12


@pytest.mark.parametrize("p_cell, p_zero", [
    (np.array([0.5, 0.3, 0.2]), np.array([0.25, 0.4, 0.6])),
    (np.array([0.5, 0.5]), np.array([0.3, 0.36])),
    (np.array([0.05, 0.9, 0.05]), np.array([0.0, 0.5, 1.0])),  # the code that attains the TV route's AUC bound
], ids=["three-cells", "two-cells", "extreme"])
def test_the_bounds_cover_the_truth_at_least_at_their_confidence(p_cell, p_zero):
    rng = np.random.default_rng(4)
    true_tv, true_auc = _population(p_cell, p_zero)
    certificates = [_certify(rng, (4000, 4000, 1000), p_cell, p_zero) for _ in range(100)]
    assert sum(c.tv_ub < true_tv for c in certificates) <= 5
    assert sum(c.auc_ub < max(true_auc, 1 - true_auc) for c in certificates) <= 5
    assert np.mean([c.auc_ub for c in certificates]) < max(true_auc, 1 - true_auc) + 0.1  # and not vacuous


def test_the_bound_shrinks_as_the_splits_grow():
    floors = [independent_floor(n, n, n // 4, n_cells=4, p_zero=P_FEMALE) for n in (1000, 4000, 16000, 64000)]
    assert all(a.tv_ub > b.tv_ub and a.auc_ub > b.auc_ub for a, b in zip(floors, floors[1:]))
    rng = np.random.default_rng(5)
    p_cell, p_zero = np.array([0.5, 0.3, 0.2]), np.array([0.25, 0.4, 0.6])
    means = [np.mean([_certify(rng, (n, n, n // 4), p_cell, p_zero).tv_ub for _ in range(10)]) for n in (1000, 4000, 16000)]
    assert all(a > b for a, b in zip(means, means[1:]))
    assert means[-1] > _population(p_cell, p_zero)[0]


def test_auc_bound_two_regimes():
    # Three cells attain 1 - (1 - TV)^2 / 2: (1 + TV) / 2 is not a bound beyond two cells.
    tv = 0.2
    p_cell = np.array([tv / 2, 1 - tv, tv / 2])
    p_zero = np.array([0.0, 0.5, 1.0])  # cell 0 only in group 1, cell 2 only in group 0
    found_tv, found_auc = _population(p_cell, p_zero)
    assert found_tv == pytest.approx(tv) and found_auc == pytest.approx(auc_bound(tv, 3)) and found_auc > 0.5 + tv / 2
    # Two cells: one interior ROC point, AUC = (1 + TV) / 2 exactly, whatever the code.
    rng = np.random.default_rng(6)
    for _ in range(50):
        p_cell, p_zero = rng.dirichlet([1, 1]), rng.uniform(0.05, 0.95, 2)
        found_tv, found_auc = _population(p_cell, p_zero)
        assert max(found_auc, 1 - found_auc) == pytest.approx(auc_bound(found_tv, 2))
    assert auc_bound(0.0, 8) == 0.5 and auc_bound(1.0, 8) == 1.0 and auc_bound(1.5, 2) == 1.0


def test_cells_unused_in_training_do_not_cost_the_certificate():
    rng = np.random.default_rng(7)
    p_cell = np.zeros(16)
    p_cell[[3, 9]] = 0.5
    p_zero = np.full(16, P_FEMALE)
    prior = _draw(rng, ADULT[0], p_cell, p_zero)[1]
    splits = (*_draw(rng, ADULT[1], p_cell, p_zero), *_draw(rng, ADULT[2], p_cell, p_zero))
    spent_on_used = certify(prior, *splits, n_cells=16, budget_cells=[3, 9]).tv_ub
    spent_on_all = certify(prior, *splits, n_cells=16).tv_ub
    assert spent_on_used < spent_on_all < independent_floor(*ADULT, n_cells=16, p_zero=P_FEMALE).tv_ub
    assert spent_on_used == pytest.approx(independent_floor(*ADULT, n_cells=2, p_zero=P_FEMALE).tv_ub, abs=0.03)


def test_multiclass_is_certified_pairwise():
    rng = np.random.default_rng(8)
    n_cells, n = 3, 30000
    cells = rng.integers(0, n_cells, 3 * n)
    s = rng.integers(0, 3, 3 * n)
    s[(cells == 0) & (rng.random(3 * n) < 0.3)] = 2  # group 2 over-represented in cell 0
    frequencies = [np.bincount(cells[s == g], minlength=n_cells) / (s == g).sum() for g in range(3)]
    true_tv = max(0.5 * np.abs(a - b).sum() for i, a in enumerate(frequencies) for b in frequencies[i + 1:])
    cert = certify(s[:n], cells[n:2 * n], s[n:2 * n], cells[2 * n:], s[2 * n:], n_cells=n_cells, n_classes=3)
    assert true_tv < cert.tv_ub < true_tv + 0.12
    assert cert.ba_ub == pytest.approx((1 + 2 * cert.tv_ub) / 3) and cert.dp_ub == cert.tv_ub
    assert empirical_tv(cells, s, n_cells) == pytest.approx(true_tv)
    one_vs_rest = roc_auc_score(s == 2, -cells)  # cell 0 points to group 2
    assert one_vs_rest <= cert.auc_ub
    unseen = certify(s[:n], cells[n:2 * n], s[n:2 * n], cells[2 * n:], s[2 * n:], n_cells=n_cells, n_classes=4)
    assert unseen.tv_ub == 1.0  # a declared group with no rows cannot be certified


def test_certify_release_keys_and_split_sizes():
    rng = np.random.default_rng(9)
    codes, s = np.eye(2)[rng.integers(0, 2, 1000)], rng.integers(0, 2, (1000, 2))
    out = certify_release(codes[:600], s[:600], codes[600:], s[600:], {"sex": 2, "age": 2}, 2, seed=1)
    for a in ("sex", "age"):
        assert {f"leakage/{a}/certified_{k}_ub" for k in ("ba", "tv", "auc")} | {f"fairness/{a}/certified_dp_ub"} <= set(out)
        assert [out[f"leakage/{a}/certified_rows/{p}"] for p in ("prior", "cells", "mean")] == [600, 320, 80]
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())
    fit, mean = split_rows(400, 0.2, seed=1)
    assert len(fit) == 320 and len(mean) == 80 and set(fit).isdisjoint(mean) and set(fit) | set(mean) == set(range(400))


def test_bad_input_is_one_config_error():
    with pytest.raises(ConfigError, match="one-hot"):
        cells_from_codes(np.array([[0.2, 0.8], [1.0, 0.0]]))
    with pytest.raises(ConfigError, match="0..3"):
        cells_from_codes(np.array([0, 4]), n_cells=4)
    with pytest.raises(ConfigError, match="confidence"):
        certify([0, 1], [0, 1], [0, 1], [0, 1], [0, 1], n_cells=2, confidence=1.0)
    with pytest.raises(ConfigError, match="2 codes but 3"):
        certify([0, 1], [0, 1], [0, 1, 1], [0, 1], [0, 1], n_cells=2)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        certify([0, 0], [0, 1], [0, 0], [0, 1], [0, 0], n_cells=2)
    with pytest.raises(ConfigError, match="mean_fraction"):
        split_rows(10, 1.0, seed=0)
