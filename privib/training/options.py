"""Options of training that belong to no single class (best-checkpoint selection and early stopping), and the checks
of the module's numeric options."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from privib.errors import ConfigError


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


def check_non_negative(**values: float) -> None:
    """Each ``model.<name>`` is a finite number >= 0, else a ConfigError naming it."""
    for name, value in values.items():
        if not value >= 0 or not math.isfinite(value):
            raise ConfigError(f"model.{name} must be a finite number >= 0, got {value}: pass e.g. --model.{name} 0.01")


def check_positive(**values: float) -> None:
    """Each ``model.<name>`` is a finite number > 0, else a ConfigError naming it."""
    for name, value in values.items():
        if not value > 0 or not math.isfinite(value):
            raise ConfigError(f"model.{name} must be a finite number > 0, got {value}")
