"""The audit of a trained encoder: task, leakage, fairness, raw reference, robustness, information plane.

:func:`audit` takes the trained model, the prepared data and the evaluation options and
returns flat metric keys (see :mod:`privib.runs.keys`); it knows no run folder and no
pipeline. It encodes each split once and hands the released codes to the array audit
(:func:`privib.evaluation.release_audit.audit_release`, the one a release baseline gets too), adding
what only an encoder has: the other representation, the Gaussians of a sampled release, the
certificate of a cell release and the robustness curves.

Which representation is attacked: the unprefixed ``leakage/<attr>/...`` keys and the task
probes use the *released* representation (``model.release``: the mean of q(z|x), or one
draw z ~ q(z|x) per row), the one an exported encoder's ``encode`` returns;
``leakage/<attr>/<other>/...`` attack the other one (``sample`` or ``mean``). For a
deterministic encoder the two coincide and the other keys copy the released ones. A cell
release (``model.release cells``) has one code, the one-hot cell: no other keys, and a
certificate instead (:mod:`privib.evaluation.certificate`).
Robustness leakage rescoring uses the attackers fitted on clean released train codes (the battery:
the encoder holder of :mod:`privib.evaluation.encoder_attack` joins the headline, not the curves).

Cost: every attacker and probe is an independent, seeded, single-threaded fit, run in
``evaluation.n_jobs`` worker processes (1: here, one after the other) while this process
draws the robustness curves; the figures do not depend on ``n_jobs``. The raw reference
depends only on the data, the options and the seed, and is read from a content-addressed
cache after its first computation (:mod:`privib.evaluation.cache`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from privib.evaluation.options import EvaluationOptions
from privib.evaluation.release_audit import Release, Timer, audit_release
from privib.models.checkpoint import TrainedModel
from privib.models.vib import task_probabilities

__all__ = ["audit", "head_probabilities", "info_plane", "level_key", "Timer"]


def level_key(level: float) -> str:
    """How a perturbation level appears in metric keys: ``0``, ``0.05``, ``1``."""
    return f"{float(level):g}"


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
    from privib.evaluation.robustness import encode

    timer = timer or Timer()
    spec = datamodule.spec
    train, test = datamodule.splits["train"], datamodule.splits["test"]
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
        codes = {"mean": (mean_train, mean_test), "sample": (sample_train, sample_test), "cells": (mean_train, mean_test)}
        other = "sample" if release == "mean" else "mean"

    # Task head (probabilities drawn as the test stage does, so task/test/acc agrees).
    with timer("task"):
        probs = head_probabilities(trained, datamodule, head_seed)
    if release == "cells" and options.certificate:
        from privib.evaluation.certificate import certify_release

        with timer("certificate"):
            out.update(certify_release(
                mean_train, train.s.numpy(), mean_test, test.s.numpy(),
                {a: len(spec.sensitive_classes[a]) for a in spec.sensitive}, int(trained.n_cells),
                confidence=options.certificate_confidence, mean_fraction=options.certificate_mean_fraction, seed=seed,
            ))

    # The array audit of the released codes (privib.evaluation.release_audit), with what only an encoder adds:
    # the other representation (none for a cell release: one deterministic code, certified above), the
    # Gaussians of a sampled release (encoder holder, k releases), and the robustness curves.
    sampled = release == "sample" and not deterministic
    arrays = Release(
        *codes[release], head=probs,
        gaussian=((mean_train, mean_test), (scale_train, scale_test)) if sampled else None,
        other=None if release == "cells" else (other, None if deterministic else codes[other]),
    )
    out.update(audit_release(
        datamodule, arrays, options, seed, trusted, timer,
        robustness=lambda fitted, clean: _robustness(trained, datamodule, options, seed, mean_test, probs["test"],
                                                     fitted, clean, release),
    ))
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
    # level 0: the best of the attackers rescored below (the battery; the encoder holder is not rescored)
    clean_leak = {a: float(np.nanmax([clean[f"leakage/{a}/{name}/auc"] for name in fitted[a]])) for a in attributes}
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
    when ``best_epoch`` (``fit/best_epoch``) is known. Epochs are counted from 1, as in history.json.
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

