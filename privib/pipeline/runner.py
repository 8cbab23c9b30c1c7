"""Run a pipeline: validate the config, create the run folder, run each stage, record the outcome."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from privib.errors import ConfigError, PrivibError
from privib.io import write_json_atomic
from privib.pipeline.config import load_pipeline_stages
from privib.pipeline.context import NonZeroRankDone, RunContext
from privib.pipeline.options import WandbOptions
from privib.pipeline.runs import RUN_DIR_ENV, RunFolder, create_run_folder
from privib.pipeline.stages import get_stage


def _ddp_child_folder() -> RunFolder | None:
    """On a DDP rank > 0 that Lightning re-launched, the run folder its rank 0 created."""
    if int(os.environ.get("LOCAL_RANK", "0")) > 0 and os.environ.get(RUN_DIR_ENV):
        return RunFolder(Path(os.environ[RUN_DIR_ENV]))
    return None


def run_pipeline(config: dict[str, Any], resume: RunFolder | None = None) -> Path | None:
    """Build data and model (so bad input fails before any folder exists), then run the stages.

    With ``resume`` (a run folder whose config is ``config``), training continues from its
    last checkpoint in the same folder. Returns the run folder, or None on a DDP rank other than 0.
    """
    import pytorch_lightning as pl
    import torch

    from privib.data.datamodule import PrivibDataModule
    from privib.pipeline.tracking import make_wandb_logger
    from privib.training.module import VIBModule

    stages = [(name, get_stage(name)) for name in load_pipeline_stages(config["pipeline"])]
    for _, run_stage in stages:  # a stage may check its own config section before any training
        getattr(run_stage, "check_config", lambda _: None)(config)
    if config["threads"] < 1:
        raise ConfigError(f"threads must be at least 1, got {config['threads']}")
    torch.set_num_threads(config["threads"])
    pl.seed_everything(config["seed_everything"], workers=True, verbose=False)
    datamodule = PrivibDataModule(**config["data"])
    datamodule.setup()
    module = VIBModule(data_spec=datamodule.spec.to_dict(), **config["model"])

    folder = _ddp_child_folder() or resume or RunFolder(create_run_folder(config["runs_dir"], config["name"]))
    is_rank_zero = _ddp_child_folder() is None
    if is_rank_zero:
        _start(folder, config, [name for name, _ in stages], resumed=resume is not None)
        os.environ[RUN_DIR_ENV] = str(folder.path)
    status = folder.status()
    logger, tracking_warning = make_wandb_logger(WandbOptions(**config["wandb"]), folder.path, config, status.get("wandb_id"))
    context = RunContext(folder=folder, config=config, logger=logger, module=module, _datamodule=datamodule,
                         resume_checkpoint=_resume_checkpoint(folder) if resume else None)
    if tracking_warning:
        context.warnings.append(tracking_warning)
    timings: dict[str, float] = {}
    try:
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
        _fail(folder, "interrupted (KeyboardInterrupt)", context.warnings)
        raise
    except BaseException as exc:
        _fail(folder, f"{type(exc).__name__}: {exc}", context.warnings)
        raise
    finally:
        _finish_wandb(logger, context.warnings)
    folder.write_status("finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), warnings=context.warnings)
    return folder.path


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
    folder.write_status("failed", reason=reason, warnings=warnings, **details)


def resume_run(path: str | os.PathLike[str]) -> Path | None:
    """Continue the run in ``path`` from its last checkpoint with the config it was started with."""
    import yaml

    folder = RunFolder.open(path)
    state = folder.status().get("state")
    if state == "finished":
        raise ConfigError(f"run {folder.path} already finished: nothing to resume (start a new run with privib run)")
    if _ddp_child_folder() is None and state == "running" and _alive(folder.status().get("pid")):
        raise ConfigError(f"run {folder.path} is still running (pid {folder.status().get('pid')}): wait for it or stop it first")
    config = yaml.safe_load(folder.config_path.read_text())
    return run_pipeline(config, resume=folder)


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _finish_wandb(logger: Any | None, warnings: list[str]) -> None:
    if logger is None:
        return
    import wandb

    if wandb.run is not None:
        if warnings:
            wandb.run.summary["warnings"] = warnings
        wandb.finish()
