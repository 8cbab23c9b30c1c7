"""The ``fit`` stage: train the run's freshly built module into the run folder's ``checkpoints/``."""
from __future__ import annotations

from privib.errors import ConfigError
from privib.pipeline.context import NonZeroRankDone, RunContext
from privib.pipeline.stage import Stage


def fit_stage(ctx: RunContext) -> dict[str, float]:
    """Train the module; best checkpoint by ``checkpoint.monitor`` plus the last one in checkpoints/."""
    from privib.training.fit import fit_module
    from privib.training.options import CheckpointOptions

    if ctx.module is None:
        raise ConfigError("the fit stage needs a freshly built model: run it through `privib run`")
    result = fit_module(
        ctx.module, ctx.datamodule(), ctx.folder.checkpoints, ctx.folder.history_path,
        CheckpointOptions(**ctx.config["checkpoint"]), ctx.config["trainer"], logger=ctx.logger,
        resume_checkpoint=ctx.resume_checkpoint,
    )
    if result.global_rank != 0:
        raise NonZeroRankDone()
    ctx.warnings.extend(result.warnings)
    return result.metrics


STAGE = Stage("fit", fit_stage)
