"""Learned fair representations (Zemel et al. 2013): fairlearn's ``PrototypeRepresentationLearner``.

The released code of a record is its soft membership in ``n_prototypes`` learned prototypes (a
softmax of minus its weighted distance to each); the prototypes' labels predict the task. fairlearn
minimizes its objective (reconstruction + task log-loss + a demographic-parity term) with L-BFGS-B on
finite-difference gradients, one objective evaluation per parameter per step: ~160 s for 14 steps on
2,000 Adult rows. :class:`GradientLFR` is the same estimator, the same objective, bounds and
initialization, given the objective's exact gradient (torch autograd, float64), so it fits the whole
training split in seconds; transform, predict and predict_proba are fairlearn's own.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from privib.baselines.release import SPLITS, BaselineData, BaselineRelease
from privib.errors import ConfigError

__all__ = ["lfr_objective", "GradientLFR", "lfr_release"]


def lfr_objective(params: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None, groups: list[torch.Tensor],
                  n_prototypes: int, weights: tuple[float, float, float]) -> torch.Tensor:
    """fairlearn's LFR loss at ``params`` = [prototypes V (k x d), prototype labels w (k), dimension weights alpha (d)].

    ``weights``: (reconstruction, target, fairness). Memberships M = softmax(-||x - v_k||_alpha); loss =
    mean ||x - M V||^2 + log-loss(y, clip(M w)) + mean over group pairs and prototypes of |mean M_g - mean M_h|.
    """
    d = x.shape[1]
    v = params[: n_prototypes * d].reshape(n_prototypes, d)
    w = params[n_prototypes * d : n_prototypes * d + n_prototypes]
    alpha = params[n_prototypes * d + n_prototypes :]
    squared = (x * x) @ alpha[:, None] - 2.0 * (x * alpha) @ v.T + ((v * v) @ alpha)[None, :]
    memberships = torch.softmax(-torch.sqrt(squared.clamp_min(1e-18)), dim=1)
    loss = weights[0] * ((x - memberships @ v) ** 2).sum(dim=1).mean()
    if y is not None:
        tiny = float(np.finfo(np.float64).eps)
        p = (memberships @ w).clamp(tiny, 1.0 - tiny)
        loss = loss - weights[1] * (y * torch.log(p) + (1.0 - y) * torch.log(1.0 - p)).mean()
    if len(groups) > 1:
        means = torch.stack([memberships[g].mean(dim=0) for g in groups])
        first, second = torch.triu_indices(len(groups), len(groups), offset=1)
        loss = loss + weights[2] * (means[first] - means[second]).abs().mean()
    return loss


def _base() -> type:
    try:
        from fairlearn.preprocessing import PrototypeRepresentationLearner
    except ImportError as exc:  # fairlearn < 0.13
        raise ConfigError("baseline.kind lfr needs fairlearn >= 0.13 (PrototypeRepresentationLearner): "
                          "pip install -U fairlearn") from exc
    return PrototypeRepresentationLearner


class GradientLFR(_base()):  # type: ignore[misc]
    """fairlearn's PrototypeRepresentationLearner, minimized with the exact gradient of its objective."""

    def _optimize(self, X: NDArray, y: NDArray | None, sensitive_features: Any, random_state: Any) -> GradientLFR:
        from scipy.optimize import minimize

        k, d = self.n_prototypes, X.shape[1]
        self._groups = sensitive_features.unique() if sensitive_features is not None else None
        self._prototype_dim, self._prototype_predictions_size = d, k
        self._prototype_vectors_size = k * d
        self._optimizer_size = k * d + k + d
        x0 = np.concatenate([random_state.rand(k, d).ravel(), random_state.rand(k), np.ones(d)])
        bounds = [(None, None)] * (k * d) + [(0, 1)] * k + [(0, None)] * d
        xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
        yt = torch.as_tensor(np.asarray(y, dtype=np.float64)) if y is not None else None
        labels = np.asarray(sensitive_features) if sensitive_features is not None else np.zeros(len(X))
        groups = [torch.as_tensor(labels == g) for g in np.unique(labels)] if self._groups is not None else []
        weights = (float(self.reconstruct_weight), float(self.target_weight), float(self.fairness_weight))

        def value_and_gradient(flat: NDArray) -> tuple[float, NDArray]:
            params = torch.as_tensor(flat, dtype=torch.float64).requires_grad_(True)
            loss = lfr_objective(params, xt, yt, groups, k, weights)
            loss.backward()
            return float(loss.detach()), params.grad.numpy().copy()

        result = minimize(value_and_gradient, x0=x0, jac=True, bounds=bounds, method="L-BFGS-B", tol=self.tol,
                          options={"maxiter": self.max_iter})
        self.coef_ = result.x[k * d : k * d + k]
        self._prototypes_ = result.x[: k * d].reshape(k, d)
        self._alpha_ = result.x[k * d + k :]
        self.n_iter_ = result.nit
        return self


def lfr_release(data: BaselineData, n_prototypes: int = 8, reconstruct_weight: float = 0.01, fairness_weight: float = 1.0,
                max_iter: int = 200, seed: int = 0) -> BaselineRelease:
    """Prototype memberships of a GradientLFR fitted on the training split (sensitive groups: the attributes'
    intersection); the head is the prototypes' task labels weighted by those memberships."""
    data.require_binary("lfr")
    started = time.perf_counter()
    model = GradientLFR(n_prototypes=n_prototypes, reconstruct_weight=reconstruct_weight, fairness_weight=fairness_weight,
                        max_iter=max_iter, random_state=seed)
    with threadpool_limits(limits=1):
        model.fit(np.asarray(data.x["train"], dtype=np.float64), data.y["train"], sensitive_features=data.groups("train"))
        codes = {split: model.transform(np.asarray(data.x[split], dtype=np.float64)).astype(np.float32) for split in SPLITS}
        head = {split: model.predict_proba(np.asarray(data.x[split], dtype=np.float64)).astype(np.float32)
                for split in ("val", "test")}
    return BaselineRelease(
        codes=codes, head=head,
        info={"fit_s": time.perf_counter() - started, "iterations": float(model.n_iter_)},
    )
