"""Option groups of a run config that belong to no single class: W&B, checkpointing, evaluation."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class WandbOptions:
    """Weights & Biases logging.

    Args:
        enabled: log the run to W&B (offline unless you are logged in).
        project: W&B project name.
        entity: W&B entity (user or team); None uses your default.
        group: run group, e.g. a sweep name, so related runs are compared together.
        tags: tags added to the run.
        mode: auto (online when a W&B API key is configured, else offline), online, offline, disabled.
            The WANDB_MODE environment variable, when set, wins over auto.
    """

    enabled: bool = True
    project: str = "privib"
    entity: str | None = None
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    mode: Literal["auto", "online", "offline", "disabled"] = "auto"


@dataclass
class CheckpointOptions:
    """Best-checkpoint selection and early stopping.

    Args:
        monitor: validation figure that picks the best epoch (a key logged by the module).
        mode: min or max of ``monitor``.
        patience: epochs without improvement before stopping early; None trains all epochs.
    """

    monitor: str = "val/task_ce"
    mode: Literal["min", "max"] = "min"
    patience: int | None = 10


def _default_attackers() -> list[dict[str, Any]]:
    from privib.evaluation.attackers import default_attackers

    return default_attackers(random_state=None)


def _default_probes() -> list[dict[str, Any]]:
    from privib.evaluation.attackers import default_probes

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
        probes: Downstream task probes, same format (task/probe/<name>/acc).
        attack_both: Also attack the representation that is not released (keys leakage/<attr>/sample/...
            when model.release is mean, leakage/<attr>/mean/... when it is sample); the unprefixed keys
            attack the released one, the representation an exported encoder's encode() returns.
        raw_reference: Fit the same attackers and probes on the preprocessed input features
            (leakage/<attr>/raw_auc_max, task/probe/raw_acc_max).
        n_boot: Bootstrap resamples of the test rows for the 95% interval of auc_max.
        robustness: Perturbation family -> levels. Families: noise (std), corruption and masking
            (rates in [0, 1]), fgsm and pgd (L-infinity radius on standardized numeric features).
            {} skips robustness. Level 0 is the clean test split.
        pgd_steps: PGD iterations.
        pgd_step_size: PGD step; null uses 2.5 * radius / pgd_steps.
        k_samples: Draws of z averaged in every FGSM / PGD gradient (expectation over the encoder noise).
        n_jobs: Attackers fitted in parallel processes (1 fits them one after the other).
        random_state: Seed of attackers, probes, bootstrap, z samples and perturbations; null uses
            seed_everything.
    """

    attackers: list[dict[str, Any]] = field(default_factory=_default_attackers)
    probes: list[dict[str, Any]] = field(default_factory=_default_probes)
    attack_both: bool = True
    raw_reference: bool = True
    n_boot: int = 200
    robustness: dict[str, list[float]] = field(default_factory=_default_robustness)
    pgd_steps: int = 5
    pgd_step_size: float | None = None
    k_samples: int = 8
    n_jobs: int = 1
    random_state: int | None = None
