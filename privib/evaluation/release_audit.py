"""The audit of released code arrays: what every release gets, a trained encoder's codes or a release baseline's.

:func:`audit_release` takes a :class:`Release` (the released train and test codes, and what else is
known about them) with the run's data and evaluation options, and returns the flat metric keys of
:mod:`privib.runs.keys`: the majority rate of the task (``task/test/majority``), the task figures of the
release's own predictor (``task/{val,test}/...``, ``fairness/<attr>/...``), the attacker battery and its headline with its interval
(``leakage/<attr>/...``), the encoder holder and k releases of a Gaussian release, the task probes
(``task/probe/...``), the raw-input reference, the transfer tasks and the downstream protocol. The
encoder audit (:func:`privib.evaluation.audit.audit`) and the release baselines
(:mod:`privib.pipeline.stages.release`) both call it, so a baseline run has the keys of any run.

Cost: every attacker and probe is an independent, seeded, single-threaded fit, submitted at once to a
pool of ``evaluation.n_jobs`` processes (1: here, one after the other), released attackers first: a
caller's robustness curves, computed in this process meanwhile, rescore them on perturbed inputs.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from privib.evaluation.options import EvaluationOptions
from privib.runs import keys

__all__ = ["Release", "Timer", "audit_release", "head_figures", "RAW_KEYS"]

Pair = tuple[NDArray, NDArray]
# The raw reference keeps these figures of the battery on the inputs (``leakage/<attr>/raw_<figure>``).
RAW_KEYS = ("auc_max", "auc_max_lo", "auc_max_hi", "acc_max", "bacc_max", "mi_bits_lb")


class Timer:
    """Seconds spent per named part of the audit (summed over repeated parts)."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = {}

    def __call__(self, name: str) -> Timer:
        self._name = name
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.add(self._name, time.perf_counter() - self._start)

    def add(self, name: str, seconds: float) -> None:
        self.parts[name] = self.parts.get(name, 0.0) + seconds


@dataclass
class Release:
    """The released codes of the train and test splits (rows x width) and what else the audit may use.

    ``head``: task class probabilities on ``val`` and/or ``test`` of the release's own predictor (a
    trained task head, a released prediction); None: the best task probe's test predictions stand in.
    ``gaussian``: ``((mean_train, mean_test), (scale_train, scale_test))`` when each released code is one
    draw of N(mean, diag(scale^2)): the encoder holder and the k-release audit then attack it.
    ``other``: the representation that is not released, ``(name, (train, test))`` attacked under
    ``leakage/<attr>/<name>/...``; codes None when it coincides with the released one (figures copied).
    """

    train: NDArray
    test: NDArray
    head: dict[str, NDArray] | None = None
    gaussian: tuple[Pair, Pair] | None = None
    other: tuple[str, Pair | None] | None = None


def head_figures(datamodule: Any, probabilities: dict[str, NDArray]) -> dict[str, float]:
    """``task/<split>/acc`` for each split given, ``task/test/{bacc,auc}`` and, for a binary task, the DP and
    EO gaps of the test predictions per sensitive attribute (``fairness/<attr>/...``)."""
    from privib.evaluation import metrics as M

    out: dict[str, float] = {}
    for split, proba in probabilities.items():
        out[f"task/{split}/acc"] = M.accuracy(datamodule.splits[split].y.numpy(), proba.argmax(axis=1))
    if "test" not in probabilities:
        return out
    test, proba = datamodule.splits["test"], probabilities["test"]
    y_test, pred = test.y.numpy(), proba.argmax(axis=1)
    out["task/test/bacc"] = M.balanced_accuracy(y_test, pred)
    out["task/test/auc"] = M.auc(y_test, proba, np.arange(proba.shape[1]))
    if len(datamodule.spec.target_classes) == 2:
        for i, attribute in enumerate(datamodule.spec.sensitive):
            gaps = M.fairness_gaps(y_test, pred, sensitive_features=test.s[:, i].numpy())
            out.update({f"fairness/{attribute}/{k}": v for k, v in gaps.items()})
    return out


