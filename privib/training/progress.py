"""The training progress bar: on stderr, only on a terminal, epochs counted from 1, task figures only.

stdout belongs to what a script reads (the summary line and the run folder, last), so the bar
never writes there; piped to a file, no bar frames are written at all (the pipeline's stage lines
say what happens).
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any

from pytorch_lightning.callbacks import TQDMProgressBar

SHOWN = ("train/task_acc", "train/task_ce", "val/task_acc", "val/task_ce")


def wants_progress_bar(trainer_options: dict[str, Any]) -> bool:
    """True when the config asks for a bar (the default) and stderr is a terminal."""
    return bool(trainer_options.get("enable_progress_bar", True)) and sys.stderr.isatty()


class StderrProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar written to stderr, ``epoch N/M`` 1-based, showing task accuracy and cross-entropy."""

    def init_train_tqdm(self) -> Any:
        with contextlib.redirect_stdout(sys.stderr):  # Lightning passes file=sys.stdout, read at call time
            return super().init_train_tqdm()

    def init_validation_tqdm(self) -> Any:
        with contextlib.redirect_stdout(sys.stderr):
            return super().init_validation_tqdm()

    def init_sanity_tqdm(self) -> Any:
        with contextlib.redirect_stdout(sys.stderr):
            return super().init_sanity_tqdm()

    def on_train_epoch_start(self, trainer: Any, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        total = trainer.max_epochs if trainer.max_epochs not in (None, -1) else "?"
        self.train_progress_bar.set_description(f"epoch {trainer.current_epoch + 1}/{total}")

    def get_metrics(self, trainer: Any, pl_module: Any) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, pl_module)
        return {k.replace("/task_", " "): v for k, v in metrics.items() if k in SHOWN}
