"""Run stages on a run folder: one loop for ``privib run`` (a new or resumed run) and ``privib evaluate``.

:func:`run_stages` runs the stages in order and records what each returns: metrics into
``metrics.json`` (a stage named ``evaluate`` replaces every earlier evaluation figure),
``time/*`` keys into ``timings.json``, and the W&B summary. :func:`run_pipeline` adds the
run's life cycle around it (a locked folder, ``running`` then ``finished`` or ``failed`` with
the reason); :func:`evaluate_run` re-runs evaluation stages on a trained run.
"""
from __future__ import annotations

import contextlib
import difflib
import logging
import os
import time
from pathlib import Path
from typing import Any

from collections.abc import Sequence

from privib.errors import ConfigError, PrivibError, Terminated
from privib.locks import FolderLock, process_alive
from privib.pipeline.config import load_pipeline_stages
from privib.pipeline.context import NonZeroRankDone, RunContext
from privib.pipeline.stage import Stage
from privib.pipeline.stages import get_stage
from privib.runs import RUN_DIR_ENV, RunFolder, create_run_folder, keys
from privib.runs.wandb import wandb_options

log = logging.getLogger(__name__)


def _ddp_child_folder() -> RunFolder | None:
    """On a DDP rank > 0 that Lightning re-launched, the run folder its rank 0 created."""
    if int(os.environ.get("LOCAL_RANK", "0")) > 0 and os.environ.get(RUN_DIR_ENV):
        return RunFolder(Path(os.environ[RUN_DIR_ENV]))
    return None


def run_pipeline(config: dict[str, Any], resume: RunFolder | None = None, trusted: tuple[str, ...] = ()) -> Path | None:
    """Build data and model (so bad input fails before any folder exists), then run the stages.

    With ``resume`` (a run folder whose config is ``config``), training continues from its
    last checkpoint in the same folder. ``trusted`` names the modules beyond sklearn and privib
    that attacker specs may use (those typed on the command line). The run folder is locked for
    the whole run (:class:`privib.locks.FolderLock`). Returns the run folder, or None on a DDP
    rank other than 0.
    """
    import pytorch_lightning as pl
    import torch

    from privib.data.datamodule import PrivibDataModule
    from privib.training.module import VIBModule

    stages = [get_stage(name) for name in load_pipeline_stages(config["pipeline"])]
    for stage in stages:  # a stage may check its own config section before any training
        stage.check_config(config, trusted)
    if config["threads"] < 1:
        raise ConfigError(f"threads must be at least 1, got {config['threads']}")
    check_training_options(config)
    torch.set_num_threads(config["threads"])
    pl.seed_everything(config["seed_everything"], workers=True, verbose=False)
    datamodule = PrivibDataModule(**config["data"])
    datamodule.setup()
    module = VIBModule(data_spec=datamodule.spec.to_dict(), **config["model"])
    check_monitor(config["checkpoint"]["monitor"], module.epoch_metric_keys())

    child = _ddp_child_folder()
    folder = child or resume or RunFolder(create_run_folder(config["runs_dir"], config["name"]))
    with contextlib.nullcontext() if child is not None else FolderLock(folder.path, "training"):
        return _run_stages(folder, config, stages, module, datamodule, resume, trusted, is_rank_zero=child is None)


