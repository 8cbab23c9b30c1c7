"""The Lightning W&B logger of a run: the full resolved config, offline fallback, the run id kept."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from privib.runs.folder import STATES, RunFolder
from privib.runs.wandb import INIT_TIMEOUT_S, WandbOptions, resolve_wandb_mode, start_wandb_run, wandb_options

log = logging.getLogger(__name__)


def make_wandb_logger(
    options: WandbOptions, run_dir: Path, config: dict[str, Any], run_id: str | None = None
) -> tuple[Any | None, str | None]:
    """A WandbLogger under ``run_dir/wandb`` with the full resolved config, and a warning if any.

    Online mode falls back to offline, with one warning, when the W&B host does not answer
    within a few seconds or the online start fails (see :func:`start_wandb_run`): W&B's own
    retries would otherwise hang the run for minutes. ``run_id`` lets a resumed run continue
    the same W&B run; if W&B forces a different id, it is recorded in ``run_dir/status.json``
    so that ``privib evaluate`` resumes the run that holds the data.
    """
    mode = resolve_wandb_mode(options)
    if mode == "disabled":
        return None, None
    os.environ.setdefault("WANDB_SILENT", "true")

    def start(chosen: str, chosen_id: str | None, now: bool) -> Any:
        logger = _build_logger(options, run_dir, config, chosen_id, chosen)
        if now:
            logger.experiment  # noqa: B018 - starts the run now, so a refusal fails here, not mid-training
        return logger

    logger, used_id, warning = start_wandb_run(start, mode, run_id)
    if run_id is not None and used_id != run_id:
        _record_wandb_id(run_dir, used_id)
    if warning:
        log.warning(warning)
    return logger, warning


def _record_wandb_id(run_dir: Path, run_id: str | None) -> None:
    """Store the W&B run id actually used in the run folder's status, keeping its state."""
    folder = RunFolder(run_dir)
    if not folder.status_path.is_file():
        return
    state = folder.status().get("state")
    if state in STATES:
        folder.write_status(state, wandb_id=run_id)


def _build_logger(options: WandbOptions, run_dir: Path, config: dict[str, Any], run_id: str | None, mode: str) -> Any:
    """The Lightning WandbLogger of one start attempt, around a run privib starts itself.

    ``wandb.init`` is called here rather than by the logger, so its timeout is privib's
    (``INIT_TIMEOUT_S``) and no deprecated setting reaches W&B (the logger passes ``anonymous``).
    """
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    run = wandb.init(
        name=run_dir.name, dir=str(run_dir), project=options.project, entity=options.entity, group=options.group,
        tags=list(options.tags) or None, mode=mode, id=run_id, resume="allow" if run_id else None, config=config,
        job_type="train", settings=wandb.Settings(init_timeout=INIT_TIMEOUT_S), reinit="finish_previous",
    )
    return WandbLogger(experiment=run, save_dir=str(run_dir), name=run_dir.name)


def find_wandb_run_id(run_dir: Path) -> str | None:
    """The id of the latest W&B run stored under ``run_dir/wandb`` (``[offline-]run-<time>-<id>``), if any."""
    wandb_dir = run_dir / "wandb"
    if not wandb_dir.is_dir():
        return None
    runs = sorted((p for p in wandb_dir.iterdir() if p.is_dir() and p.name.startswith(("run-", "offline-run-"))),
                  key=lambda p: p.name.split("run-", 1)[1])
    return runs[-1].name.rsplit("-", 1)[-1] if runs else None


def resume_wandb_logger(folder: Any, config: dict[str, Any]) -> Any | None:
    """A W&B logger that resumes the run's own W&B run (same id), or None when W&B is off or the run has none."""
    run_id = folder.status().get("wandb_id") or find_wandb_run_id(folder.path)
    if run_id is None or not config.get("wandb"):
        return None
    logger, _ = make_wandb_logger(wandb_options(config["wandb"]), folder.path, config, run_id)
    return logger
