"""The stage protocol: a named step of a pipeline that reads the run folder and returns flat metrics.

A stage's ``run`` gets the :class:`~privib.pipeline.context.RunContext` and returns metric keys
to merge into ``metrics.json`` (keys starting with ``time/`` go to ``timings.json`` instead).
``check``, when given, validates the stage's config section before any training, so bad input
never costs a training run. Stages communicate only through the run folder's files.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from collections.abc import Callable

if TYPE_CHECKING:
    from privib.pipeline.context import RunContext

Check = Callable[[dict[str, Any], tuple[str, ...]], Any]


@dataclass(frozen=True)
class Stage:
    """One pipeline step: its name in pipeline specs, what it does, and an optional config check."""

    name: str
    run: Callable[[RunContext], dict[str, float]]
    check: Check | None = None

    def check_config(self, config: dict[str, Any], trusted: tuple[str, ...] = ()) -> None:
        """Run :attr:`check` on a resolved config (``trusted``: modules the user named on the command line)."""
        if self.check is not None:
            self.check(config, trusted)
