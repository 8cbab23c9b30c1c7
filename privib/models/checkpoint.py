"""Read a trained model back from a checkpoint, as plain weights only, with no Lightning import.

A checkpoint from a shared run folder is untrusted input: every load goes through
``torch.load(weights_only=True)`` (tensors, containers and plain values only), whatever the
environment says (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot override an explicit
``weights_only=True``). Evaluation and export need the plain :class:`VIBModel` and the
hyper-parameters it was trained with; both are in the checkpoint Lightning writes.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from privib.errors import ConfigError
from privib.models.vib import ARCHITECTURE_KEYS, VIBModel, build_vib_model

MODEL_PREFIX = "model."  # the LightningModule holds the plain model as its attribute ``model``


@dataclass
class TrainedModel:
    """A trained VIB model and the hyper-parameters of the run that trained it."""

    model: VIBModel
    hparams: dict[str, Any]

    @property
    def release(self) -> str:
        """What the run released and audited: ``mean``, ``sample`` or ``cells`` (``mean`` for checkpoints older than the option)."""
        return str(self.hparams.get("release", "mean"))

    @property
    def deterministic(self) -> bool:
        """No noise in the released code: a deterministic Gaussian encoder, or a cell encoder."""
        return bool(self.hparams.get("deterministic", False)) or self.release == "cells"

    @property
    def n_cells(self) -> int | None:
        """The number of cells of a ``cells`` release (None for a Gaussian code)."""
        return int(self.model.encoder.n_cells) if self.release == "cells" else None

    @property
    def eval_samples(self) -> int:
        return int(self.hparams.get("eval_samples", 16))

    @property
    def data_spec(self) -> dict[str, Any]:
        return dict(self.hparams["data_spec"])


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
    """Raise a ConfigError unless ``path`` loads with ``weights_only=True`` as a checkpoint of a privib run."""
    checkpoint = load_weights_only(path)
    if not {"state_dict", "hyper_parameters"} <= set(checkpoint):
        raise ConfigError(f"checkpoint {path} is not a privib checkpoint (no state_dict / hyper_parameters): re-run training")


def load_trained_model(path: str | os.PathLike[str]) -> TrainedModel:
    """The plain model stored in a privib checkpoint (weights only), in eval mode, with its hyper-parameters."""
    checkpoint = load_weights_only(path)
    try:
        hparams = dict(checkpoint["hyper_parameters"])
        model = build_vib_model(hparams["data_spec"], **{k: v for k, v in hparams.items() if k in ARCHITECTURE_KEYS})
        state = {k[len(MODEL_PREFIX):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(MODEL_PREFIX)}
        model.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"checkpoint {path} is not a privib checkpoint ({type(exc).__name__}): re-run training") from exc
    return TrainedModel(model=model.eval(), hparams=hparams)
