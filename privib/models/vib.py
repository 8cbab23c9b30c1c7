"""The VIB model as a plain module: encoder q(z|x), task head p(y|z), one adversary per attribute."""
from __future__ import annotations

from typing import Any
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from privib.models.cells import CellEncoder
from privib.models.distributions import reparameterize
from privib.models.networks import ClassifierHead, GaussianMLPEncoder


class VIBModel(nn.Module):
    """Encoder, task head and adversaries; ``adversaries[i]`` predicts sensitive attribute ``i``.

    ``n_cells`` 0 builds the Gaussian encoder of width ``z_dim``; ``n_cells`` >= 2 a
    :class:`~privib.models.cells.CellEncoder` whose one-hot code of width ``n_cells`` the heads read.
    """

    def __init__(
        self,
        input_dim: int,
        n_target_classes: int,
        n_sensitive_classes: Sequence[int],
        z_dim: int = 16,
        encoder_widths: Sequence[int] = (128, 128),
        head_widths: Sequence[int] = (),
        adversary_widths: Sequence[int] = (64, 64),
        activation: str = "relu",
        deterministic: bool = False,
        n_cells: int = 0,
        cell_temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if n_cells:
            self.encoder: GaussianMLPEncoder | CellEncoder = CellEncoder(
                input_dim, n_cells, encoder_widths, activation, cell_temperature)
            z_dim = n_cells
        else:
            self.encoder = GaussianMLPEncoder(input_dim, z_dim, encoder_widths, activation, deterministic)
        self.task_head = ClassifierHead(z_dim, n_target_classes, head_widths, activation)
        self.adversaries = nn.ModuleList(
            ClassifierHead(z_dim, n, adversary_widths, activation) for n in n_sensitive_classes
        )

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor, n_samples: int = 0) -> torch.Tensor:
        """Task class probabilities: from the mean of q(z|x) when ``n_samples`` is 0, else averaged over draws."""
        mean, scale = self.encoder(x)
        if n_samples == 0 or self.encoder.deterministic:
            return self.task_head(mean).softmax(dim=-1)
        z = reparameterize(mean, scale, n_samples)
        return self.task_head(z).softmax(dim=-1).mean(dim=0)


# The VIBModule hyper-parameters that shape the plain model (the rest are about training). ``release cells``
# selects the cell encoder, with ``n_cells`` and ``cell_temperature``.
ARCHITECTURE_KEYS = ("z_dim", "encoder_widths", "head_widths", "adversary_widths", "activation", "deterministic",
                     "release", "n_cells", "cell_temperature")


def build_vib_model(data_spec: Mapping[str, Any], **architecture: Any) -> VIBModel:
    """The model a data spec (``DataSpec.to_dict()``) and architecture settings describe.

    One place for both the LightningModule that trains it and the checkpoint loader that rebuilds
    it for evaluation and export, so the two can never disagree on the layout.
    """
    sensitive = list(data_spec["sensitive"])
    chosen = {k: architecture[k] for k in ARCHITECTURE_KEYS if k in architecture}
    if chosen.pop("release", None) == "cells":
        chosen["n_cells"] = chosen.get("n_cells", 8)
    else:
        chosen.pop("n_cells", None)
        chosen.pop("cell_temperature", None)
    return VIBModel(
        input_dim=int(data_spec["input_dim"]),
        n_target_classes=len(data_spec["target_classes"]),
        n_sensitive_classes=[len(data_spec["sensitive_classes"][a]) for a in sensitive],
        **chosen,
    )


@torch.no_grad()
def task_probabilities(model: VIBModel, x: torch.Tensor, n_samples: int, batch_size: int = 8192) -> np.ndarray:
    """Task-head class probabilities of ``x`` in batches (averaged over ``n_samples`` draws of z; 0: the mean)."""
    parts = [model.predict_proba(x[i : i + batch_size], n_samples) for i in range(0, len(x), batch_size)]
    return torch.cat(parts).numpy()
