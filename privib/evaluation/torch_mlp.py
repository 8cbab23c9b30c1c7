"""A scikit-learn classifier: a ReLU MLP trained in torch, several of them at once.

:class:`TorchMLPClassifier` is the audit's MLP attacker and probe. It trains the model of
scikit-learn's ``MLPClassifier`` (same parameters and defaults: ReLU layers of
``hidden_layer_sizes``, a logistic or softmax output, L2 penalty ``alpha``, Adam with sklearn's
step rule, Glorot-uniform initialization, mini-batches of ``batch_size`` rows in a fresh order each
epoch, early stopping on a stratified ``validation_fraction`` of the training rows with the best
weights restored) with two differences:

- **Early stopping watches the validation log-loss**, not the validation accuracy. On a weak signal
  (a representation that leaks a little) the accuracy stays at the majority class for epochs while the
  loss improves, so an accuracy-watching MLP stops early and scores below a linear model; the loss
  keeps the attacker training while it still learns (docs/performance.md has the figures).
- **Float32, written out by hand**: forward and backward are a few batched matrix products (a width-1
  output layer as products and sums, which torch runs faster on CPU than a batched matrix product) and the
  Adam update six kernels on all parameters at once, with no autograd graph, so an update costs a fixed ~20 kernel calls.

:meth:`TorchMLPClassifier.fit_batch` trains several classifiers with the same parameters (their
``random_state`` aside) as one batched model: member ``k`` has its own data (``xs[k]``, ``ys[k]``: e.g.
the same codes and another target, or another representation of the same rows), its own seed, split,
batch order and early stopping, and its own result, the same as fitted alone. One batched update costs
little more than one member's, so K members cost far less than K fits. :class:`~privib.evaluation.attackers.FitPool`
batches compatible jobs this way by itself (:meth:`TorchMLPClassifier.batch_key`); a protocol that fits
one MLP with five seeds on the same codes submits five jobs, or calls ``fit_batch`` with five clones.
Every fit uses one torch thread (small matrices: more threads only add overhead).
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

__all__ = ["TorchMLPClassifier"]


class TorchMLPClassifier(ClassifierMixin, BaseEstimator):
    """ReLU MLP classifier trained with Adam in torch (see the module docstring for what differs from sklearn's).

    Args:
        hidden_layer_sizes: widths of the hidden layers.
        alpha: L2 penalty on the weights (not the biases), as in scikit-learn: ``0.5 * alpha * ||W||^2 / batch``.
        batch_size: rows per update; ``"auto"`` is ``min(200, n_rows)``.
        learning_rate_init: Adam step size.
        max_iter: most epochs.
        tol: the improvement of the watched loss that counts as one.
        early_stopping: hold out ``validation_fraction`` of the rows (stratified), watch their log-loss and
            restore the best weights; False watches the training loss and keeps the last weights.
        validation_fraction: share of the training rows held out for early stopping.
        n_iter_no_change: stop after more than this many epochs without an improvement of at least ``tol``.
        beta_1, beta_2, epsilon: Adam's parameters.
        random_state: seed of the initialization, the split and the batch order (None: numpy's global state).

    Attributes (after ``fit``): ``classes_``, ``coefs_`` and ``intercepts_`` (float32 arrays per layer),
    ``n_iter_`` (epochs run), ``best_loss_`` (the best watched loss), ``n_features_in_``.
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (100,),
        alpha: float = 1e-4,
        batch_size: int | str = "auto",
        learning_rate_init: float = 1e-3,
        max_iter: int = 200,
        tol: float = 1e-4,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        random_state: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.random_state = random_state

    # ------------------------------------------------------------------ scikit-learn API
    def fit(self, X: ArrayLike, y: ArrayLike) -> TorchMLPClassifier:
        """Train on ``(X, y)``; returns self."""
        type(self).fit_batch([self], [X], [y])
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray:
        """Class probabilities, one column per entry of ``classes_``."""
        check_is_fitted(self, "coefs_")
        h = _float32_matrix(X, self.n_features_in_)
        for w, b in zip(self.coefs_[:-1], self.intercepts_[:-1]):
            h = np.maximum(h @ w + b, 0.0)
        out = (h @ self.coefs_[-1] + self.intercepts_[-1]).astype(np.float64)
        if out.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-np.clip(out[:, 0], -80.0, 80.0)))
            return np.column_stack([1.0 - p, p])
        out -= out.max(axis=1, keepdims=True)
        np.exp(out, out=out)
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, X: ArrayLike) -> NDArray:
        """The most probable class of each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # ------------------------------------------------------------------ batched training
    def batch_key(self, X: ArrayLike, y: ArrayLike) -> Hashable:
        """What fits of this classifier on ``(X, y)`` must share to be trained together by :meth:`fit_batch`."""
        params = {k: v for k, v in self.get_params().items() if k != "random_state"}
        params["hidden_layer_sizes"] = tuple(int(w) for w in np.atleast_1d(params["hidden_layer_sizes"]))
        return (type(self).__qualname__, tuple(sorted(params.items())), np.shape(X), np.unique(np.asarray(y)).size)

    @classmethod
    def fit_batch(cls, estimators: Sequence[TorchMLPClassifier], xs: Sequence[ArrayLike],
                  ys: Sequence[ArrayLike]) -> list[TorchMLPClassifier]:
        """Train ``estimators[k]`` on ``(xs[k], ys[k])`` for every k as one batched model; returns the estimators.

        They must have the same parameters except ``random_state``, inputs of one shape and targets with the
        same number of classes; each result is that of fitting the member alone, up to float rounding.
        """
        if not estimators or len({len(estimators), len(xs), len(ys)}) != 1:
            raise ValueError("fit_batch needs one X and one y per estimator")
        keys = {e.batch_key(x, y) for e, x, y in zip(estimators, xs, ys)}
        if len(keys) != 1:
            raise ValueError("fit_batch trains classifiers with the same parameters (but random_state) on inputs of one shape")
        for estimator in estimators:
            estimator._validate_params()
        members = [_Member(e, x, y) for e, x, y in zip(estimators, xs, ys)]
        if len({m.n_outputs for m in members}) != 1:
            raise ValueError("fit_batch trains classifiers whose targets have the same number of classes")
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            results = _train(estimators[0], members)
        finally:
            torch.set_num_threads(threads)
        for member, (coefs, intercepts, n_iter, best) in zip(members, results):
            est = member.estimator
            est.classes_, est.n_features_in_ = member.classes, member.x.shape[1]
            est.coefs_, est.intercepts_, est.n_iter_, est.best_loss_ = coefs, intercepts, n_iter, best
        return list(estimators)


class _Member:
    """One classifier's data, encoded labels, split and random generator."""

    def __init__(self, estimator: TorchMLPClassifier, x: ArrayLike, y: ArrayLike) -> None:
        self.estimator = estimator
        self.x = _float32_matrix(x)
        y = np.asarray(y).ravel()
        if y.shape[0] != self.x.shape[0]:
            raise ValueError(f"X has {self.x.shape[0]} rows, y has {y.shape[0]}")
        self.classes, codes = np.unique(y, return_inverse=True)
        if self.classes.size < 2:
            raise ValueError("y needs at least two classes")
        self.n_outputs = 1 if self.classes.size == 2 else int(self.classes.size)
        rng = check_random_state(estimator.random_state)
        if estimator.early_stopping:
            idx = np.arange(len(y))
            train, val = train_test_split(idx, random_state=rng, test_size=estimator.validation_fraction, stratify=codes)
            if val.size < 2:
                raise ValueError("the validation split is too small: raise validation_fraction or give more rows")
        else:
            train, val = np.arange(len(y)), np.arange(0)
        self.train, self.val, self.codes = train, val, codes
        self.seed = int(rng.randint(0, 2**31 - 1))


