"""The audit of a trained encoder: task, leakage, fairness, raw reference, robustness, information plane.

:func:`audit` takes the trained model, the prepared data and the evaluation options and
returns flat metric keys (see :mod:`privib.runs.keys`); it knows no run folder and no
pipeline. It encodes each split once and hands the arrays to the pure functions of
:mod:`privib.evaluation`.

Which representation is attacked: the unprefixed ``leakage/<attr>/...`` keys and the task
probes use the *released* representation (``model.release``: the mean of q(z|x), or one
draw z ~ q(z|x) per row), the one an exported encoder's ``encode`` returns;
``leakage/<attr>/<other>/...`` attack the other one (``sample`` or ``mean``). For a
deterministic encoder the two coincide and the other keys copy the released ones.
Robustness leakage rescoring uses the attackers fitted on clean released train codes.

Cost: every attacker and probe is an independent, seeded, single-threaded fit, run in
``evaluation.n_jobs`` worker processes (1: here, one after the other) while this process
draws the robustness curves; the figures do not depend on ``n_jobs``. The raw reference
depends only on the data, the options and the seed, and is read from a content-addressed
cache after its first computation (:mod:`privib.evaluation.cache`).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from privib.evaluation.options import EvaluationOptions
from privib.models.checkpoint import TrainedModel
from privib.models.vib import task_probabilities

__all__ = ["audit", "head_probabilities", "info_plane", "level_key", "Timer"]


def level_key(level: float) -> str:
    """How a perturbation level appears in metric keys: ``0``, ``0.05``, ``1``."""
    return f"{float(level):g}"


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


def head_probabilities(trained: TrainedModel, datamodule: Any, seed: int) -> dict[str, np.ndarray]:
    """Task-head probabilities on val and test, drawn exactly as the ``test`` stage draws them."""
    torch.manual_seed(seed)
    return {
        split: task_probabilities(trained.model, datamodule.splits[split].x, trained.eval_samples)
        for split in ("val", "test")
    }


def audit(
    trained: TrainedModel,
    datamodule: Any,
    options: EvaluationOptions,
    seed: int,
    head_seed: int,
    trusted: tuple[str, ...] = (),
    timer: Timer | None = None,
) -> dict[str, float]:
    """Every evaluation figure of ``trained`` on the test split of ``datamodule`` (see the module docstring).

    ``seed`` seeds attackers, probes, bootstrap, z samples and perturbations; ``head_seed`` the
    task head's draws (as the ``test`` stage draws them, so ``task/test/acc`` agrees); ``trusted``
    names the modules beyond sklearn and privib that attacker specs may use.
    """
    from privib.evaluation import metrics as M
    from privib.evaluation.attackers import FitPool
    from privib.evaluation.robustness import encode

    timer = timer or Timer()
    spec = datamodule.spec
    train, test = datamodule.splits["train"], datamodule.splits["test"]
    y_test = test.y.numpy()
    out: dict[str, float] = {}

    # Encode each split once; every later step reuses these arrays.
    with timer("encode"):
        encoder = trained.model.encoder
        mean_train, scale_train = encode(encoder, train.x)
        mean_test, scale_test = encode(encoder, test.x)
        deterministic = trained.deterministic or (not scale_train.any() and not scale_test.any())
        rng = np.random.default_rng(seed)
        sample_train = mean_train + scale_train * rng.standard_normal(mean_train.shape, dtype=np.float32)
        sample_test = mean_test + scale_test * rng.standard_normal(mean_test.shape, dtype=np.float32)
        release = trained.release
        codes = {"mean": (mean_train, mean_test), "sample": (sample_train, sample_test)}
        other = "sample" if release == "mean" else "mean"

    # Task head on the test split (probabilities drawn as the test stage does, so task/test/acc agrees).
    with timer("task"):
        probs = head_probabilities(trained, datamodule, head_seed)
        test_probs = probs["test"]
        pred_test = test_probs.argmax(axis=1)
        out["task/val/acc"] = M.accuracy(datamodule.splits["val"].y.numpy(), probs["val"].argmax(axis=1))
        out["task/test/acc"] = M.accuracy(y_test, pred_test)
        out["task/test/bacc"] = M.balanced_accuracy(y_test, pred_test)
        out["task/test/auc"] = M.auc(y_test, test_probs, np.arange(test_probs.shape[1]))
        if len(spec.target_classes) == 2:
            for i, attribute in enumerate(spec.sensitive):
                gaps = M.fairness_gaps(y_test, pred_test, sensitive_features=test.s[:, i].numpy())
                out.update({f"fairness/{attribute}/{k}": v for k, v in gaps.items()})

    # Every fresh classifier (attackers on the released and the other representation, probes, the raw
    # reference) is an independent, seeded, single-threaded fit: all of them are submitted at once to a
    # pool of `n_jobs` processes (1: run here, one after the other), released attackers first, because
    # the robustness curves, computed in this process meanwhile, rescore them on perturbed inputs.
    pool = FitPool(options.n_jobs)
    try:
        out.update(_audit(pool, options, trusted, seed, spec, train, test, codes, release, other,
                          deterministic, timer,
                          lambda fitted, clean: _robustness(trained, datamodule, options, seed, mean_test, test_probs,
                                                            fitted, clean, release)))
    finally:
        pool.cancel_pending()
    return out


RAW_KEYS = ("auc_max", "auc_max_lo", "auc_max_hi", "acc_max", "bacc_max", "mi_bits_lb")


def _audit(
    pool: Any,
    options: EvaluationOptions,
    trusted: tuple[str, ...],
    seed: int,
    spec: Any,
    train: Any,
    test: Any,
    codes: dict[str, tuple[np.ndarray, np.ndarray]],
    release: str,
    other: str,
    deterministic: bool,
    timer: Timer,
    robustness: Any,
) -> dict[str, float]:
    """Probes, leakage (released and other representation), raw reference and robustness figures."""
    from privib.evaluation import cache
    from privib.evaluation import metrics as M
    from privib.evaluation.attackers import as_feature_matrix, resolve_estimators
    from privib.evaluation.leakage import attack_metrics, check_attack_inputs

    attributes = list(spec.sensitive)
    y_train, y_test = train.y.numpy(), test.y.numpy()
    s_train, s_test = train.s.numpy(), test.s.numpy()
    (z_train, z_test), (o_train, o_test) = codes[release], codes[other]
    attackers = resolve_estimators(options.attackers, seed, trusted)
    probes = resolve_estimators(options.probes, seed, trusted)

    def submit(estimators: dict[str, Any], x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray) -> dict[str, Any]:
        return {name: pool.submit(est, x_tr, y_tr, x_te) for name, est in estimators.items()}

    def attack_jobs(x_tr: Any, x_te: Any) -> dict[str, tuple[dict[str, Any], np.ndarray, np.ndarray]]:
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

    def collect(jobs: dict[str, Any], part: str) -> dict[str, tuple[Any, np.ndarray]]:
        results = {name: job.result() for name, job in jobs.items()}
        timer.add(part, sum(seconds for _, _, seconds in results.values()))
        return {name: (est, proba) for name, (est, proba, _) in results.items()}

    def scored_attack(jobs: tuple[dict[str, Any], np.ndarray, np.ndarray], part: str) -> Any:
        fitted, str_, ste = jobs
        results = collect(fitted, part)
        with timer(part):
            return attack_metrics(results, str_, ste, n_boot=options.n_boot, random_state=seed)

    def scored_probe(jobs: dict[str, Any], part: str) -> dict[str, float]:
        figures = {f"{name}/acc": M.accuracy(y_test, M.predict_from_proba(proba, est.classes_))
                   for name, (est, proba) in collect(jobs, part).items()}
        figures["acc_max"] = max(figures.values())  # as privib.evaluation.task_probes.probe
        return figures

    # Submit everything, in the order the results are needed.
    released_jobs = attack_jobs(z_train, z_test)
    other_jobs = attack_jobs(o_train, o_test) if options.attack_both and not deterministic else None
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

    out: dict[str, float] = {}
    fitted: dict[str, dict[str, Any]] = {}
    released: dict[str, dict[str, float]] = {}
    for attribute in attributes:
        result = scored_attack(released_jobs[attribute], "leakage")
        fitted[attribute], released[attribute] = result.fitted, result.metrics
        out.update({f"leakage/{attribute}/{k}": v for k, v in result.metrics.items()})
    if options.robustness:  # here, while the pool fits the rest
        with timer("robustness"):
            robust = robustness(fitted, out)
    if options.attack_both:  # for a deterministic encoder the two representations coincide
        for attribute in attributes:
            others = released[attribute] if other_jobs is None else scored_attack(other_jobs[attribute], "leakage").metrics
            out.update({f"leakage/{attribute}/{other}/{k}": v for k, v in others.items()})
    out.update({f"task/probe/{k}": v for k, v in scored_probe(probes_jobs, "probes").items()})
    if options.raw_reference:
        if raw_cached is None:
            raw = {}
            raw_probe = scored_probe(raw_jobs[0], "raw_reference")
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
    if options.robustness:
        out.update(robust)
    return out


def _robustness(
    trained: TrainedModel,
    datamodule: Any,
    options: EvaluationOptions,
    seed: int,
    mean_test: np.ndarray,
    test_probs: np.ndarray,
    fitted: dict[str, dict[str, Any]],
    clean: dict[str, float],
    release: str = "mean",
) -> dict[str, float]:
    """Task accuracy, leakage (clean-fitted attackers, released codes) and drift of the mean, per family and level."""
    from privib.evaluation.leakage import fitted_auc_max
    from privib.evaluation.robustness import FeatureLayout, encode, mean_drift, normalized_area, perturb

    test = datamodule.splits["test"]
    y_test, s_test = test.y.numpy(), test.s.numpy()
    attributes = list(datamodule.spec.sensitive)
    layout = FeatureLayout.from_dict(datamodule.preprocessor.layout())
    encoder, head = trained.model.encoder, trained.model.task_head
    clean_leak = {a: clean[f"leakage/{a}/auc_max"] for a in attributes}
    out: dict[str, float] = {}
    for f_index, (family, levels) in enumerate(options.robustness.items()):
        accs: list[float] = []
        for l_index, level in enumerate(levels):
            prefix = f"robustness/{family}/{level_key(level)}"
            if float(level) == 0.0:  # the clean split: reuse what is already computed
                acc, leak, drift = float(np.mean(test_probs.argmax(axis=1) == y_test)), clean_leak, 0.0
            else:
                rs = seed + 1000 * f_index + l_index
                x_p = perturb(
                    family, test.x, float(level), layout, y=test.y, encoder=encoder, task_head=head, random_state=rs,
                    **({"k_samples": options.k_samples} if family in ("fgsm", "pgd") else {}),
                    **({"steps": options.pgd_steps, "step_size": options.pgd_step_size} if family == "pgd" else {}),
                )
                x_t = torch.from_numpy(x_p)
                mean_p, scale_p = encode(encoder, x_t)
                released_p = mean_p if release == "mean" else (
                    mean_p + scale_p * np.random.default_rng(rs).standard_normal(mean_p.shape, dtype=np.float32))
                torch.manual_seed(rs)
                probs = task_probabilities(trained.model, x_t, trained.eval_samples)
                acc = float(np.mean(probs.argmax(axis=1) == y_test))
                leak = {a: fitted_auc_max(fitted[a], released_p, s_test[:, i]) for i, a in enumerate(attributes)}
                drift = mean_drift(mean_test, mean_p)
            accs.append(acc)
            out[f"{prefix}/acc"] = acc
            out[f"{prefix}/leak_auc"] = max(leak.values())
            if len(attributes) > 1:
                out.update({f"{prefix}/leak_auc/{a}": v for a, v in leak.items()})
            out[f"{prefix}/drift"] = drift
        out[f"robustness/{family}/area"] = normalized_area(levels, accs)
    return out


def info_plane(history: list[dict[str, Any]], attributes: list[str], best_epoch: float | None) -> dict[str, float]:
    """``info/*``: the information-plane bounds of the final epoch, from the history rows (validation split).

    ``info/best/*`` repeats them for the epoch of the best checkpoint (the one evaluated),
    when ``best_epoch`` (``fit/best_epoch``) is known. Epochs are 0-based, as in history.json.
    """
    rows = [r for r in history if "val/info/rate_bits" in r]
    if not rows:
        return {}
    out = _info_row(rows[-1], "info/", attributes)
    best = [r for r in rows if best_epoch is not None and r["epoch"] == best_epoch]
    if best:  # the epoch of the evaluated (best) checkpoint
        out.update(_info_row(best[-1], "info/best/", attributes))
    return out


def _info_row(row: dict[str, Any], prefix: str, attributes: list[str]) -> dict[str, float]:
    out = {f"{prefix}epoch": float(row["epoch"]), f"{prefix}rate_bits": float(row["val/info/rate_bits"]),
           f"{prefix}izy_lb_bits": float(row["val/info/izy_lb_bits"])}
    for attribute in attributes:
        key = f"val/info/izs_lb_bits/{attribute}"
        if key in row:
            out[f"{prefix}izs_lb_bits/{attribute}"] = float(row[key])
    return out

