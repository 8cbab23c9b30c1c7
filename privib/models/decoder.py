"""The conditional decoder p(x | z, s) of the ``cvib`` baseline, and the terms of its objective.

In the spirit of Moyer et al. 2018 ("Invariant Representations without Adversarial
Training"): since z is computed from x alone, I(z; s) = I(z; x) - I(z; x | s), and

    I(z; s) <= E_x KL(q(z|x) || q(z)) - H(x | s) + E_{x,s} E_{q(z|x)} [-log p(x | z, s)]

for any decoder p(x | z, s). H(x | s) is a constant of the data, so minimizing the
reconstruction NLL of a decoder *conditioned on s* plus the KL to the aggregate posterior
q(z) pushes information about s out of z without an adversary. KL(q(z|x_i) || q(z)) is
bounded by the batch average of pairwise KLs between the Gaussian posteriors (convexity of
KL in its second argument, with q(z) ~ (1/N) sum_j q(z|x_j)).

The reconstruction likelihood follows the preprocessed feature layout: a unit-variance
Gaussian on each standardized numeric feature (0.5 * squared error) and a categorical
distribution (softmax cross-entropy) over each one-hot group; an all-zero group (a category
unseen in training) contributes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from privib.errors import ConfigError
from privib.models.networks import make_mlp

__all__ = ["ConditionalDecoder", "FeatureGroups", "feature_groups", "reconstruction_nll", "pairwise_gaussian_kl"]


@dataclass(frozen=True)
class FeatureGroups:
    """Where each raw column lives in the preprocessed vector: numeric indices, then one index list per one-hot group."""

    numeric: tuple[int, ...]
    categorical: tuple[tuple[int, ...], ...]


def feature_groups(feature_names: Sequence[str]) -> FeatureGroups:
    """Derive the layout from the preprocessor's feature names.

    Numeric features are named after their column; one-hot features ``column=value``, and the bins
    of a numeric column (``data.numeric_bins``) ``column in [lo, hi)`` after a feature named
    ``column``. A maximal run of consecutive names of one column's values, or of its bins, is one group.
    """
    numeric: list[int] = []
    groups: list[list[int]] = []
    previous: str | None = None
    names = [str(n) for n in feature_names]
    for index, name in enumerate(names):
        column, sep, _ = name.partition(" in [")
        if not (sep and name.endswith(")") and column in names[:index]):  # not a bin of an earlier numeric column
            column, sep, _ = name.partition("=")
            column = column + "="
        if not sep:
            numeric.append(index)
            previous = None
        elif column == previous:
            groups[-1].append(index)
        else:
            groups.append([index])
            previous = column
    return FeatureGroups(tuple(numeric), tuple(tuple(g) for g in groups))


class ConditionalDecoder(nn.Module):
    """p(x | z, s): an MLP from z concatenated with one-hot codes of each sensitive attribute to the feature vector.

    Parameters
    ----------
    z_dim: width of z.
    n_sensitive_classes: number of classes of each sensitive attribute (one one-hot block each).
    output_dim: width of the preprocessed feature vector.
    widths: hidden layer widths.
    activation: hidden activation.
    """

    def __init__(
        self, z_dim: int, n_sensitive_classes: Sequence[int], output_dim: int,
        widths: Sequence[int] = (128, 128), activation: str = "relu",
    ) -> None:
        super().__init__()
        if output_dim < 1:
            raise ConfigError(f"the decoder needs at least one output feature, got {output_dim}")
        self.n_sensitive_classes = [int(n) for n in n_sensitive_classes]
        self.net = make_mlp(z_dim + sum(self.n_sensitive_classes), widths, output_dim, activation)

    def forward(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Raw outputs (numeric means and one-hot logits), ``(batch, output_dim)``; ``s`` holds class codes ``(batch, attrs)``."""
        codes = [F.one_hot(s[:, i].long(), n).to(z.dtype) for i, n in enumerate(self.n_sensitive_classes)]
        return self.net(torch.cat([z, *codes], dim=-1))


def reconstruction_nll(output: torch.Tensor, x: torch.Tensor, groups: FeatureGroups) -> torch.Tensor:
    """Per-row negative log-likelihood (nats, up to constants) of ``x`` under the decoder's ``output``.

    0.5 * squared error summed over numeric features plus, per one-hot group, the cross-entropy
    of the group's softmax against the (one-hot or all-zero) target.
    """
    nll = torch.zeros(x.shape[0], dtype=output.dtype, device=output.device)
    if groups.numeric:
        index = list(groups.numeric)
        nll = nll + 0.5 * (output[:, index] - x[:, index]).pow(2).sum(dim=-1)
    for group in groups.categorical:
        index = list(group)
        nll = nll - (x[:, index] * F.log_softmax(output[:, index], dim=-1)).sum(dim=-1)
    return nll


def pairwise_gaussian_kl(mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Per row i: mean over the batch rows j of KL(N(mean_i, scale_i^2) || N(mean_j, scale_j^2)), in nats.

    An upper bound on KL(q(z|x_i) || q(z)) with q(z) the batch mixture of posteriors. The
    mean over j of the closed-form KL expands into per-dimension batch means, so the cost is
    O(batch * z_dim) (no batch x batch matrix, so 4096-row validation batches are cheap):

        mean_j KL_ij = 0.5 * sum_d [ mean_j(log v_j) - log v_i - 1 + (v_i + m_i^2) * mean_j(1 / v_j)
                                     - 2 m_i * mean_j(m_j / v_j) + mean_j(m_j^2 / v_j) ]

    computed in float64, since the expanded terms cancel when variances are small.
    """
    m = mean.double()
    v = scale.double().pow(2)
    inv = 1.0 / v
    kl = (torch.log(v).mean(0) - torch.log(v) - 1.0 + (v + m.pow(2)) * inv.mean(0)
          - 2.0 * m * (m * inv).mean(0) + (m.pow(2) * inv).mean(0))
    return (0.5 * kl.sum(dim=-1)).to(mean.dtype)
