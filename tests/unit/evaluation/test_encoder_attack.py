"""The encoder holder and the k-release audit: an independent reference, known answers, and the audit's headline.

Known answers: with s independent of x every new attacker reads as chance within its bootstrap interval;
with s planted in the high-variance directions of the code (prototypes whose noise overlaps) the encoder
holder reaches the Bayes-optimal AUC computed from the true prototypes while the battery on one draw stays
below it; k-release leakage grows with k towards the leakage of the mean of q(z|x).
"""
from __future__ import annotations

from itertools import product
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from privib.errors import ConfigError
from privib.evaluation import metrics as M
from privib.evaluation.release_audit import Release, Timer, audit_release
from privib.evaluation.encoder_attack import (
    HOLDER,
    MixturePosteriorAttacker,
    average_of_releases,
    check_release_options,
    encoder_holder_attack,
    k_release_audit,
)
from privib.evaluation.leakage import attack
from privib.evaluation.options import EvaluationOptions, check_evaluation_config

LIGHT = [{"name": "logreg", "class_path": "sklearn.linear_model.LogisticRegression", "standardize": True},
         {"name": "hgb", "class_path": "sklearn.ensemble.HistGradientBoostingClassifier", "init_args": {"max_iter": 100}},
         {"name": "mlp", "class_path": "sklearn.neural_network.MLPClassifier",
          "init_args": {"hidden_layer_sizes": [64], "early_stopping": True, "max_iter": 200}, "standardize": True}]
SIGMA = np.array([0.6, 0.6, 0.6, 0.6, 0.1])  # noise of the code: high in the 4 directions that carry s


