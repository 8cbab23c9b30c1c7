"""The ``export`` stage: write ``<run>/export/`` from the best checkpoint and log it to W&B.

Put it last in a pipeline spec (after any evaluation stage), so the model card and the
exported metrics.json quote every figure of the run.
"""
from __future__ import annotations

import logging

from privib.pipeline.context import RunContext
from privib.pipeline.stage import Stage

log = logging.getLogger(__name__)


def export_stage(ctx: RunContext) -> dict[str, float]:
    """Export every format (safetensors, onnx, pt2) of the best checkpoint; returns ``export/*`` figures
    (parity errors, W&B artifact) and ``time/export/*`` durations."""
    from privib.export.run import export_run, log_export_artifact

    result = export_run(ctx.folder.path, checkpoint=ctx.folder.checkpoint("best"), datamodule=ctx.datamodule())
    # Durations go to timings.json (time/ keys), so metrics.json stays identical across identical runs.
    metrics = {(f"time/{k}" if k.endswith("/seconds") else k): v for k, v in result.metrics.items()}
    if ctx.logger is not None:
        try:
            log_export_artifact(ctx.logger.experiment, result, aliases=("latest", "best"))
            metrics["export/wandb_artifact"] = 1.0
        except Exception as exc:  # the export on disk is complete; W&B trouble must not fail the run
            log.warning("could not log the export to W&B (%s: %s); the export folder is complete", type(exc).__name__, exc)
            metrics["export/wandb_artifact"] = 0.0
    return metrics


STAGE = Stage("export", export_stage)
