"""The exported computation as a plain module: features -> (mean, log_var) of q(z|x).

A cell encoder (``release: cells``) exports the same signature: ``mean`` is the one-hot cell of each
row and ``log_var`` the deterministic constant, so ``encode()`` returns the one-hot cell.

Used by every exporter and by the torch backend of :func:`privib.load_encoder`, so all
three formats run the same graph. Imports torch and privib.models only.
"""
from __future__ import annotations

from typing import Any
from collections.abc import Mapping

import torch
from torch import nn

from privib.errors import ExportError
from privib.export.spec import DETERMINISTIC_LOG_VAR
from privib.models.cells import CellEncoder
from privib.models.networks import GaussianMLPEncoder


class MeanLogVarEncoder(nn.Module):
    """Wrap a :class:`GaussianMLPEncoder`: return the mean of q(z|x) and its log-variance.

    A deterministic encoder (scale 0) returns ``DETERMINISTIC_LOG_VAR`` as log-variance, a
    finite constant whose ``exp(0.5 * .)`` is exactly 0. A :class:`CellEncoder` returns its
    one-hot cells as the mean, with that constant log-variance.
    """

    def __init__(self, encoder: GaussianMLPEncoder | CellEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.encoder, CellEncoder):  # the hard one-hot, without the straight-through arithmetic
            code = self.encoder.code(features)
            return code, torch.full_like(code, DETERMINISTIC_LOG_VAR)
        mean, scale = self.encoder(features)
        if self.encoder.deterministic:
            return mean, torch.full_like(mean, DETERMINISTIC_LOG_VAR)
        return mean, 2.0 * torch.log(scale)


def encoder_architecture(encoder: GaussianMLPEncoder | CellEncoder) -> dict[str, Any]:
    """The constructor arguments of ``encoder``, read back from its layers."""
    linears = [m for m in encoder.body if isinstance(m, nn.Linear)]
    activations = [m for m in encoder.body if not isinstance(m, nn.Linear)]
    from privib.models.networks import ACTIVATIONS

    names = {cls: name for name, cls in ACTIVATIONS.items()}
    activation = names.get(type(activations[0]), "relu") if activations else "relu"
    return {
        "input_dim": int(encoder.input_dim),
        "z_dim": int(encoder.z_dim),
        "encoder_widths": [int(m.out_features) for m in linears[:-1]],
        "activation": activation,
        "deterministic": bool(encoder.deterministic),
        "min_scale": float(encoder.min_scale),
    }


def build_encoder(metadata: Mapping[str, Any]) -> GaussianMLPEncoder | CellEncoder:
    """A fresh, untrained encoder with the architecture described by export metadata (``release cells``: a cell encoder)."""
    try:
        if metadata.get("release") == "cells":
            return CellEncoder(int(metadata["input_dim"]), n_cells=int(metadata["z_dim"]),
                               widths=[int(w) for w in metadata["encoder_widths"]], activation=str(metadata["activation"]))
        return GaussianMLPEncoder(
            input_dim=int(metadata["input_dim"]),
            z_dim=int(metadata["z_dim"]),
            widths=[int(w) for w in metadata["encoder_widths"]],
            activation=str(metadata["activation"]),
            deterministic=bool(metadata["deterministic"]),
            min_scale=float(metadata["min_scale"]),
        )
    except Exception as exc:  # ConfigError from make_mlp, or bad numbers
        raise ExportError(f"export metadata describes an encoder privib cannot build ({exc}): re-export the run") from exc
