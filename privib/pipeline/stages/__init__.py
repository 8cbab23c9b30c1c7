"""The registered pipeline stages, by the names pipeline specs use (``stages: [fit, test, ...]``).

Adding a stage is a module here with a ``STAGE`` and one entry below.
"""
from __future__ import annotations

from privib.errors import ConfigError
from privib.pipeline.stage import Stage
from privib.pipeline.stages import evaluate, export, fit, release, report, test

STAGES: dict[str, Stage] = {stage.name: stage for stage in (fit.STAGE, test.STAGE, evaluate.STAGE, release.STAGE, report.STAGE,
                                                             export.STAGE)}


def get_stage(name: str) -> Stage:
    """The stage registered as ``name``, or a ConfigError listing the known stages."""
    if name not in STAGES:
        raise ConfigError(f"unknown pipeline stage '{name}': use one of {', '.join(STAGES)}")
    return STAGES[name]


__all__ = ["STAGES", "Stage", "get_stage"]
