"""Run a pipeline: validate the config, create the run folder, run each stage, record the outcome."""
from __future__ import annotations

import contextlib
import difflib
import logging
import os
import time
from pathlib import Path
from typing import Any

from privib.errors import ConfigError, PrivibError, Terminated
from privib.io import write_json_atomic
from privib.locks import FolderLock, process_alive
from privib.pipeline.config import load_pipeline_stages
from privib.pipeline.context import NonZeroRankDone, RunContext
from privib.pipeline.options import WandbOptions
from privib.pipeline.runs import RUN_DIR_ENV, RunFolder, create_run_folder
from privib.pipeline.stages import get_stage

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

    stages = [(name, get_stage(name)) for name in load_pipeline_stages(config["pipeline"])]
    for _, run_stage in stages:  # a stage may check its own config section before any training
        getattr(run_stage, "check_config", lambda *_: None)(config, trusted)
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


def _run_stages(folder: RunFolder, config: dict[str, Any], stages: list[tuple[str, Any]], module: Any, datamodule: Any,
                resume: RunFolder | None, trusted: tuple[str, ...], is_rank_zero: bool) -> Path | None:
    """Run every stage in ``folder``; the status says ``finished`` only when all of them succeeded."""
    from privib.pipeline.tracking import make_wandb_logger

    if is_rank_zero:
        _start(folder, config, [name for name, _ in stages], resumed=resume is not None)
        os.environ[RUN_DIR_ENV] = str(folder.path)
    context = RunContext(folder=folder, config=config, module=module, _datamodule=datamodule, trusted_modules=trusted,
                         resume_checkpoint=_resume_checkpoint(folder) if resume else None)
    logger = None
    timings: dict[str, float] = {}
    try:
        logger, tracking_warning = make_wandb_logger(WandbOptions(**config["wandb"]), folder.path, config,
                                                     folder.status().get("wandb_id"))
        context.logger = logger
        context.warnings.extend(datamodule.warnings)
        if tracking_warning:
            context.warnings.append(tracking_warning)
        for name, run_stage in stages:
            started = time.perf_counter()
            metrics = run_stage(context)
            timings[f"stage/{name}_s"] = time.perf_counter() - started
            timings.update({k: v for k, v in metrics.items() if k.startswith("time/")})
            metrics = {k: v for k, v in metrics.items() if not k.startswith("time/")}
            folder.update_metrics(metrics)
            write_json_atomic(folder.path / "timings.json", timings)
            if logger is not None:
                logger.experiment.summary.update(metrics)
    except NonZeroRankDone:
        return None
    except PrivibError as exc:
        _fail(folder, str(exc), context.warnings, **getattr(exc, "details", {}))
        raise
    except KeyboardInterrupt:
        _fail(folder, "interrupted (SIGINT)", context.warnings)
        raise
    except Terminated as exc:
        _fail(folder, f"terminated ({exc.signal_name})", context.warnings)
        raise
    except BaseException as exc:
        _fail(folder, f"{type(exc).__name__}: {exc}", context.warnings)
        raise
    finally:
        _finish_wandb(logger, context.warnings)
    folder.write_status("finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), warnings=context.warnings)
    return folder.path


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
    last = folder.checkpoints / "last.ckpt"
    return last if last.is_file() else None


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
            from privib.training.checkpoint import verify_weights_only

            verify_weights_only(last)
        return run_pipeline(config, resume=folder, trusted=trusted)


def _finish_wandb(logger: Any | None, warnings: list[str]) -> None:
    if logger is None:
        return
    import wandb

    if wandb.run is not None:
        if warnings:
            wandb.run.summary["warnings"] = warnings
        wandb.finish()
