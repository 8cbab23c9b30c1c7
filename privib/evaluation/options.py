"""The ``evaluation`` section of a run config: the attackers, probes and robustness grid of the audit."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from privib.errors import ConfigError
from privib.parsing import section_options
from privib.evaluation.attackers import build_estimator, build_estimators, default_attackers, default_probes
from privib.evaluation.downstream import default_downstream

__all__ = ["EvaluationOptions", "evaluation_options", "check_evaluation_config"]


def _default_attackers() -> list[dict[str, Any]]:
    return default_attackers(random_state=None)


def _default_probes() -> list[dict[str, Any]]:
    return default_probes(random_state=None)


def _default_robustness() -> dict[str, list[float]]:
    return {
        "noise": [0.0, 0.25, 0.5, 1.0],
        "corruption": [0.0, 0.1, 0.25, 0.5],
        "masking": [0.0, 0.1, 0.25, 0.5],
        "fgsm": [0.0, 0.05, 0.1, 0.2],
        "pgd": [0.0, 0.05, 0.1, 0.2],
    }


@dataclass
class EvaluationOptions:
    """The evaluation stage: leakage attackers, task probes, the raw reference, robustness.

    Attackers and probes are fitted on frozen train-split representations and scored on
    the test split; perturbations are applied to the test split.

    Args:
        attackers: Fresh attackers of the leakage audit, a list of scikit-learn classifier specs
            {name, class_path, init_args, standardize}; a random_state left null takes the run's
            seed. The headline leakage/<attr>/auc_max is the maximum over this list.
        probes: Downstream task probes, same format (task/probe/<name>/acc); they also predict the transfer
            tasks of data.transfer (transfer/<task>/...).
        downstream: The literature's downstream classifier, one spec (default: FARE's, a standardized
            MLP with one hidden layer of 50 units, trained by TorchMLPClassifier); fitted downstream_seeds times on the released
            train-split codes, scored on test: downstream/acc, downstream/<attr>/{dp_gap,eo_gap}. null skips it.
        downstream_seeds: Fits of the downstream classifier, seeds seed, seed + 1, ... (the literature: 5).
        attack_both: Also attack the representation that is not released (keys leakage/<attr>/sample/...
            when model.release is mean, leakage/<attr>/mean/... when it is sample); the unprefixed keys
            attack the released one, the representation an exported encoder's encode() returns.
        encoder_holder: For a sampled release, add the encoder holder to the attackers of the headline: the
            posterior of s under the mixture of the training records' q(z|x) (leakage/<attr>/encoder_holder/...;
            privib.evaluation.encoder_attack).
        k_releases: Audit the average of k independent releases of each record, for each k listed
            (leakage/<attr>/k<k>/auc_max: the best of the attackers and the encoder holder); [] skips it.
        raw_reference: Fit the same attackers and probes on the preprocessed input features
            (leakage/<attr>/raw_auc_max, task/probe/raw_acc_max, transfer/<task>/raw_acc, downstream/raw_acc).
        n_boot: Bootstrap resamples of the test rows for the 95% interval of auc_max.
        robustness: Perturbation family -> levels. Families: noise (std), corruption and masking
            (rates in [0, 1]), fgsm and pgd (L-infinity radius on standardized numeric features).
            {} skips robustness. Level 0 is the clean test split.
        pgd_steps: PGD iterations.
        pgd_step_size: PGD step; null uses 2.5 * radius / pgd_steps.
        k_samples: Draws of z averaged in every FGSM / PGD gradient (expectation over the encoder noise).
        n_jobs: Attackers fitted in parallel processes (1 fits them one after the other).
        certificate: For a cell release (model.release cells), certify upper bounds on any attacker's
            balanced accuracy, TV and AUC and on any classifier's DP gap (leakage/<attr>/certified_*,
            fairness/<attr>/certified_dp_ub; privib.evaluation.certificate).
        certificate_confidence: Confidence of the certificate (0.95: the bounds hold together w.p. 95%).
        certificate_mean_fraction: Share of the test rows for the certificate's Hoeffding step; the rest
            bounds each cell (the training rows bound P(s)).
        random_state: Seed of attackers, probes, bootstrap, z samples and perturbations; null uses
            seed_everything.
    """

    attackers: list[dict[str, Any]] = field(default_factory=_default_attackers)
    probes: list[dict[str, Any]] = field(default_factory=_default_probes)
    downstream: dict[str, Any] | None = field(default_factory=default_downstream)
    downstream_seeds: int = 5
    attack_both: bool = True
    encoder_holder: bool = True
    k_releases: list[int] = field(default_factory=lambda: [2, 8])
    raw_reference: bool = True
    n_boot: int = 200
    robustness: dict[str, list[float]] = field(default_factory=_default_robustness)
    pgd_steps: int = 5
    pgd_step_size: float | None = None
    k_samples: int = 8
    n_jobs: int = 1
    random_state: int | None = None
    certificate: bool = True
    certificate_confidence: float = 0.95
    certificate_mean_fraction: float = 0.2


def evaluation_options(config: dict[str, Any]) -> EvaluationOptions:
    """The ``evaluation`` section of a resolved config as options (defaults when the section is absent)."""
    return section_options(config, "evaluation", EvaluationOptions)


def check_evaluation_config(config: dict[str, Any], trusted: tuple[str, ...] = ()) -> EvaluationOptions:
    """Validate the evaluation section: attackers and probes instantiate as classifiers, levels are in range.

    Raises ConfigError with one line naming the bad value; called before training, so bad
    input never costs a training run. ``trusted``: modules beyond sklearn and privib that
    attacker and probe specs may name (those the user typed on the command line).
    """
    from privib.evaluation.robustness import FAMILIES, validate_levels  # torch: only when a config is checked

    options = evaluation_options(config)
    for name in ("attackers", "probes"):
        try:
            build_estimators(getattr(options, name), trusted=trusted)
        except ConfigError as exc:
            raise ConfigError(f"evaluation.{name}: {exc}") from exc
    if options.downstream is not None:
        try:
            build_estimator(options.downstream, trusted=trusted)
        except ConfigError as exc:
            raise ConfigError(f"evaluation.downstream: {exc}") from exc
    if not isinstance(options.robustness, dict):
        raise ConfigError(f"evaluation.robustness must map families {list(FAMILIES)} to lists of levels")
    for family, levels in options.robustness.items():
        try:
            validate_levels(family, levels)
        except ConfigError as exc:
            raise ConfigError(f"evaluation.robustness: {exc}") from exc
    for name in ("n_boot", "pgd_steps", "k_samples", "n_jobs", "downstream_seeds"):
        value = getattr(options, name)
        if name == "n_jobs" and value == -1:  # one worker process per CPU core
            continue
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"evaluation.{name} must be an integer >= 1{' (or -1: one per core)' if name == 'n_jobs' else ''}, got {value!r}")
    for name in ("certificate_confidence", "certificate_mean_fraction"):
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
            raise ConfigError(f"evaluation.{name} must be a number in (0, 1), got {value!r}")
    step = options.pgd_step_size
    if step is not None and not (np.isfinite(step) and step >= 0):
        raise ConfigError(f"evaluation.pgd_step_size must be null or a finite number >= 0, got {step}")
    from privib.evaluation.encoder_attack import check_release_options

    check_release_options(options.k_releases, options.encoder_holder)
    return options


# Substrings of a class_path that mark a tree ensemble or an MLP: the two families a battery needs besides
# a linear model (linear decorrelation fools logistic regression while trees recover the attribute).
TREE_MARKERS = ("ensemble.", "tree.", "xgboost", "lightgbm", "catboost")
MLP_MARKERS = ("neural_network", "MLP", "Mlp", "mlp")


def battery_warnings(attackers: list[dict[str, Any]]) -> list[str]:
    """One line per family the attacker battery lacks (a tree model, an MLP): its headline is then a weak audit."""
    paths = [str(spec.get("class_path", "")) for spec in attackers if isinstance(spec, dict)]
    missing = [family for family, markers in (("tree model (gradient boosting, random forest)", TREE_MARKERS),
                                               ("MLP", MLP_MARKERS))
               if not any(marker in path for path in paths for marker in markers)]
    return [f"the attacker battery has no {family}: leakage/<attr>/auc_max is the best of a weaker audit; add one with "
            f"--evaluation.attackers+ SPEC" for family in missing]
