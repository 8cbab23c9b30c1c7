"""Stronger attackers of a sampled release: the encoder holder, and the average of k releases.

A release of one draw z ~ q(z|x) per record is attacked by the battery of
:mod:`privib.evaluation.leakage` on one noisy draw per training record. Two attackers a real
adversary has go further:

- **The encoder holder** holds the exported encoder and auxiliary records with their
  sensitive attribute (here: the training split). It computes q(z|x_i) = N(mean_i, diag(scale_i^2))
  for each of them exactly and scores a released code z by the posterior under their mixture,
  ``p(s=c | z) ∝ sum_{i: s_i = c} N(z; mean_i, diag(scale_i^2))``: the Bayes-optimal attack when
  the released records come from the population the auxiliary records sample, estimated from
  the encoder's own densities rather than learned from one noisy draw
  (:class:`MixturePosteriorAttacker`). It joins the headline maximum over attackers as
  ``leakage/<attr>/encoder_holder/{acc,bacc,auc}``.
- **Repeated releases**: a record released k times with independent noise gives the attacker
  the average mean + scale * (eps_1 + ... + eps_k) / k, a draw of N(mean, diag(scale^2) / k); as k
  grows it becomes the mean of q(z|x). ``leakage/<attr>/k<k>/...`` is the best of the battery
  (fitted on k-release averages of the training records, scored on those of the test records)
  and the encoder holder (its Gaussians narrowed by 1/k) on that average.

For a release without noise (the mean, a deterministic encoder, a cell) the average of k
releases is the release itself: the k keys copy the one-release headline and no encoder holder
is added (the holder of a deterministic encoder computes the released codes of its auxiliary
records, which is what the battery is fitted on).

Cost: the mixture posterior is one (rows, 2 z_dim) x (2 z_dim, train rows) product and a
log-sum-exp per class, in blocks of 1M cells (test rows x training rows: 4 MB in float32, 1.5x faster than
4M), in float32; on Adult (24,129 x 15,060 rows, z_dim 8) about 0.5-0.6 s on one core, per attribute and
per k (about twice that in float64).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin

from privib.errors import ConfigError
from privib.evaluation.attackers import FitPool, default_attackers, resolve_estimators
from privib.evaluation.leakage import AttackResult, attack_metrics, check_attack_inputs

__all__ = [
    "HOLDER",
    "K_FIGURES",
    "MixturePosteriorAttacker",
    "ReleaseAttacks",
    "average_of_releases",
    "check_release_options",
    "encoder_holder_attack",
    "k_release_audit",
    "k_release_figures",
]

HOLDER = "encoder_holder"
# Figures of the k-release audit, under leakage/<attr>/k<k>/ (the battery's best and the holder's AUC beside them).
K_FIGURES = ("auc_max", "auc_max_lo", "auc_max_hi", "acc_max", "bacc_max", "mi_bits_lb")
_CHUNK_CELLS = 1_000_000  # test rows x training rows held at once (4 MB in float32; 4M took 1.5x as long, docs/performance.md)


class MixturePosteriorAttacker(ClassifierMixin, BaseEstimator):
    """p(s | z) under the mixture of the auxiliary records' Gaussians q(z|x_i): the encoder holder's attack.

    ``fit(X, y)``: ``X`` is ``[mean | scale]`` of q(z|x) for the auxiliary records, shape
    (n, 2 * z_dim), ``y`` their attribute. ``predict_proba(Z)`` scores codes ``Z`` (m, z_dim) by
    ``p(s=c | z) ∝ sum_{i: y_i = c} N(z; mean_i, diag(scale_i^2) / releases)``, which weighs each class by
    its share of the auxiliary records. ``releases``: the codes are averages of that many independent
    draws. Computed in chunks of ``chunk_cells`` (test rows x auxiliary rows); no randomness. ``dtype``:
    ``"float32"`` (default) takes the densities' products and exponentials in float32 and their sums in
    float64: 1.6x faster than ``"float64"`` (exact to rounding) at Adult's sizes, up to 5x where float64's
    exponentials underflow; the posteriors agree within 2e-6 on the benchmark's codes and 3e-4 with scales
    down to 0.05 over 8 releases, and the default run's holder AUC is the same to 4 decimals (docs/performance.md).
    """

    def __init__(self, releases: int = 1, chunk_cells: int = _CHUNK_CELLS, dtype: str = "float32") -> None:
        self.releases = releases
        self.chunk_cells = chunk_cells
        self.dtype = dtype

    def fit(self, X: ArrayLike, y: ArrayLike) -> MixturePosteriorAttacker:
        """Store the auxiliary records' Gaussians, grouped by class."""
        data = np.asarray(X, dtype=np.float64)
        labels = np.asarray(y).ravel()
        if data.ndim != 2 or data.shape[1] % 2 or data.shape[0] != labels.shape[0] or data.shape[0] == 0:
            raise ValueError(f"X must be [mean | scale] of shape (n, 2 * z_dim) with one label per row, got {data.shape}")
        if int(self.releases) < 1:
            raise ValueError(f"releases must be >= 1, got {self.releases}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        d = data.shape[1] // 2
        mean, scale = data[:, :d], data[:, d:]
        if not (np.isfinite(data).all() and (scale > 0).all()):
            raise ValueError("the encoder holder needs finite means and scales > 0 (a stochastic encoder)")
        self.classes_, index = np.unique(labels, return_inverse=True)
        order = np.argsort(index, kind="stable")
        precision = int(self.releases) / scale[order] ** 2
        self.center_ = mean.mean(axis=0)  # codes and means centred: smaller terms, less cancellation in float32
        mean = mean[order] - self.center_
        # log N(z; mean, 1/precision) = -0.5 z^2 . p + z . (mean p) + offset, the constant -d/2 log(2 pi) dropped
        self.weights_ = np.ascontiguousarray(np.concatenate([-0.5 * precision, mean * precision], axis=1).T)
        self.offset_ = -0.5 * np.sum(mean * mean * precision, axis=1) + 0.5 * np.sum(np.log(precision), axis=1)
        self.bounds_ = np.concatenate([[0], np.cumsum(np.bincount(index, minlength=len(self.classes_)))])
        self.n_features_in_ = d
        return self

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """log p(s=c | z) per code (rows) and class (columns, as ``classes_``)."""
        z = np.asarray(X, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.n_features_in_:
            raise ValueError(f"codes must have shape (rows, {self.n_features_in_}), got {z.shape}")
        dtype = np.dtype(self.dtype)
        z = (z - self.center_).astype(dtype)
        weights, offset = self.weights_.astype(dtype), self.offset_.astype(dtype)
        n_train = weights.shape[1]
        step = max(1, int(self.chunk_cells) // n_train)
        out = np.empty((z.shape[0], len(self.classes_)))
        for start in range(0, z.shape[0], step):
            chunk = z[start : start + step]
            log_density = np.concatenate([chunk * chunk, chunk], axis=1) @ weights
            log_density += offset
            for c in range(len(self.classes_)):
                block = log_density[:, self.bounds_[c] : self.bounds_[c + 1]]
                top = block.max(axis=1, keepdims=True)
                block -= top
                np.exp(block, out=block)
                out[start : start + step, c] = top[:, 0] + np.log(block.sum(axis=1, dtype=np.float64))
        top = out.max(axis=1, keepdims=True)
        return out - (top + np.log(np.exp(out - top).sum(axis=1, keepdims=True)))

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """p(s=c | z) per code (rows) and class (columns, as ``classes_``)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X: ArrayLike) -> NDArray:
        """The most probable class of each code."""
        return self.classes_[np.argmax(self.predict_log_proba(X), axis=1)]


def average_of_releases(mean: NDArray, scale: NDArray, k: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """The average of ``k`` independent draws z ~ q(z|x) per row, float32 like a release.

    Drawn as mean + scale * eps / sqrt(k) with eps ~ N(0, I): the same distribution as averaging k draws.
    """
    eps = rng.standard_normal(mean.shape, dtype=np.float32)
    return (mean + scale * (eps / np.float32(np.sqrt(k)))).astype(np.float32, copy=False)


class ReleaseAttacks:
    """The encoder holder and the k-release audit of one release, run on a :class:`FitPool` beside the battery.

    ``active``: the release is one draw of a stochastic encoder (and ``scale`` is given); otherwise nothing
    is fitted and :meth:`figures` copies the one-release headline into the k keys. Call :meth:`submit_holder` with the
    released test codes (the ones the battery attacks), take :meth:`holder` jobs into the released
    headline, :meth:`submit_releases` once the jobs needed sooner are queued, then :meth:`figures`.
    """

    def __init__(
        self,
        pool: FitPool,
        attackers: Mapping[str, BaseEstimator],
        attributes: Sequence[str],
        mean: tuple[NDArray, NDArray],
        scale: tuple[NDArray, NDArray] | None,
        s_train: NDArray,
        s_test: NDArray,
        k_releases: Sequence[int] = (2, 8),
        encoder_holder: bool = True,
        n_boot: int = 200,
        seed: int = 0,
        active: bool = True,
    ) -> None:
        self.pool, self.attackers, self.attributes = pool, dict(attackers), list(attributes)
        self.mean, self.scale = mean, scale
        self.s_train, self.s_test = np.asarray(s_train).reshape(len(mean[0]), -1), np.asarray(s_test).reshape(len(mean[1]), -1)
        self.k_releases, self.encoder_holder = [int(k) for k in k_releases], bool(encoder_holder)
        self.n_boot, self.seed, self.active = n_boot, seed, active and scale is not None
        self._holder: dict[str, dict[str, Any]] = {}
        self._k_jobs: dict[tuple[str, int], tuple[dict[str, Any], NDArray, NDArray]] = {}
        self._aux = np.hstack([mean[0], scale[0]]).astype(np.float64) if self.active and scale is not None else None

    def submit_holder(self, z_test: NDArray) -> None:
        """Queue the encoder holder on the released test codes ``z_test``, one job per attribute."""
        if not (self.active and self.encoder_holder):
            return
        for i, attribute in enumerate(self.attributes):
            self._holder[attribute] = {HOLDER: self.pool.submit(MixturePosteriorAttacker(), self._aux, self.s_train[:, i],
                                                                np.asarray(z_test, dtype=np.float64))}

    def holder(self, attribute: str) -> dict[str, Any]:
        """The encoder holder's job for ``attribute`` (empty when it does not run), to join the released attackers."""
        return self._holder.get(attribute, {})

    def submit_releases(self) -> None:
        """Queue, per k, the battery on k-release averages and the encoder holder with its Gaussians narrowed by 1/k."""
        if not self.active or self.scale is None:
            return
        (mean_train, mean_test), (scale_train, scale_test) = self.mean, self.scale
        for k in self.k_releases:
            rng = np.random.default_rng([self.seed, k])
            avg_train = average_of_releases(mean_train, scale_train, k, rng)
            avg_test = average_of_releases(mean_test, scale_test, k, rng)
            for i, attribute in enumerate(self.attributes):
                xtr, s_tr, xte, s_te = check_attack_inputs(avg_train, self.s_train[:, i], avg_test, self.s_test[:, i])
                jobs = {name: self.pool.submit(est, xtr, s_tr, xte) for name, est in self.attackers.items()}
                if self.encoder_holder:
                    jobs[HOLDER] = self.pool.submit(MixturePosteriorAttacker(releases=k), self._aux, s_tr, xte)
                self._k_jobs[(attribute, k)] = (jobs, s_tr, s_te)

    def figures(self, released: Mapping[str, float], timer: Any = None) -> dict[str, float]:
        """``leakage/<attr>/k<k>/...``; ``released`` holds the one-release ``leakage/<attr>/...`` keys (copied when inactive)."""
        out: dict[str, float] = {}
        if not self.active:
            for attribute in self.attributes:
                for k in self.k_releases:
                    prefix = f"leakage/{attribute}/"
                    out.update({f"{prefix}k{k}/{f}": released[prefix + f] for f in K_FIGURES if prefix + f in released})
                    if prefix + "auc_max" in released:
                        out[f"{prefix}k{k}/battery_auc_max"] = released[prefix + "auc_max"]
            return out
        for (attribute, k), (jobs, s_tr, s_te) in self._k_jobs.items():
            results = {name: job.result() for name, job in jobs.items()}
            if timer is not None:
                timer.add("k_release", sum(seconds for _, _, seconds in results.values()))
            figures = k_release_figures({n: (est, proba) for n, (est, proba, _) in results.items()}, s_tr, s_te,
                                        self.n_boot, self.seed)
            out.update({f"leakage/{attribute}/k{k}/{name}": value for name, value in figures.items()})
        return out


def k_release_figures(fitted_probas: Mapping[str, tuple[Any, ArrayLike]], s_train: ArrayLike, s_test: ArrayLike,
                      n_boot: int = 200, random_state: int = 0) -> dict[str, float]:
    """The k-release figures (:data:`K_FIGURES`, ``battery_auc_max``, ``encoder_holder_auc``) from fitted attackers."""
    metrics = attack_metrics(fitted_probas, s_train, s_test, n_boot=n_boot, random_state=random_state).metrics
    out = {name: metrics[name] for name in K_FIGURES}
    battery = [metrics[f"{name}/auc"] for name in fitted_probas if name != HOLDER]
    if battery:
        out["battery_auc_max"] = float(np.nanmax(battery)) if not np.all(np.isnan(battery)) else float("nan")
    if HOLDER in fitted_probas:
        out[f"{HOLDER}_auc"] = metrics[f"{HOLDER}/auc"]
    return out


def encoder_holder_attack(
    mean_train: ArrayLike,
    scale_train: ArrayLike,
    s_train: ArrayLike,
    z_test: ArrayLike,
    s_test: ArrayLike,
    releases: int = 1,
    n_boot: int = 200,
    random_state: int = 0,
) -> AttackResult:
    """The encoder holder alone: q(z|x) of the training records scores released test codes ``z_test``.

    ``releases``: ``z_test`` are averages of that many draws. Figures as :func:`privib.evaluation.leakage.attack`
    (``encoder_holder/{acc,bacc,auc}``, ``auc_max`` with its interval, ``mi_bits_lb``...).
    """
    aux = np.hstack([np.asarray(mean_train, dtype=np.float64), np.asarray(scale_train, dtype=np.float64)])
    s_tr, s_te = np.asarray(s_train).ravel(), np.asarray(s_test).ravel()
    attacker = MixturePosteriorAttacker(releases=releases).fit(aux, s_tr)
    return attack_metrics({HOLDER: (attacker, attacker.predict_proba(z_test))}, s_tr, s_te, n_boot=n_boot,
                          random_state=random_state)


def k_release_audit(
    mean_train: ArrayLike,
    scale_train: ArrayLike,
    s_train: ArrayLike,
    mean_test: ArrayLike,
    scale_test: ArrayLike,
    s_test: ArrayLike,
    k_releases: Sequence[int] = (2, 8),
    attackers: Sequence[Mapping[str, Any]] | Mapping[str, BaseEstimator] | None = None,
    encoder_holder: bool = True,
    n_boot: int = 200,
    random_state: int = 0,
) -> dict[str, dict[str, float]]:
    """Leakage of the average of k releases of each record, for one attribute: ``{"k<k>": figures}``.

    ``attackers``: specs or estimators of the battery (None: the default battery); ``encoder_holder`` adds
    the mixture posterior. Fitted one after the other here; the audit runs the same jobs on its pool.
    """
    mean = (np.asarray(mean_train, dtype=np.float32), np.asarray(mean_test, dtype=np.float32))
    scale = (np.asarray(scale_train, dtype=np.float32), np.asarray(scale_test, dtype=np.float32))
    estimators = resolve_estimators(default_attackers(random_state) if attackers is None else attackers, random_state)
    runs = ReleaseAttacks(FitPool(1), estimators, ["s"], mean, scale, np.asarray(s_train), np.asarray(s_test),
                          k_releases, encoder_holder, n_boot, random_state)
    runs.submit_releases()
    figures = runs.figures({})
    return {f"k{k}": {key.rsplit("/", 1)[1]: v for key, v in figures.items() if key.startswith(f"leakage/s/k{k}/")}
            for k in runs.k_releases}


def check_release_options(k_releases: Any, encoder_holder: Any) -> None:
    """ConfigError unless ``k_releases`` is a list of distinct integers >= 2 and ``encoder_holder`` a boolean."""
    if not isinstance(encoder_holder, bool):
        raise ConfigError(f"evaluation.encoder_holder must be true or false, got {encoder_holder!r}")
    if not isinstance(k_releases, (list, tuple)) or not all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 2 for k in k_releases):
        raise ConfigError(f"evaluation.k_releases must be a list of integers >= 2 (e.g. [2, 8]; [] skips it), got {k_releases!r}")
    if len(set(k_releases)) != len(k_releases):
        raise ConfigError(f"evaluation.k_releases lists a k twice: {list(k_releases)}")