def _train(params: TorchMLPClassifier, members: list[_Member]) -> list[tuple[list[NDArray], list[NDArray], int, float]]:
    """Adam on all members at once; per member: (coefs, intercepts, epochs run, best watched loss).

    Each member's weights and biases live in one row of ``flat`` (weights first); the layers are views of it,
    so Adam, the best-state copies and dropping stopped members are one operation each, not one per layer.
    """
    import torch

    k_all, binary = len(members), members[0].n_outputs == 1
    generators = [torch.Generator().manual_seed(m.seed) for m in members]
    x_tr = torch.from_numpy(np.stack([m.x[m.train] for m in members]))
    x_val = torch.from_numpy(np.stack([m.x[m.val] for m in members]))
    target = torch.float32 if binary else torch.int64
    y_tr = torch.from_numpy(np.stack([m.codes[m.train] for m in members])).to(target)
    y_val = torch.from_numpy(np.stack([m.codes[m.val] for m in members])).to(target)
    widths = [x_tr.shape[2], *(int(w) for w in np.atleast_1d(params.hidden_layer_sizes)), members[0].n_outputs]
    weights, biases = _glorot(widths, generators)
    shapes = [tuple(t.shape[1:]) for t in weights + biases]
    flat = torch.cat([t.reshape(k_all, -1) for t in weights + biases], 1)
    n_train, n_weights = x_tr.shape[1], sum(math.prod(s) for s in shapes[:len(weights)])
    weights, biases = _layers(flat, shapes)
    batch = min(200, n_train) if params.batch_size == "auto" else min(int(params.batch_size), n_train)
    m1, m2, best_state = torch.zeros_like(flat), torch.zeros_like(flat), flat.clone()
    best = torch.full((k_all,), math.inf, dtype=torch.float64)
    stale = torch.zeros(k_all, dtype=torch.int64)
    active = torch.arange(k_all)  # members still training, in the order of the rows of flat
    epochs, step = [0] * k_all, 0
    for epoch in range(1, params.max_iter + 1):
        order = torch.stack([torch.randperm(n_train, generator=generators[int(k)]) for k in active])
        flat_order = (active.unsqueeze(1) * n_train + order).view(-1)  # index_select: 15x faster than x_tr[k, order]
        xe = x_tr.view(-1, x_tr.shape[2]).index_select(0, flat_order).view(len(active), n_train, -1)
        ye = y_tr.view(-1).index_select(0, flat_order).view(len(active), n_train)
        batch_losses = []
        for start in range(0, n_train, batch):
            xb, yb = xe[:, start:start + batch], ye[:, start:start + batch]
            step += 1
            grads, loss = _gradients(weights, biases, xb, yb, binary, params.alpha, not params.early_stopping)
            if loss is not None:
                batch_losses.append(loss * xb.shape[1])
            _adam(flat, torch.cat([g.reshape(len(active), -1) for g in grads], 1), m1, m2, step, params)
        for k in active.tolist():
            epochs[k] = epoch
        with torch.no_grad():
            if params.early_stopping:
                watched = _loss(_forward(weights, biases, x_val[active]), y_val[active], binary).double()
            else:
                penalty = 0.5 * params.alpha * flat[:, :n_weights].double().square().sum(1)
                watched = torch.stack(batch_losses).double().sum(0) / n_train + penalty / batch
        current = best[active]
        stale[active] = torch.where(watched <= current - params.tol, 0, stale[active] + 1)  # NaN: no improvement
        improved = watched < current
        if params.early_stopping and improved.any():
            best_state[active[improved]] = flat[improved]
        best[active] = torch.fmin(current, watched)
        done = stale[active] > params.n_iter_no_change
        if not params.early_stopping and done.any():
            best_state[active[done]] = flat[done]
        if done.all():
            break
        if done.any():  # drop the stopped members from the batch
            keep = ~done
            active, flat, m1, m2 = active[keep], flat[keep], m1[keep], m2[keep]
            weights, biases = _layers(flat, shapes)
    if not params.early_stopping:  # members that ran out of epochs keep their last weights
        best_state[active] = flat
    saved_w, saved_b = _layers(best_state, shapes)
    return [([w[k].numpy().copy() for w in saved_w], [b[k, 0].numpy().copy() for b in saved_b], epochs[k], float(best[k]))
            for k in range(k_all)]


