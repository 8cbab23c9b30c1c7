"""Weights & Biases: pick the mode (online only when logged in) and build the Lightning logger."""
from __future__ import annotations

import logging
import netrc
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from privib.pipeline.options import WandbOptions

log = logging.getLogger("privib")


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


def wandb_host_reachable(timeout_s: float = 3.0) -> bool:
    """True when a TCP connection to the W&B host (``WANDB_BASE_URL``) opens within ``timeout_s``."""
    url = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "api.wandb.ai", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def make_wandb_logger(
    options: WandbOptions, run_dir: Path, config: dict[str, Any], run_id: str | None = None
) -> tuple[Any | None, str | None]:
    """A WandbLogger under ``run_dir/wandb`` with the full resolved config, and a warning if any.

    Online mode falls back to offline, with one warning, when the W&B host cannot be reached
    or rejects the credentials: W&B's own retries would otherwise hang the run for 90 s.
    ``run_id`` lets a resumed run continue the same W&B run.
    """
    mode = resolve_wandb_mode(options)
    if mode == "disabled":
        return None, None
    os.environ.setdefault("WANDB_SILENT", "true")
    warning = None
    if mode == "online" and not wandb_host_reachable():
        warning = "W&B host unreachable: logging offline instead (upload later with `wandb sync`)"
        mode = "offline"
    logger = _build_logger(options, run_dir, config, run_id, mode)
    if mode == "online":
        try:
            logger.experiment  # noqa: B018 - starts the run now, so bad credentials fail here, not mid-training
        except Exception as exc:  # W&B raises several types for refused credentials
            import wandb

            if wandb.run is not None:
                wandb.finish(exit_code=1)
            warning = f"W&B refused the run ({type(exc).__name__}: {exc}): logging offline instead"
            logger = _build_logger(options, run_dir, config, run_id, "offline")
    if warning:
        log.warning(warning)
    return logger, warning


def _build_logger(options: WandbOptions, run_dir: Path, config: dict[str, Any], run_id: str | None, mode: str) -> Any:
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    return WandbLogger(
        name=run_dir.name,
        save_dir=str(run_dir),
        project=options.project,
        entity=options.entity,
        group=options.group,
        tags=list(options.tags) or None,
        mode=mode,
        id=run_id,
        resume="allow" if run_id else None,
        config=config,
        job_type="train",
        settings=wandb.Settings(init_timeout=20),
    )
