"""Checkpoints: written atomically, loaded without unpickling arbitrary objects.

A checkpoint from a shared run folder is untrusted input: every load goes through
``torch.load(weights_only=True)`` (tensors, containers and plain values only), also before a
resumed run hands its last checkpoint to Lightning, whatever the environment says
(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot override an explicit ``weights_only=True``).
"""
from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from privib.errors import ConfigError
from privib.io import write_bytes_atomic
from privib.training.module import VIBModule


def load_weights_only(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` on CPU; a ConfigError naming the file when it is not plain weights."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {path} not found: train first with `privib run`, or pass a run folder that holds checkpoints/")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" not in str(exc).lower():  # no foreign class or function named: a truncated or foreign file
            raise ConfigError(f"checkpoint {path} is unreadable or truncated (not a torch checkpoint): re-run training") from exc
        raise ConfigError(
            f"checkpoint {path} holds pickled objects other than weights (refused: loading it could run code); "
            "use a checkpoint written by privib, or re-run training"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, TypeError) as exc:
        raise ConfigError(f"checkpoint {path} is unreadable or truncated ({type(exc).__name__}): re-run training") from exc
    if not isinstance(checkpoint, dict):
        raise ConfigError(f"checkpoint {path} is not a privib checkpoint (not a mapping): re-run training")
    return checkpoint


def verify_weights_only(path: str | os.PathLike[str]) -> None:
    """Raise a ConfigError unless ``path`` loads with ``weights_only=True`` as a Lightning checkpoint of privib's module."""
    checkpoint = load_weights_only(path)
    if not {"state_dict", "hyper_parameters"} <= set(checkpoint):
        raise ConfigError(f"checkpoint {path} is not a privib checkpoint (no state_dict / hyper_parameters): re-run training")


def load_module(path: str | Path) -> VIBModule:
    """Rebuild the ``VIBModule`` stored in ``path`` (loaded with ``weights_only=True``), in eval mode."""
    checkpoint = load_weights_only(path)
    try:
        module = VIBModule(**checkpoint["hyper_parameters"])
        module.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"checkpoint {path} is not a privib checkpoint ({type(exc).__name__}): re-run training") from exc
    return module.eval()


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint IO, but each file is written to a temp file, fsynced and renamed.

    Lightning writes a checkpoint in place, so a full disk or a kill mid-write leaves a
    truncated ``best.ckpt`` where the previous good one was; here the previous file stays
    whole until the new one is complete. Loads use ``weights_only=True``.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_bytes_atomic(path, buffer.getvalue())

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return load_weights_only(path)
