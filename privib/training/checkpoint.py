"""Checkpoints as Lightning writes and reads them: atomically written, loaded as plain weights only.

Reading a trained model back for evaluation or export needs no Lightning:
:func:`privib.models.checkpoint.load_trained_model`.
"""
from __future__ import annotations

import io
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from privib.io import write_bytes_atomic
from privib.models.checkpoint import load_weights_only


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, but each file is written to a temp file, fsynced and renamed.

    Lightning writes a checkpoint in place, so a full disk or a kill mid-write leaves a
    truncated ``best.ckpt`` where the previous good one was; here the previous file stays
    whole until the new one is complete. Loads use ``weights_only=True`` (also on resume).
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_bytes_atomic(path, buffer.getvalue())

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return load_weights_only(path)
