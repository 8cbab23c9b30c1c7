"""Pipeline stages: each reads the run folder (and config), returns flat metrics to merge into metrics.json."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch

from privib.errors import ConfigError
from privib.pipeline.context import NonZeroRankDone, RunContext

Stage = Callable[[RunContext], dict[str, float]]
STAGES: dict[str, Stage] = {}
# Modules that register further stages with @stage; imported when a stage is first looked up.
STAGE_MODULES: list[str] = ["privib.evaluation.stage", "privib.export.stage"]


def stage(name: str) -> Callable[[Stage], Stage]:
    """Register a stage function under ``name`` (the name used in pipeline specs)."""

    def register(function: Stage) -> Stage:
        STAGES[name] = function
        return function

    return register


def get_stage(name: str) -> Stage:
    """The stage registered as ``name``, or a ConfigError listing the known stages."""
    import importlib

    for module_name in STAGE_MODULES:
        importlib.import_module(module_name)
    if name not in STAGES:
        raise ConfigError(f"unknown pipeline stage '{name}': use one of {', '.join(STAGES)}")
    return STAGES[name]


@stage("fit")
def fit_stage(ctx: RunContext) -> dict[str, float]:
    """Train the module; best checkpoint by ``checkpoint.monitor`` plus the last one in checkpoints/."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from privib.training.callbacks import EpochHistory
    from privib.training.checkpoint import AtomicCheckpointIO
    from privib.training.guards import AdversaryMonitor, NonFiniteGuard, RandomStateCheckpoint

    if ctx.module is None:
        raise ConfigError("the fit stage needs a freshly built model: run it through `privib run`")
    options = ctx.config["checkpoint"]
    history = EpochHistory(ctx.folder.path / "history.json")
    adversary_monitor = AdversaryMonitor()
    # Everything is checkpointed at the end of the training epoch, after the epoch's figures are
    # logged and recorded, so a resumed run restarts exactly at an epoch boundary.
    callbacks: list[pl.Callback] = [
        history,
        adversary_monitor,
        ModelCheckpoint(
            dirpath=ctx.folder.checkpoints, filename="best", monitor=options["monitor"], mode=options["mode"],
            save_last=True, auto_insert_metric_name=False, enable_version_counter=False, save_on_train_epoch_end=True,
        ),
        NonFiniteGuard(),
        RandomStateCheckpoint(),
    ]
    if options.get("patience") is not None:
        callbacks.append(EarlyStopping(
            monitor=options["monitor"], mode=options["mode"], patience=options["patience"], check_on_train_epoch_end=True
        ))
    trainer_options = dict(ctx.config["trainer"])
    if trainer_options.get("strategy") == "ddp":
        # Adversary updates backpropagate through the adversaries only; DDP must expect unused parameters.
        trainer_options["strategy"] = "ddp_find_unused_parameters_true"
    trainer = pl.Trainer(
        **trainer_options, logger=ctx.logger or False, callbacks=callbacks, default_root_dir=ctx.folder.path,
        enable_autolog_hparams=False, plugins=[AtomicCheckpointIO()],
    )
    datamodule = ctx.datamodule()
    resume = ctx.resume_checkpoint
    started = time.perf_counter()
    trainer.fit(ctx.module, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    seconds = time.perf_counter() - started
    if trainer.global_rank != 0:
        raise NonZeroRankDone()
    ctx.warnings.extend(adversary_monitor.warnings)
    epochs = trainer.current_epoch
    scores = [row[options["monitor"]] for row in history.rows if options["monitor"] in row]
    best_index = (int(np.argmin(scores)) if options["mode"] == "min" else int(np.argmax(scores))) if scores else -1
    return {
        "fit/epochs": float(epochs),
        "fit/best_epoch": float(history.rows[best_index]["epoch"]) if scores else float("nan"),
        "fit/best_score": float(scores[best_index]) if scores else float("nan"),
        "time/fit_samples_per_s": len(datamodule.splits["train"]) * history.epochs_this_process / seconds if seconds > 0 else float("nan"),
    }


@torch.no_grad()
def predict_task_proba(module: torch.nn.Module, x: torch.Tensor, n_samples: int, batch_size: int = 8192) -> np.ndarray:
    """Task probabilities of a trained module's head, in batches."""
    parts = [module.model.predict_proba(x[i : i + batch_size], n_samples) for i in range(0, len(x), batch_size)]
    return torch.cat(parts).numpy()


@stage("test")
def test_stage(ctx: RunContext) -> dict[str, float]:
    """Accuracy of the best checkpoint's task head on the validation and test splits."""
    from privib.training.checkpoint import load_module

    module = load_module(ctx.best_checkpoint())
    datamodule = ctx.datamodule()
    torch.manual_seed(int(ctx.config.get("seed_everything") or 0))
    metrics: dict[str, float] = {}
    for split in ("val", "test"):
        data = datamodule.splits[split]
        probs = predict_task_proba(module, data.x, module.hparams.eval_samples)
        metrics[f"task/{split}/acc"] = float((probs.argmax(axis=1) == data.y.numpy()).mean())
    return metrics