def _run_stages(folder: RunFolder, config: dict[str, Any], stages: Sequence[Stage], module: Any, datamodule: Any,
                resume: RunFolder | None, trusted: tuple[str, ...], is_rank_zero: bool) -> Path | None:
    """Run every stage in ``folder``; the status says ``finished`` only when all of them succeeded."""
    from privib.pipeline.tracking import make_wandb_logger

    if is_rank_zero:
        _start(folder, config, [stage.name for stage in stages], resumed=resume is not None)
        os.environ[RUN_DIR_ENV] = str(folder.path)
    context = RunContext(folder=folder, config=config, module=module, _datamodule=datamodule, trusted_modules=trusted,
                         resume_checkpoint=_resume_checkpoint(folder) if resume else None)
    try:
        context.logger, tracking_warning = make_wandb_logger(wandb_options(config["wandb"]), folder.path, config,
                                                             folder.status().get("wandb_id"))
        context.warnings.extend(datamodule.warnings)
        if tracking_warning:
            context.warnings.append(tracking_warning)
        run_stages(context, stages)
    except NonZeroRankDone:
        return None
    except BaseException as exc:
        _fail(folder, failure_reason(exc), context.warnings, **getattr(exc, "details", {}))
        raise
    finally:
        _finish_wandb(context.logger, context.warnings)
    folder.write_status("finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), warnings=context.warnings)
    return folder.path


def run_stages(ctx: RunContext, stages: Sequence[Stage]) -> dict[str, float]:
    """Run ``stages`` in order, recording each one's figures as it ends; returns every figure produced.

    Metrics are merged into ``metrics.json`` after each stage (once an ``evaluate`` stage has
    run, the figures of earlier evaluations are dropped, so the file never mixes two audits),
    ``time/*`` keys and the stage's duration into ``timings.json``, and both into the W&B summary.
    """
    produced: dict[str, float] = {}
    timings: dict[str, float] = {}
    replaces_evaluation = False
    for number, stage in enumerate(stages, 1):
        log.info("[%d/%d] %s ...", number, len(stages), stage.name)
        started = time.perf_counter()
        result = stage.run(ctx)
        timings[f"stage/{stage.name}_s"] = time.perf_counter() - started
        log.info("[%d/%d] %s done in %.1f s%s", number, len(stages), stage.name, timings[f"stage/{stage.name}_s"],
                 stage_note(stage.name, result, ctx.config))
        timings.update({k: v for k, v in result.items() if k.startswith("time/")})
        metrics = {k: v for k, v in result.items() if not k.startswith("time/")}
        produced.update(metrics)
        replaces_evaluation = replaces_evaluation or stage.name == "evaluate"
        ctx.folder.update_metrics(produced, drop_prefixes=keys.EVALUATION_PREFIXES if replaces_evaluation else ())
        ctx.folder.update_timings(timings)
        if ctx.logger is not None:
            ctx.logger.experiment.summary.update(metrics)
    return produced


def stage_note(name: str, result: dict[str, float], config: dict[str, Any]) -> str:
    """What a person wants to know about a finished stage beyond its time (e.g. why training stopped)."""
    if name != "fit" or "fit/epochs" not in result:
        return ""
    epochs, best = int(result["fit/epochs"]), result.get("fit/best_epoch")
    wanted = config.get("trainer", {}).get("max_epochs")
    best_text = f", best epoch {int(best)}" if best == best and best is not None else ""
    if isinstance(wanted, int) and 0 < wanted and epochs < wanted:
        patience = config.get("checkpoint", {}).get("patience")
        monitor = config.get("checkpoint", {}).get("monitor")
        return (f": early stopping after epoch {epochs} of {wanted} ({monitor} did not improve for {patience} epochs)"
                f"{best_text}")
    return f": {epochs} epochs{best_text}"


def evaluate_run(folder: RunFolder, config: dict[str, Any], names: Sequence[str], trusted: tuple[str, ...] = ()) -> None:
    """Re-run the evaluation stages ``names`` on a trained run, under its lock; ``status.json`` is left as it is.

    ``config`` is the run's config with the evaluation section to use; when it differs from the
    folder's, it is written back once the stages succeeded, so ``config.yaml`` always describes
    ``metrics.json``. The run's own W&B run (same id) is continued when it has one.
    """
    from privib.pipeline.tracking import resume_wandb_logger

    if "fit" in names:
        raise ConfigError("privib evaluate re-runs evaluation stages on a trained encoder; `fit` needs `privib run`")
    stages = [get_stage(name) for name in names]
    for stage in stages:
        stage.check_config(config, trusted)
    folder.require_checkpoint()
    changed = config != folder.read_config()
    context = RunContext(folder=folder, config=config, trusted_modules=trusted)
    context.logger = resume_wandb_logger(folder, config)
    try:
        run_stages(context, stages)
        if changed:
            folder.write_config(config)
    finally:
        _finish_wandb(context.logger, [])


def check_training_options(config: dict[str, Any]) -> None:
    """Refuse checkpoint and trainer values that would only fail once a run folder exists."""
    patience = config["checkpoint"].get("patience")
    if patience is not None and (not isinstance(patience, int) or isinstance(patience, bool) or patience < 0):
        raise ConfigError(f"checkpoint.patience must be null (no early stopping) or an integer >= 0, got {patience!r}")
    max_epochs = config["trainer"].get("max_epochs")
    if max_epochs is not None and (max_epochs == 0 or max_epochs < -1):
        raise ConfigError(f"trainer.max_epochs must be at least 1 (or -1: until early stopping), got {max_epochs}")


def check_monitor(monitor: str, logged: set[str]) -> None:
    """Refuse a ``checkpoint.monitor`` the module never logs, naming the keys it does log."""
    if monitor not in logged:
        close = difflib.get_close_matches(monitor, sorted(logged), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        shown = ", ".join(sorted(k for k in logged if k.startswith("val/") and "/info/" not in k)[:8])
        raise ConfigError(f"checkpoint.monitor '{monitor}' is never logged: {hint}the module logs e.g. {shown}")


def _start(folder: RunFolder, config: dict[str, Any], stages: list[str], resumed: bool) -> None:
    """Write config.yaml (new runs) and a ``running`` status with the W&B run id."""
    import secrets

    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if resumed:
        folder.write_status("running", pid=os.getpid(), resumed=now, stages=stages)
        return
    folder.write_config(config)
    folder.write_status("running", pid=os.getpid(), started=now, stages=stages, wandb_id=secrets.token_hex(4))


def _resume_checkpoint(folder: RunFolder) -> Path | None:
    last = folder.checkpoint("last")
    return last if last.is_file() else None


def failure_reason(exc: BaseException) -> str:
    """What ``status.json`` says about why a run stopped."""
    if isinstance(exc, PrivibError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (SIGINT)"
    if isinstance(exc, Terminated):
        return f"terminated ({exc.signal_name})"
    return f"{type(exc).__name__}: {exc}"


def _fail(folder: RunFolder, reason: str, warnings: list[str], **details: Any) -> None:
    """Mark the run failed; a status that cannot be written (a full disk) is logged, never raised over the cause."""
    try:
        folder.write_status("failed", reason=reason, warnings=warnings, **details)
    except OSError as exc:
        log.error("could not mark %s failed (%s): %s", folder.path, exc.strerror, reason)


def resume_run(path: str | os.PathLike[str], trusted: tuple[str, ...] = ()) -> Path | None:
    """Continue the run in ``path`` from its last checkpoint with the config it was started with.

    The folder is locked before its state is read, so two resumes of one run cannot both start.
    The last checkpoint is checked to load with ``weights_only=True`` before Lightning sees it.
    """
    folder = RunFolder.open(path)
    if _ddp_child_folder() is not None:
        return run_pipeline(folder.read_config(), resume=folder, trusted=trusted)
    with FolderLock(folder.path, "training"):
        status = folder.status()
        state = status.get("state")
        if state == "finished":
            raise ConfigError(f"run {folder.path} already finished: nothing to resume (start a new run with privib run)")
        if state == "running" and process_alive(status.get("pid")) and status.get("pid") != os.getpid():
            raise ConfigError(f"run {folder.path} is still running (pid {status.get('pid')}): wait for it or stop it first")
        config = folder.read_config()
        last = _resume_checkpoint(folder)
        if last is not None:
            from privib.models.checkpoint import verify_weights_only

            verify_weights_only(last)
        try:
            return run_pipeline(config, resume=folder, trusted=trusted)
        except BaseException as exc:
            status = folder.status()
            # Stopped (a signal, a crash) before the run restarted: a stale ``running`` of the killed process would
            # stay forever. Refused input (a PrivibError) leaves the folder exactly as it was.
            if status.get("state") == "running" and status.get("pid") != os.getpid() and not isinstance(exc, PrivibError):
                _fail(folder, failure_reason(exc), [])
            raise


def _finish_wandb(logger: Any | None, warnings: list[str]) -> None:
    if logger is None:
        return
    import wandb

    if wandb.run is not None:
        if warnings:
            wandb.run.summary["warnings"] = warnings
        wandb.finish()
