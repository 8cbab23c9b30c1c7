"""Train a module with privib's callbacks: best and last checkpoints, early stopping, history, guards.

:func:`fit_module` is the one place a Lightning ``Trainer`` is built for training; the
pipeline's ``fit`` stage hands it the run folder's paths and the config sections.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from privib.errors import ConfigError
from privib.training.options import CheckpointOptions


@dataclass
class FitResult:
    """What training produced: figures for metrics.json, warnings, and this process's rank."""

    metrics: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    global_rank: int = 0


def fit_module(
    module: Any,
    datamodule: Any,
    checkpoints: Path,
    history_path: Path,
    options: CheckpointOptions,
    trainer_options: dict[str, Any],
    logger: Any | None = None,
    resume_checkpoint: Path | None = None,
) -> FitResult:
    """Train ``module``; ``best.ckpt`` by ``options.monitor`` and ``last.ckpt`` go to ``checkpoints``.

    Everything is checkpointed at the end of the training epoch, after the epoch's figures are
    logged and recorded, so a resumed run (``resume_checkpoint``) restarts exactly at an epoch
    boundary. Checkpoints are written atomically and loaded as weights only.
    """
    import pytorch_lightning as pl
    from privib.training.adversary_schedule import selection_callbacks
    from privib.training.callbacks import EpochHistory
    from privib.training.checkpoint import AtomicCheckpointIO, OrderedWriter
    from privib.training.guards import AdversaryMonitor, NonFiniteGuard, RandomStateCheckpoint

    writer = OrderedWriter()  # history.json and the checkpoints are written off the training thread, in order
    history = EpochHistory(history_path, writer)
    adversary_monitor = AdversaryMonitor()
    first_epoch = int(getattr(module.hparams, "adv_warmup", 0) or 0)  # the warm-up's epochs are not judged
    max_epochs = trainer_options.get("max_epochs")
    if first_epoch and max_epochs is not None and 0 <= max_epochs <= first_epoch:
        raise ConfigError(f"model.adv_warmup {first_epoch} leaves no epoch at the full adversary weight within "
                          f"trainer.max_epochs {max_epochs}: raise trainer.max_epochs or lower model.adv_warmup")
    best, *stopping = selection_callbacks(
        first_epoch,
        {"dirpath": checkpoints, "filename": "best", "monitor": options.monitor, "mode": options.mode, "save_last": True,
         "auto_insert_metric_name": False, "enable_version_counter": False, "save_on_train_epoch_end": True},
        None if options.patience is None else {"monitor": options.monitor, "mode": options.mode,
                                               "patience": options.patience, "check_on_train_epoch_end": True},
    )
    callbacks: list[pl.Callback] = [history, adversary_monitor, best, NonFiniteGuard(), RandomStateCheckpoint(), *stopping]
    trainer_options = dict(trainer_options)
    if trainer_options.get("num_sanity_val_steps") is None:
        # Lightning's default runs 2 validation batches before training (~5% of a short fit); privib's validation
        # step is its own tested code and the first epoch ends with a full validation anyway.
        trainer_options["num_sanity_val_steps"] = 0
    from privib.training.progress import StderrProgressBar, wants_progress_bar

    trainer_options["enable_progress_bar"] = wants_progress_bar(trainer_options)
    if trainer_options["enable_progress_bar"]:
        callbacks.append(StderrProgressBar())
    if trainer_options.get("strategy") == "ddp":
        # Adversary updates backpropagate through the adversaries only; DDP must expect unused parameters.
        trainer_options["strategy"] = "ddp_find_unused_parameters_true"
    trainer = pl.Trainer(
        **trainer_options, logger=logger or False, callbacks=callbacks, default_root_dir=checkpoints.parent,
        enable_autolog_hparams=False, plugins=[AtomicCheckpointIO(writer)],
    )
    started = time.perf_counter()
    try:
        with _ctrl_c_unwinds_the_fit():
            trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume_checkpoint) if resume_checkpoint else None)
    finally:
        writer.close()  # every file on disk before the fit returns or fails
    seconds = time.perf_counter() - started
    judged = [row for row in history.rows if options.monitor in row and row["epoch"] > first_epoch]
    scores = [row[options.monitor] for row in judged]
    best_index = (int(np.argmin(scores)) if options.mode == "min" else int(np.argmax(scores))) if scores else -1
    rows_per_s = len(datamodule.splits["train"]) * history.epochs_this_process / seconds if seconds > 0 else float("nan")
    return FitResult(
        metrics={
            "fit/epochs": float(trainer.current_epoch),
            "fit/best_epoch": float(judged[best_index]["epoch"]) if scores else float("nan"),
            "fit/best_score": float(scores[best_index]) if scores else float("nan"),
            "time/fit_samples_per_s": rows_per_s,
        },
        warnings=list(adversary_monitor.warnings),
        global_rank=trainer.global_rank,
    )


class _FitInterrupted(BaseException):
    """Ctrl-C inside ``Trainer.fit``: not a KeyboardInterrupt, which Lightning would turn into ``exit(1)``."""


def _raise_fit_interrupted(signum: int, frame: Any) -> None:
    raise _FitInterrupted()


@contextlib.contextmanager
def _ctrl_c_unwinds_the_fit() -> Iterator[None]:
    """SIGINT during the fit ends it as a KeyboardInterrupt that privib reports (exit 130, ``interrupted (SIGINT)``).

    Lightning catches a KeyboardInterrupt raised inside ``fit`` and calls ``exit(1)``: the command then ended with
    code 1 and no message, and the run's status read ``SystemExit: 1``. Any other exception it re-raises after
    its teardown, so SIGINT raises one of ours here, handed on as KeyboardInterrupt. Only where SIGINT has
    Python's default handler, in the main thread.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    previous = signal.signal(signal.SIGINT, _raise_fit_interrupted)
    try:
        yield
    except _FitInterrupted:
        raise KeyboardInterrupt() from None
    finally:
        signal.signal(signal.SIGINT, previous)