def _draw(mean: np.ndarray, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (mean + scale * rng.standard_normal(mean.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def planted():
    """81 prototypes on a grid in 4 dims (spacing 1, noise 0.6: they overlap), each with a random s."""
    rng = np.random.default_rng(0)
    prototypes = np.hstack([np.array(list(product(range(3), repeat=4)), float), np.zeros((81, 1))])
    labels = rng.integers(0, 2, len(prototypes))

    def split(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        j = rng.integers(0, len(prototypes), n)
        return prototypes[j].astype(np.float32), np.tile(SIGMA, (n, 1)).astype(np.float32), labels[j]

    (m_tr, sc_tr, s_tr), (m_te, sc_te, s_te) = split(4000), split(2000)
    return SimpleNamespace(prototypes=prototypes, labels=labels, m_tr=m_tr, sc_tr=sc_tr, s_tr=s_tr, m_te=m_te,
                           sc_te=sc_te, s_te=s_te, z_tr=_draw(m_tr, sc_tr, rng), z_te=_draw(m_te, sc_te, rng))


@pytest.fixture(scope="module")
def independent():
    """Codes of a stochastic encoder (varied means and scales) and an attribute independent of them."""
    rng = np.random.default_rng(0)

    def split(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (rng.standard_normal((n, 4)).astype(np.float32), rng.uniform(0.2, 1.0, (n, 4)).astype(np.float32),
                (rng.random(n) < 0.35).astype(np.int64))

    (m_tr, sc_tr, s_tr), (m_te, sc_te, s_te) = split(3000), split(2000)
    return SimpleNamespace(m_tr=m_tr, sc_tr=sc_tr, s_tr=s_tr, m_te=m_te, sc_te=sc_te, s_te=s_te,
                           z_te=_draw(m_te, sc_te, rng))


# ---------------------------------------------------------------------------- the mixture posterior
@pytest.mark.parametrize(("dtype", "rtol", "atol"), [("float64", 1e-9, 1e-12), ("float32", 1e-3, 1e-4)])
def test_mixture_posterior_matches_scipy_for_three_classes_and_averaged_releases(dtype: str, rtol: float,
                                                                                  atol: float) -> None:
    rng = np.random.default_rng(3)
    mean, scale = rng.standard_normal((40, 3)) + 5.0, rng.uniform(0.3, 1.5, (40, 3))
    labels = np.array(["a", "b", "c"])[rng.integers(0, 3, 40)]
    z = rng.standard_normal((25, 3)) * 1.5 + 5.0
    for releases in (1, 4):
        log_density = np.array([[multivariate_normal(mean[i], np.diag(scale[i] ** 2 / releases)).logpdf(row)
                                 for i in range(40)] for row in z])
        per_class = np.stack([logsumexp(log_density[:, labels == c], axis=1) for c in ("a", "b", "c")], axis=1)
        expected = np.exp(per_class - logsumexp(per_class, axis=1, keepdims=True))
        attacker = MixturePosteriorAttacker(releases=releases, chunk_cells=7, dtype=dtype)
        attacker.fit(np.hstack([mean, scale]), labels)
        assert list(attacker.classes_) == ["a", "b", "c"]
        np.testing.assert_allclose(attacker.predict_proba(z), expected, rtol=rtol, atol=atol)
        assert (attacker.predict(z) == np.array(["a", "b", "c"])[expected.argmax(axis=1)]).all()


@pytest.mark.parametrize(("dtype", "atol"), [("float64", 1e-12), ("float32", 1e-5)])
def test_mixture_posterior_far_from_every_record_stays_finite_and_refuses_zero_scale(dtype: str, atol: float) -> None:
    attacker = MixturePosteriorAttacker(dtype=dtype).fit(np.array([[0.0, 0.1], [1.0, 0.1]]), [0, 1])
    proba = attacker.predict_proba(np.array([[1e3], [-1e3], [0.5]]))
    np.testing.assert_allclose(proba, [[0, 1], [1, 0], [0.5, 0.5]], atol=atol)
    with pytest.raises(ValueError, match="dtype"):
        MixturePosteriorAttacker(dtype="float16").fit(np.array([[0.0, 0.1], [1.0, 0.1]]), [0, 1])
    with pytest.raises(ValueError, match="scales > 0"):
        MixturePosteriorAttacker().fit(np.array([[0.0, 0.0], [1.0, 0.1]]), [0, 1])
    with pytest.raises(ValueError, match="shape"):
        attacker.predict_proba(np.zeros((2, 3)))


def test_average_of_releases_has_the_variance_of_k_draws() -> None:
    mean, scale = np.full((200_000, 2), 3.0, np.float32), np.array([[1.0, 2.0]], np.float32).repeat(200_000, 0)
    avg = average_of_releases(mean, scale, 8, np.random.default_rng(0))
    assert avg.dtype == np.float32
    np.testing.assert_allclose(avg.mean(axis=0), [3.0, 3.0], atol=0.01)
    np.testing.assert_allclose(avg.std(axis=0), [1 / np.sqrt(8), 2 / np.sqrt(8)], rtol=0.01)


# ---------------------------------------------------------------------------- calibration with known answers
def test_independent_attribute_reads_as_chance_for_every_new_attacker(independent) -> None:
    d = independent
    holder = encoder_holder_attack(d.m_tr, d.sc_tr, d.s_tr, d.z_te, d.s_te, random_state=0).metrics
    assert abs(holder["auc_max"] - 0.5) < 0.03 and holder["auc_max_lo"] < 0.5 < holder["auc_max_hi"]
    assert holder["mi_bits_lb"] < 0.01
    releases = k_release_audit(d.m_tr, d.sc_tr, d.s_tr, d.m_te, d.sc_te, d.s_te, k_releases=[2, 8],
                               attackers=LIGHT[:2], random_state=0)
    for k in ("k2", "k8"):
        figures = releases[k]
        assert abs(figures["auc_max"] - 0.5) < 0.04 and figures["auc_max_lo"] < 0.5 < figures["auc_max_hi"], (k, figures)
        assert abs(figures["encoder_holder_auc"] - 0.5) < 0.04 and abs(figures["battery_auc_max"] - 0.5) < 0.04


def test_planted_in_a_noisy_direction_the_holder_reaches_bayes_while_one_draw_misses_part(planted) -> None:
    p = planted
    holder = encoder_holder_attack(p.m_tr, p.sc_tr, p.s_tr, p.z_te, p.s_te, random_state=0).metrics
    battery = attack(p.z_tr, p.s_tr, p.z_te, p.s_te, attackers=LIGHT, random_state=0).metrics
    # the Bayes-optimal posterior, from the true prototypes (equal weights), not from the training records
    truth = MixturePosteriorAttacker().fit(np.hstack([p.prototypes, np.tile(SIGMA, (81, 1))]), p.labels)
    bayes = M.auc(p.s_te, truth.predict_proba(p.z_te), truth.classes_)
    assert bayes > 0.7
    assert abs(holder[f"{HOLDER}/auc"] - bayes) < 0.01
    assert battery["auc_max"] < holder["auc_max_lo"], (battery["auc_max"], holder)  # below the holder's interval
    assert holder["mi_bits_lb"] > battery["mi_bits_lb"]


def test_k_release_leakage_grows_with_k_towards_the_mean(planted) -> None:
    p = planted
    mean_auc = attack(p.m_tr, p.s_tr, p.m_te, p.s_te, attackers=LIGHT[:2], random_state=0).metrics["auc_max"]
    one = max(encoder_holder_attack(p.m_tr, p.sc_tr, p.s_tr, p.z_te, p.s_te, random_state=0).metrics["auc_max"],
              attack(p.z_tr, p.s_tr, p.z_te, p.s_te, attackers=LIGHT[:2], random_state=0).metrics["auc_max"])
    releases = k_release_audit(p.m_tr, p.sc_tr, p.s_tr, p.m_te, p.sc_te, p.s_te, k_releases=[2, 4, 8],
                               attackers=LIGHT[:2], random_state=0)
    aucs = [one] + [releases[k]["auc_max"] for k in ("k2", "k4", "k8")]
    assert mean_auc > 0.99
    assert all(a + 0.02 < b for a, b in zip(aucs, aucs[1:])), aucs
    assert mean_auc - 0.02 < aucs[-1] <= mean_auc + 1e-9, (aucs, mean_auc)
    for figures in releases.values():  # the headline is the best of the battery and the holder, with its interval
        assert figures["auc_max"] == max(figures["battery_auc_max"], figures["encoder_holder_auc"])
        assert figures["auc_max_lo"] <= figures["auc_max"] <= figures["auc_max_hi"]


# ---------------------------------------------------------------------------- inside the audit
def _split(s: np.ndarray, y: np.ndarray) -> SimpleNamespace:
    return SimpleNamespace(x=torch.zeros(len(s), 2), y=torch.from_numpy(y), s=torch.from_numpy(s[:, None]))


@pytest.mark.parametrize("release", ["sample", "mean"])
def test_the_audit_headline_takes_the_holder_and_reports_k_releases(planted, release) -> None:
    p = planted
    rng = np.random.default_rng(5)
    y_tr, y_te = rng.integers(0, 2, len(p.s_tr)), rng.integers(0, 2, len(p.s_te))
    train, test = _split(p.s_tr, y_tr), _split(p.s_te, y_te)
    codes = {"mean": (p.m_tr, p.m_te), "sample": (p.z_tr, p.z_te)}
    options = EvaluationOptions(attackers=LIGHT[:2], probes=LIGHT[:1], raw_reference=False, robustness={}, n_boot=50,
                                k_releases=[2], downstream=None)
    timer = Timer()
    data = SimpleNamespace(spec=SimpleNamespace(sensitive=["s"], target_classes=["0", "1"]), splits={"train": train, "test": test})
    other = "mean" if release == "sample" else "sample"
    gaussian = ((p.m_tr, p.m_te), (p.sc_tr, p.sc_te)) if release == "sample" else None
    out = audit_release(data, Release(*codes[release], gaussian=gaussian, other=(other, codes[other])), options, 0,
                        timer=timer)
    battery = max(out["leakage/s/logreg/auc"], out["leakage/s/hgb/auc"])
    if release == "sample":
        assert out["leakage/s/auc_max"] == out[f"leakage/s/{HOLDER}/auc"] > battery
        holder = encoder_holder_attack(p.m_tr, p.sc_tr, p.s_tr, p.z_te, p.s_te, n_boot=50, random_state=0).metrics
        for key in ("auc_max", "auc_max_lo", "auc_max_hi", "mi_bits_lb"):  # the interval is the holder's own
            assert out[f"leakage/s/{key}"] == pytest.approx(holder[key])
        assert out["leakage/s/k2/auc_max"] > out["leakage/s/auc_max"]
        assert out["leakage/s/k2/encoder_holder_auc"] > 0.5 and {"encoder_holder", "k_release"} <= set(timer.parts)
    else:  # the mean is the same in every release: no holder, and the k keys copy the headline
        assert f"leakage/s/{HOLDER}/auc" not in out and out["leakage/s/auc_max"] == battery
        for key in ("auc_max", "auc_max_lo", "auc_max_hi", "mi_bits_lb"):
            assert out[f"leakage/s/k2/{key}"] == out[f"leakage/s/{key}"]
        assert out["leakage/s/k2/battery_auc_max"] == out["leakage/s/auc_max"]


def test_release_options_are_checked() -> None:
    assert check_evaluation_config({"evaluation": {"k_releases": [], "encoder_holder": False}}).k_releases == []
    assert EvaluationOptions().k_releases == [2, 8] and EvaluationOptions().encoder_holder is True
    for bad, match in (({"k_releases": [1]}, "integers >= 2"), ({"k_releases": 8}, "integers >= 2"),
                       ({"k_releases": [2, 2]}, "twice"), ({"encoder_holder": "yes"}, "true or false")):
        with pytest.raises(ConfigError, match=match):
            check_evaluation_config({"evaluation": bad})
    check_release_options([2, 16], True)