def _layers(flat: Any, shapes: list[tuple[int, ...]]) -> tuple[list[Any], list[Any]]:
    """The weights and biases of every member as views of the rows of ``flat`` (per-member shapes ``shapes``)."""
    views, offset = [], 0
    for shape in shapes:
        size = math.prod(shape)
        views.append(flat[:, offset:offset + size].view(flat.shape[0], *shape))
        offset += size
    half = len(shapes) // 2
    return views[:half], views[half:]


def _glorot(widths: list[int], generators: list[Any]) -> tuple[list[Any], list[Any]]:
    """scikit-learn's initialization, per member: uniform in +-sqrt(6 / (fan_in + fan_out)) for weights and biases."""
    import torch

    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        w = [(torch.rand(fan_in, fan_out, generator=g) * 2 - 1) * bound for g in generators]
        b = [(torch.rand(1, fan_out, generator=g) * 2 - 1) * bound for g in generators]
        weights.append(torch.stack(w))
        biases.append(torch.stack(b))
    return weights, biases


def _forward(weights: list[Any], biases: list[Any], x: Any) -> Any:
    h = x
    for w, b in zip(weights[:-1], biases[:-1]):
        h = _affine(h, w, b).relu_()
    return _affine(h, weights[-1], biases[-1])


def _affine(h: Any, w: Any, b: Any) -> Any:
    """``b + h @ w`` per member; a width-1 ``w`` as a product and a sum, 3x faster than torch's CPU bmm for it."""
    import torch

    if w.shape[2] == 1:
        return torch.mul(h, w.transpose(1, 2)).sum(2, keepdim=True).add_(b)
    return torch.baddbmm(b, h, w)


