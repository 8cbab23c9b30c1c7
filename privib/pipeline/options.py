"""Option groups of a run config that belong to no single class: W&B, checkpointing, pipeline."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class WandbOptions:
    """Weights & Biases logging.

    Parameters
    ----------
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

    Parameters
    ----------
    monitor: validation figure that picks the best epoch (a key logged by the module).
    mode: min or max of ``monitor``.
    patience: epochs without improvement before stopping early; None trains all epochs.
    """

    monitor: str = "val/task_ce"
    mode: Literal["min", "max"] = "min"
    patience: int | None = 10
