"""Options of training that belong to no single class: best-checkpoint selection and early stopping."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


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