def _loss(out: Any, y: Any, binary: bool) -> Any:
    """Mean log-loss per member."""
    from torch.nn import functional as F

    if binary:
        return F.binary_cross_entropy_with_logits(out.squeeze(2), y, reduction="none").mean(1)
    return F.cross_entropy(out.transpose(1, 2), y, reduction="none").mean(1)


def _gradients(weights: list[Any], biases: list[Any], x: Any, y: Any, binary: bool, alpha: float,
               with_loss: bool) -> tuple[list[Any], Any]:
    """Gradients of the mean log-loss plus the L2 term (weights first, then biases), and the loss when asked."""
    import torch

    acts = [x]
    for w, b in zip(weights[:-1], biases[:-1]):
        acts.append(_affine(acts[-1], w, b).relu_())
    out = _affine(acts[-1], weights[-1], biases[-1])
    n = x.shape[1]
    loss = _loss(out, y, binary) if with_loss else None
    if binary:
        delta = torch.sigmoid(out).sub_(y.unsqueeze(2))
    else:
        delta = torch.softmax(out, dim=2)
        delta.scatter_add_(2, y.unsqueeze(2), torch.full_like(delta[:, :, :1], -1.0))
    delta.div_(n)
    grad_w: list[Any] = [None] * len(weights)
    grad_b: list[Any] = [None] * len(weights)
    decay = alpha / n
    for layer in range(len(weights) - 1, -1, -1):
        width_one = delta.shape[2] == 1  # the binary output: products and sums beat bmm (see _affine)
        if width_one:
            grad_w[layer] = torch.mul(acts[layer], delta).sum(1).unsqueeze(2).add_(weights[layer], alpha=decay)
        else:
            grad_w[layer] = torch.baddbmm(weights[layer], acts[layer].transpose(1, 2), delta, beta=decay)
        grad_b[layer] = delta.sum(1, keepdim=True)
        if layer:
            wt = weights[layer].transpose(1, 2)
            back = torch.mul(delta, wt) if width_one else torch.bmm(delta, wt)
            delta = torch.ops.aten.threshold_backward(back, acts[layer], 0)
    return grad_w + grad_b, loss


def _adam(flat: Any, grad: Any, m1: Any, m2: Any, step: int, params: TorchMLPClassifier) -> None:
    """scikit-learn's Adam update of the parameters ``flat`` in place, given their gradient ``grad``."""
    b1, b2 = params.beta_1, params.beta_2
    m1.lerp_(grad, 1 - b1)
    m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
    rate = params.learning_rate_init * math.sqrt(1 - b2**step) / (1 - b1**step)
    flat.addcdiv_(m1, m2.sqrt().add_(params.epsilon), value=-rate)


def _float32_matrix(x: ArrayLike, n_features: int | None = None) -> NDArray:
    arr = np.asarray(x, dtype=np.float32)
    arr = arr[:, None] if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array, got shape {arr.shape}")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"X has {arr.shape[1]} features, the classifier was fitted on {n_features}")
    if not np.isfinite(arr).all():
        raise ValueError("X contains NaN or infinite values")
    return np.ascontiguousarray(arr)
