"""Callbacks owned by privib: per-epoch history written into the run folder."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint

from privib.io import write_json_atomic
from privib.training.checkpoint import OrderedWriter


class EpochHistory(Checkpoint):
    """At the end of each training epoch, append every logged epoch figure to ``history.json``.

    The evaluation stage reads this file to plot the information plane over epochs, so it
    needs neither W&B nor the trainer. It derives from ``Checkpoint`` because Lightning calls
    checkpoint callbacks' ``on_train_epoch_end`` after the module's, when the epoch's train
    and validation figures have both been logged. Epochs are counted from 1 (as the progress
    bar, ``fit/best_epoch`` and the report count them).
    """

    def __init__(self, path: Path, writer: OrderedWriter | None = None) -> None:
        self.path = path
        self.writer = writer  # writes history.json off the training thread, in order with the checkpoints
        self.rows: list[dict[str, Any]] = []
        self.epochs_this_process = 0

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epochs_this_process += 1
        if trainer.global_rank != 0:
            return
        row: dict[str, Any] = {"epoch": trainer.current_epoch + 1}  # counted from 1 everywhere privib shows epochs
        row.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("train/", "val/"))})
        self.rows.append(row)
        if self.writer is None:
            write_json_atomic(self.path, self.rows)
        else:
            self.writer.submit(write_json_atomic, self.path, list(self.rows))

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict.get("rows", []))
