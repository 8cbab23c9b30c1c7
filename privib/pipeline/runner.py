"""Run a pipeline: validate the config, create the run folder, run each stage, record the outcome."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from privib.errors import ConfigError, PrivibError
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


def run_pipeline(config: dict[str, Any]) -> Path | None:
    """Build data and model (so bad input fails before any folder exists), then run the stages.

    Returns the run folder, or None on a DDP rank other than 0.
    """
    import pytorch_lightning as pl
    import torch

    from privib.data.datamodule import PrivibDataModule
    from privib.pipeline.tracking import make_wandb_logger
    from privib.training.module import VIBModule

    stages = [(name, get_stage(name)) for name in load_pipeline_stages(config["pipeline"])]
    if config["threads"] < 1:
        raise ConfigError(f"threads must be at least 1, got {config['threads']}")
    torch.set_num_threads(config["threads"])
    pl.seed_everything(config["seed_everything"], workers=True, verbose=False)
    datamodule = PrivibDataModule(**config["data"])
    datamodule.setup()
    module = VIBModule(data_spec=datamodule.spec.to_dict(), **config["model"])

    child_folder = _ddp_child_folder()
    folder = child_folder or RunFolder(create_run_folder(config["runs_dir"], config["name"]))
    if child_folder is None:
        folder.write_config(config)
        folder.write_status("running", pid=os.getpid(), started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            stages=[name for name, _ in stages])
        os.environ[RUN_DIR_ENV] = str(folder.path)
    logger = make_wandb_logger(WandbOptions(**config["wandb"]), folder.path, config)
    context = RunContext(folder=folder, config=config, logger=logger, module=module, _datamodule=datamodule)
    try:
        for name, run_stage in stages:
            metrics = run_stage(context)
            folder.update_metrics(metrics)
            if logger is not None:
                logger.experiment.summary.update(metrics)
    except NonZeroRankDone:
        return None
    except PrivibError as exc:
        folder.write_status("failed", reason=str(exc))
        raise
    except KeyboardInterrupt:
        folder.write_status("failed", reason="interrupted (KeyboardInterrupt)")
        raise
    except BaseException as exc:
        folder.write_status("failed", reason=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        _finish_wandb(logger)
    folder.write_status("finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return folder.path


def _finish_wandb(logger: Any | None) -> None:
    if logger is None:
        return
    import wandb

    if wandb.run is not None:
        wandb.finish()
