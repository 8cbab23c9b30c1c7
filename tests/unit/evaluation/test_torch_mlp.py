"""TorchMLPClassifier: as strong as scikit-learn's MLPClassifier on a planted signal, chance on an independent
attribute, a scikit-learn classifier, and several members trained as one batched model."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from privib.errors import ConfigError
from privib.evaluation.attackers import build_estimator, default_attackers
from privib.evaluation.pool import FitPool
from privib.evaluation.torch_mlp import TorchMLPClassifier

N = 3000  # training rows; as many test rows


def _planted(seed: int, n: int = 2 * N) -> tuple[np.ndarray, np.ndarray]:
    """8 features; s depends on them only through a noisy non-linear score (no linear model reads it well)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    score = x[:, 0] * x[:, 1] + np.sin(2 * x[:, 2]) + 0.5 * x[:, 3] ** 2 + rng.normal(scale=0.7, size=n)
    return x, (score > np.median(score)).astype(int)


def _auc(model, x: np.ndarray, s: np.ndarray) -> float:
    model.fit(x[:N], s[:N])
    return roc_auc_score(s[N:], model.predict_proba(x[N:])[:, 1])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("widths", [[64], [128, 64]])
def test_as_strong_as_sklearns_mlp_with_the_same_widths_on_a_planted_signal(widths):
    x, s = _planted(0)
    spec = next(a for a in default_attackers(0) if a["init_args"].get("hidden_layer_sizes") == widths)
    ours = _auc(build_estimator(spec)[1], x, s)
    sklearn = _auc(make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=widths, early_stopping=True,
                                                                 max_iter=200, n_iter_no_change=10, random_state=0)), x, s)
    assert sklearn > 0.75  # the signal is there to be found
    assert ours >= sklearn - 0.01, (ours, sklearn)


def test_an_independent_attribute_reads_as_chance():
    rng = np.random.default_rng(1)
    x, s = rng.normal(size=(2 * N, 8)), rng.integers(0, 2, 2 * N)
    model = build_estimator(next(a for a in default_attackers(0) if a["name"] == "mlp_128_64"))[1]
    assert abs(_auc(model, x, s) - 0.5) < 0.04


def test_a_scikit_learn_classifier_with_any_labels_and_classes():
    x, s = _planted(2, 1200)
    labels = np.array(["f", "m"])[s]
    model = TorchMLPClassifier(hidden_layer_sizes=[16], max_iter=30, random_state=0).fit(x, labels)
    assert list(model.classes_) == ["f", "m"] and model.n_features_in_ == 8 and 1 <= model.n_iter_ <= 30
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(model.predict(x)) <= {"f", "m"} and model.score(x, labels) > 0.6
    three = (s + (x[:, 4] > 1)).astype(int)
    multi = TorchMLPClassifier(hidden_layer_sizes=[16], max_iter=30, random_state=0).fit(x, three)
    assert multi.predict_proba(x).shape == (1200, 3) and multi.score(x, three) > 0.5
    again = clone(model).fit(x, labels)  # seeded: the same model
    np.testing.assert_array_equal(again.predict_proba(x), proba)
    assert clone(model).get_params() == model.get_params()


def test_without_early_stopping_it_watches_the_training_loss_and_stops():
    x, s = _planted(3, 1500)
    model = TorchMLPClassifier(hidden_layer_sizes=[32], early_stopping=False, max_iter=500, n_iter_no_change=3,
                               tol=1e-3, random_state=0).fit(x, s)
    assert model.n_iter_ < 500 and model.score(x, s) > 0.7


def test_bad_parameters_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="batch_size"):
        build_estimator({"class_path": "privib.evaluation.torch_mlp.TorchMLPClassifier", "init_args": {"batch_size": 0}})
    with pytest.raises(ValueError, match="fit_batch"):
        TorchMLPClassifier.fit_batch([TorchMLPClassifier(alpha=1.0), TorchMLPClassifier()], [np.ones((9, 2))] * 2,
                                     [np.arange(9) % 2] * 2)


def test_members_of_a_batch_each_learn_their_own_target_as_if_alone():
    x, s = _planted(4)
    y = (x[:, 5] + x[:, 6] > 0).astype(int)  # a second, linear target on the same rows
    members = [TorchMLPClassifier(hidden_layer_sizes=[32], random_state=seed) for seed in (0, 1)]
    TorchMLPClassifier.fit_batch(members, [x[:N], x[:N]], [s[:N], y[:N]])
    for member, target, seed in zip(members, (s, y), (0, 1)):
        alone = TorchMLPClassifier(hidden_layer_sizes=[32], random_state=seed).fit(x[:N], target[:N])
        batched_auc = roc_auc_score(target[N:], member.predict_proba(x[N:])[:, 1])
        alone_auc = roc_auc_score(target[N:], alone.predict_proba(x[N:])[:, 1])
        assert abs(batched_auc - alone_auc) < 0.01 and batched_auc > 0.8


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_pool_trains_matching_jobs_together_with_the_same_figures_for_any_n_jobs():
    x, s = _planted(5, 1600)
    y = (x[:, 5] > 0).astype(int)
    mlp = make_pipeline(StandardScaler(), TorchMLPClassifier(hidden_layer_sizes=[16], max_iter=40, random_state=0))
    jobs = [(mlp, s), (clone(mlp).set_params(torchmlpclassifier__random_state=1), y),
            (make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=[8], max_iter=20, random_state=0)), s)]
    outputs = []
    for n_jobs in (1, 2):
        pool = FitPool(n_jobs)
        handles = [pool.submit(est, x, target, x) for est, target in jobs]
        assert len(pool._groups) == 1 and len(next(iter(pool._groups.values())).members) == 2
        outputs.append([h.result() for h in handles])
        pool.cancel_pending()
    for (est_1, proba_1, seconds), (_, proba_2, _) in zip(*outputs):
        np.testing.assert_array_equal(proba_1, proba_2)
        assert seconds >= 0 and hasattr(est_1, "classes_")


@pytest.mark.parametrize(("widths", "n_outputs"), [([8, 50, 1], 1), ([8, 1, 6, 1], 1), ([8, 16, 3], 3)])
def test_the_hand_written_gradients_are_autograds(widths, n_outputs):
    """The backward pass written out (width-1 layers as products and sums) is the derivative of the loss."""
    import torch

    from privib.evaluation import torch_mlp

    torch.manual_seed(0)
    k, rows, alpha = 3, 40, 1e-3
    weights = [torch.randn(k, a, b, dtype=torch.float64, requires_grad=True) for a, b in zip(widths[:-1], widths[1:])]
    biases = [torch.randn(k, 1, b, dtype=torch.float64, requires_grad=True) for b in widths[1:]]
    x = torch.randn(k, rows, widths[0], dtype=torch.float64)
    binary = n_outputs == 1
    y = torch.randint(0, 2 if binary else n_outputs, (k, rows))
    y = y.to(torch.float64) if binary else y
    with torch.no_grad():
        grads, loss = torch_mlp._gradients(weights, biases, x, y, binary, alpha, True)
    total = torch_mlp._loss(torch_mlp._forward(weights, biases, x), y, binary)
    penalty = 0.5 * alpha * sum((w * w).sum((1, 2)) for w in weights) / rows
    expected = torch.autograd.grad((total + penalty).sum(), weights + biases)
    torch.testing.assert_close(loss, total.detach())
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want)
