"""The ``evaluate`` stage: the full audit of the best checkpoint (:func:`privib.evaluation.audit.audit`).

It reads only the run folder (config.yaml, checkpoints/, history.json) and the data the
config names, so ``privib evaluate RUN`` can re-run it on any trained run.
"""
from __future__ import annotations

from privib.pipeline.context import RunContext
from privib.pipeline.stage import Stage


def evaluate_stage(ctx: RunContext) -> dict[str, float]:
    """Every evaluation figure of the best checkpoint on the test split; ``time/evaluate/*`` parts for timings.json."""
    from privib.evaluation.audit import Timer, audit, info_plane
    from privib.evaluation.options import check_evaluation_config
    from privib.models.checkpoint import load_trained_model

    timer = Timer()
    options = check_evaluation_config(ctx.config, ctx.trusted_modules)
    run_seed = int(ctx.config.get("seed_everything") or 0)
    seed = int(options.random_state if options.random_state is not None else run_seed)
    checkpoint = ctx.folder.require_checkpoint()
    with timer("load"):
        trained = load_trained_model(checkpoint)
        datamodule = ctx.datamodule()
    out = audit(trained, datamodule, options, seed=seed, head_seed=run_seed, trusted=ctx.trusted_modules, timer=timer)
    if options.raw_reference:  # the references of the verdict: the raw features (in the audit) and a prediction release
        from privib.pipeline.prediction_reference import prediction_reference

        with timer("prediction_reference"):
            out.update(prediction_reference(datamodule, options.attackers, options.n_boot, seed, ctx.trusted_modules))
    out.update(info_plane(ctx.folder.history(), list(datamodule.spec.sensitive), ctx.folder.metrics().get("fit/best_epoch")))
    out.update({f"time/evaluate/{k}_s": v for k, v in timer.parts.items()})
    return out


def _check(config: dict, trusted: tuple[str, ...]) -> None:
    from privib.evaluation.options import check_evaluation_config

    check_evaluation_config(config, trusted)


STAGE = Stage("evaluate", evaluate_stage, check=_check)