def audit_release(
    datamodule: Any,
    release: Release,
    options: EvaluationOptions,
    seed: int,
    trusted: tuple[str, ...] = (),
    timer: Timer | None = None,
    robustness: Callable[[dict[str, dict[str, Any]], dict[str, float]], dict[str, float]] | None = None,
) -> dict[str, float]:
    """Every array figure of ``release`` on the test split of ``datamodule`` (see the module docstring).

    ``seed`` seeds attackers, probes, bootstrap and the downstream protocol; ``trusted`` names the modules
    beyond sklearn and privib that attacker specs may use. ``robustness``, when given and
    ``evaluation.robustness`` is set, is called with the released attackers fitted per attribute and the
    figures so far, while the pool fits the rest; its figures join the result.
    """
    from privib.evaluation.attackers import FitPool
    from privib.evaluation.protocols import protocol_figures

    timer = timer or Timer()
    pool = FitPool(options.n_jobs)
    try:
        out = _audit(pool, datamodule, release, options, seed, trusted, timer, robustness)
        out.update(protocol_figures(pool, datamodule, (release.train, release.test), options, seed, trusted, timer))
    finally:
        pool.cancel_pending()
    return out


def _audit(pool: Any, datamodule: Any, release: Release, options: EvaluationOptions, seed: int,
           trusted: tuple[str, ...], timer: Timer, robustness: Callable[..., dict[str, float]] | None) -> dict[str, float]:
    """Head, leakage (released and other representation, encoder holder, k releases), probes, raw reference, robustness."""
    from privib.evaluation import cache
    from privib.evaluation import metrics as M
    from privib.evaluation.attackers import as_feature_matrix, resolve_estimators
    from privib.evaluation.encoder_attack import HOLDER, ReleaseAttacks
    from privib.evaluation.leakage import attack_metrics, check_attack_inputs

    attributes = list(datamodule.spec.sensitive)
    train, test = datamodule.splits["train"], datamodule.splits["test"]
    y_train, y_test = train.y.numpy(), test.y.numpy()
    s_train, s_test = train.s.numpy(), test.s.numpy()
    z_train, z_test = release.train, release.test
    attackers = resolve_estimators(options.attackers, seed, trusted)
    probes = resolve_estimators(options.probes, seed, trusted)
    out: dict[str, float] = {keys.MAJORITY: M.majority_accuracy(y_test, y_train)}
    if release.head is not None:
        with timer("task"):
            out.update(head_figures(datamodule, release.head))

    def submit(estimators: dict[str, Any], x_tr: NDArray, y_tr: NDArray, x_te: NDArray) -> dict[str, Any]:
        return {name: pool.submit(est, x_tr, y_tr, x_te) for name, est in estimators.items()}

    def attack_jobs(x_tr: Any, x_te: Any) -> dict[str, tuple[dict[str, Any], NDArray, NDArray]]:
        jobs = {}
        for i, attribute in enumerate(attributes):
            xtr, str_, xte, ste = check_attack_inputs(x_tr, s_train[:, i], x_te, s_test[:, i])
            jobs[attribute] = (submit(attackers, xtr, str_, xte), str_, ste)
        return jobs

    def probe_jobs(x_tr: Any, x_te: Any) -> dict[str, Any]:
        xtr, xte = as_feature_matrix(x_tr, "z_train"), as_feature_matrix(x_te, "z_test")
        if xtr.shape[0] != y_train.shape[0] or xte.shape[0] != y_test.shape[0]:
            raise ValueError("z and y must have the same number of rows in each split")
        return submit(probes, xtr, y_train, xte)

    def collect(jobs: dict[str, Any], part: str) -> dict[str, tuple[Any, NDArray]]:
        results = {name: job.result() for name, job in jobs.items()}
        timer.add(part, sum(seconds for _, _, seconds in results.values()))
        return {name: (est, proba) for name, (est, proba, _) in results.items()}

    def scored_attack(jobs: tuple[dict[str, Any], NDArray, NDArray], part: str, extra: Any = None) -> Any:
        fitted, str_, ste = jobs
        results = collect(fitted, part)
        results.update(collect(extra, HOLDER) if extra else {})  # the encoder holder joins the max over attackers
        with timer(part):
            return attack_metrics(results, str_, ste, n_boot=options.n_boot, random_state=seed)

    def scored_probe(jobs: dict[str, Any], part: str) -> tuple[dict[str, float], NDArray]:
        results = collect(jobs, part)
        figures = {f"{name}/acc": M.accuracy(y_test, M.predict_from_proba(proba, est.classes_))
                   for name, (est, proba) in results.items()}
        best = max(results, key=lambda name: figures[f"{name}/acc"])
        figures["acc_max"] = figures[f"{best}/acc"]  # as privib.evaluation.task_probes.probe
        est, proba = results[best]
        full = np.zeros((len(y_test), len(datamodule.spec.target_classes)))
        full[:, np.asarray(est.classes_, dtype=np.int64)] = proba
        return figures, full

    # Submit everything, in the order the results are needed.
    released_jobs = attack_jobs(z_train, z_test)
    mean, scale = release.gaussian if release.gaussian is not None else ((z_train, z_test), None)
    stronger = ReleaseAttacks(pool, attackers, attributes, mean, scale, s_train, s_test, options.k_releases,
                              options.encoder_holder, options.n_boot, seed, active=release.gaussian is not None)
    stronger.submit_holder(z_test)
    other, other_codes = release.other if release.other is not None else (None, None)
    other_jobs = attack_jobs(*other_codes) if options.attack_both and other_codes is not None else None
    probes_jobs = probe_jobs(z_train, z_test)
    raw_cached, raw_key, raw_jobs = None, None, None
    if options.raw_reference:
        with timer("raw_reference"):
            x_train, x_test = train.x.numpy(), test.x.numpy()
            raw_settings = {"attributes": attributes, "attackers": options.attackers, "probes": options.probes,
                            "n_boot": options.n_boot, "seed": seed}
            raw_key = cache.cache_key("raw_reference", {"x_train": x_train, "y_train": y_train, "s_train": s_train,
                                                        "x_test": x_test, "y_test": y_test, "s_test": s_test},
                                      raw_settings)
            raw_cached = cache.read_cached("raw_reference", raw_key)
        if raw_cached is None:
            raw_jobs = (probe_jobs(x_train, x_test), attack_jobs(x_train, x_test))
    stronger.submit_releases()

    fitted: dict[str, dict[str, Any]] = {}
    released: dict[str, dict[str, float]] = {}
    for attribute in attributes:
        result = scored_attack(released_jobs[attribute], "leakage", stronger.holder(attribute))
        # robustness rescores the battery only (the holder costs seconds per level)
        fitted[attribute] = {name: est for name, est in result.fitted.items() if name != HOLDER}
        released[attribute] = result.metrics
        out.update({f"leakage/{attribute}/{k}": v for k, v in result.metrics.items()})
    robust = {}
    if options.robustness and robustness is not None:  # here, while the pool fits the rest
        with timer("robustness"):
            robust = robustness(fitted, out)
    if options.attack_both and other is not None:  # codes None: the two representations coincide
        for attribute in attributes:
            others = released[attribute] if other_jobs is None else scored_attack(other_jobs[attribute], "leakage").metrics
            out.update({f"leakage/{attribute}/{other}/{k}": v for k, v in others.items()})
    out.update(stronger.figures(out, timer))
    probe_figures, best_probe = scored_probe(probes_jobs, "probes")
    out.update({f"task/probe/{k}": v for k, v in probe_figures.items()})
    if release.head is None:  # no predictor of its own: the best probe reads the release for the task
        out.update(head_figures(datamodule, {"test": best_probe}))
    if options.raw_reference:
        if raw_cached is None:
            raw = {}
            raw_probe = scored_probe(raw_jobs[0], "raw_reference")[0]
            raw.update({f"task/probe/raw/{k}": v for k, v in raw_probe.items() if k != "acc_max"})
            raw["task/probe/raw_acc_max"] = raw_probe["acc_max"]
            for attribute in attributes:
                for k, v in scored_attack(raw_jobs[1][attribute], "raw_reference").metrics.items():
                    if k in RAW_KEYS:
                        raw[f"leakage/{attribute}/raw_{k}"] = v
                    elif k.endswith("/auc"):
                        raw[f"leakage/{attribute}/raw/{k}"] = v
            with timer("raw_reference"):
                cache.write_cached("raw_reference", raw_key, raw, {**raw_settings, "rows": [len(y_train), len(y_test)]})
        out.update(raw if raw_cached is None else raw_cached)
        out["time/evaluate/raw_reference_cache_hit"] = float(raw_cached is not None)
    out.update(robust)
    return out
