"""Weights & Biases: pick the mode (online only when logged in) and build the Lightning logger."""
from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from privib.pipeline.options import WandbOptions


def wandb_api_key_configured() -> bool:
    """True when W&B credentials exist: ``WANDB_API_KEY`` or a netrc entry for the W&B host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC") or None).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_wandb_mode(options: WandbOptions) -> str:
    """``disabled``, ``offline`` or ``online``: explicit settings first, then ``WANDB_MODE``, then credentials."""
    if not options.enabled or options.mode == "disabled":
        return "disabled"
    if options.mode != "auto":
        return options.mode
    env_mode = os.environ.get("WANDB_MODE", "").strip().lower()
    if env_mode in ("online", "offline", "disabled"):
        return env_mode
    if env_mode == "dryrun":
        return "offline"
    return "online" if wandb_api_key_configured() else "offline"


def make_wandb_logger(options: WandbOptions, run_dir: Path, config: dict[str, Any]) -> Any | None:
    """A WandbLogger writing under ``run_dir/wandb`` with the full resolved config, or None when disabled."""
    mode = resolve_wandb_mode(options)
    if mode == "disabled":
        return None
    from pytorch_lightning.loggers import WandbLogger

    os.environ.setdefault("WANDB_SILENT", "true")
    return WandbLogger(
        name=run_dir.name,
        save_dir=str(run_dir),
        project=options.project,
        entity=options.entity,
        group=options.group,
        tags=list(options.tags) or None,
        mode=mode,
        config=config,
        job_type="train",
    )
