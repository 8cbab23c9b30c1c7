"""What every stage receives: the run folder, the resolved config, shared lazily built objects."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from privib.runs import RunFolder


class NonZeroRankDone(Exception):
    """Raised on DDP ranks other than 0 after training: only rank 0 runs later stages and writes files."""


@dataclass
class RunContext:
    """Inputs of a stage. Stages communicate only through the run folder's files.

    ``resume_checkpoint`` is the checkpoint the fit stage continues from (``--resume``);
    ``trusted_modules`` are the modules beyond sklearn and privib that attacker and probe specs may
    name: those the user typed on the command line, never what a config file says.
    ``warnings`` collects what stages want recorded in status.json and W&B.
    ``datamodule`` is rebuilt from the config on first use (and shared, since every stage
    derives the same data from the same config); ``module`` is the freshly built, untrained
    module handed to the fit stage; ``logger`` is the W&B logger of this run, if any.
    """

    folder: RunFolder
    config: dict[str, Any]
    logger: Any | None = None
    module: Any | None = None
    resume_checkpoint: Path | None = None
    trusted_modules: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    _datamodule: Any | None = field(default=None, repr=False)

    def datamodule(self) -> Any:
        """The prepared datamodule of this run's ``data`` config."""
        if self._datamodule is None:
            from privib.data.datamodule import PrivibDataModule

            datamodule = PrivibDataModule(**self.config["data"])
            datamodule.setup()
            self._datamodule = datamodule
        return self._datamodule
