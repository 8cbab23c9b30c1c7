"""Export trained encoders and use them downstream.

- :func:`load_encoder` / :class:`ExportedEncoder` (:mod:`privib.export.encoder`): encode raw
  records with an export folder; imports neither Lightning, W&B nor the training code.
- :func:`export_encoder` (:mod:`privib.export.exporters`): write an export folder from a
  plain encoder and its fitted preprocessor.
- :func:`export_run` (:mod:`privib.export.run`): export a run folder's checkpoint.
- :mod:`privib.export.spec`: the folder layout and metadata contract.
- :mod:`privib.export.noise`: noise keyed to the record (``encode(records, key=...)``), and
  :mod:`privib.export.threat_model` the model card's section on it.

Names are imported lazily, so ``import privib.export`` stays light.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "load_encoder": "privib.export.encoder",
    "ExportedEncoder": "privib.export.encoder",
    "EncoderInputError": "privib.export.encoder",
    "export_encoder": "privib.export.exporters",
    "ExportResult": "privib.export.exporters",
    "export_run": "privib.export.run",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'privib.export' has no attribute '{name}'")
