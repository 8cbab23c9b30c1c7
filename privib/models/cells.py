"""A quantized encoder: each record goes to one of ``n_cells`` cells, released as a one-hot code.

A code with finitely many values admits a certificate on any attacker's leakage
(:mod:`privib.evaluation.certificate`); a Gaussian code does not. The encoder is an MLP whose
``n_cells`` logits pick the cell by argmax, so the release is a deterministic function of the
record: releasing it again gives nothing new.

``forward`` returns ``(code, zeros)``, the ``(mean, scale)`` pair of a deterministic
:class:`~privib.models.networks.GaussianMLPEncoder` of width ``n_cells``, so the task head, the
adversaries, the audit, the robustness attacks and the export read the one-hot code with no
special case. The value is exactly the hard one-hot; when autograd is on, gradients pass
straight through ``softmax(logits / temperature)`` (the straight-through estimator), so the
encoder trains against the task head and the adversaries, and FGSM / PGD attack the cell
boundaries instead of meeting a zero gradient.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from privib.errors import ConfigError
from privib.models.networks import make_mlp

__all__ = ["CellEncoder", "one_hot_cells", "straight_through", "gumbel_straight_through"]


def one_hot_cells(logits: torch.Tensor) -> torch.Tensor:
    """The one-hot of ``argmax(logits)`` per row, in the dtype of ``logits`` (no gradient)."""
    return F.one_hot(logits.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)


def straight_through(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """The one-hot of ``argmax(logits)``; with autograd on, gradients of ``softmax(logits / temperature)``."""
    hard = one_hot_cells(logits)
    if not torch.is_grad_enabled():
        return hard
    soft = (logits / temperature).softmax(dim=-1)
    return hard + (soft - soft.detach())  # exactly ``hard`` in value: the bracket is exactly 0


def gumbel_straight_through(
    logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One draw of a cell from ``softmax(logits)`` (Gumbel-max), one-hot, with straight-through gradients."""
    uniform = torch.rand(logits.shape, dtype=logits.dtype, device=logits.device, generator=generator)
    gumbel = -torch.log(-torch.log(uniform.clamp(1e-10, 1.0 - 1e-7)))
    return straight_through(logits + gumbel, temperature)


class CellEncoder(nn.Module):
    """x -> one of ``n_cells`` cells: the one-hot of the argmax of an MLP's logits.

    Attributes mirror :class:`~privib.models.networks.GaussianMLPEncoder` (``input_dim``,
    ``z_dim`` = ``n_cells``, ``deterministic`` = True, ``min_scale`` = 0, ``body``), which is what
    the export reads back.
    """

    deterministic = True
    min_scale = 0.0

    def __init__(
        self,
        input_dim: int,
        n_cells: int = 8,
        widths: Sequence[int] = (128, 128),
        activation: str = "relu",
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if isinstance(n_cells, bool) or not isinstance(n_cells, int) or n_cells < 2:
            raise ConfigError(f"model.n_cells must be an integer >= 2, got {n_cells!r}: pass e.g. --model.n_cells 4")
        if not temperature > 0:
            raise ConfigError(f"model.cell_temperature must be > 0, got {temperature}")
        self.input_dim = input_dim
        self.n_cells = n_cells
        self.z_dim = n_cells
        self.temperature = float(temperature)
        self.body = make_mlp(input_dim, widths, n_cells, activation)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The ``(batch, n_cells)`` cell logits."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(code, zeros)``: the released one-hot cell (straight-through gradients) and a zero scale."""
        code = straight_through(self.body(x), self.temperature)
        return code, torch.zeros_like(code)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """The released one-hot cells, with no gradient path (what an export computes)."""
        return one_hot_cells(self.body(x))

    def sample(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A cell drawn from ``softmax(logits)`` per row (training-time exploration; never released)."""
        return gumbel_straight_through(self.body(x), self.temperature, generator)

    @torch.no_grad()
    def cells(self, x: torch.Tensor) -> torch.Tensor:
        """The released cell of each row, as ids in ``0..n_cells-1``."""
        return self.body(x).argmax(dim=-1)
