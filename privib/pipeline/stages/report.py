"""The ``report`` stage: ``report.md`` and figures in the run folder, and the same in the run's W&B run."""
from __future__ import annotations

from privib.pipeline.context import RunContext
from privib.pipeline.stage import Stage


def report_stage(ctx: RunContext) -> dict[str, float]:
    """Write report.md and figures/*.png; log the figures and the attacker table to W&B when it is on."""
    from privib.evaluation.report import log_report_to_wandb, write_report
    from privib.evaluation.rows import release_of

    metrics = ctx.folder.metrics()
    figures = write_report(ctx.folder, ctx.config, metrics)
    if ctx.logger is not None:
        log_report_to_wandb(ctx.logger.experiment, metrics, figures, release_of(ctx.config))
    return {}


STAGE = Stage("report", report_stage)
