"""Log a comparison to W&B as one run of job type ``compare``: the table, the per-method summary, the plot."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from privib.compare.records import RunRecord
from privib.compare.render import summary_dict
from privib.compare.table import CompareResult

log = logging.getLogger(__name__)

__all__ = ["log_compare_to_wandb", "log_records_run"]


def log_compare_to_wandb(result: CompareResult, paths: dict[str, Path], *, project: str, entity: str | None,
                         group: str | None, name: str, mode: str, directory: Path,
                         config: dict[str, Any] | None = None) -> str | None:
    """Log the comparison as one W&B run (job type ``compare``): the table, the per-method summary, the plot.

    ``mode`` is ``online``, ``offline`` or ``disabled`` (nothing is logged). Returns the run's
    local folder (offline) or URL, or None.
    """
    if mode == "disabled":
        return None
    import wandb

    from privib.runs.wandb import INIT_TIMEOUT_S, start_wandb_run

    directory.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")

    def start(chosen: str, run_id: str | None, now: bool) -> Any:
        return wandb.init(project=project, entity=entity, group=group, name=name, job_type="compare", mode=chosen,
                          id=run_id, dir=str(directory), config={"sources": result.sources, **(config or {})},
                          reinit="create_new", settings=wandb.Settings(init_timeout=INIT_TIMEOUT_S))

    run, _, warning = start_wandb_run(start, mode)
    if warning:
        log.warning(warning)
        mode = "offline"
    try:
        table = result.table.copy()
        table.columns = [str(c) for c in table.columns]
        payload: dict[str, Any] = {
            "compare/table": wandb.Table(dataframe=table.astype({c: str for c in result.params})),
            "compare/methods": wandb.Table(dataframe=result.methods),
        }
        if "plot" in paths:
            payload["compare/pareto"] = wandb.Image(str(paths["plot"]))
        run.log(payload)
        run.summary.update({f"compare/{k}": v for k, v in summary_dict(result).items() if v is not None})
        where = run.url if mode == "online" else str(Path(run.dir).parent)
    finally:
        run.finish()
    return where


def log_records_run(result: CompareResult, paths: dict[str, Path], records: Sequence[RunRecord], out_dir: Path,
                    name: str, group: str | None = None) -> str | None:
    """Log a comparison to W&B with the project, entity and mode of the compared runs' own W&B settings."""
    from privib.runs.wandb import WandbOptions, resolve_wandb_mode, wandb_options

    options = wandb_options(records[0].config.get("wandb"))
    if not options.enabled:  # the runs had W&B off; the comparison still follows WANDB_MODE / credentials
        options = WandbOptions(project=options.project, entity=options.entity)
    groups = {(r.config.get("wandb") or {}).get("group") for r in records}
    group = group or (groups.pop() if len(groups) == 1 else None)
    return log_compare_to_wandb(result, paths, project=options.project, entity=options.entity, group=group, name=name,
                                mode=resolve_wandb_mode(options), directory=out_dir)
