"""LAFTR-DP (Madras et al. 2018, "Learning Adversarially Fair and Transferable Representations").

A deterministic encoder z = f(x), a classifier g(z), a decoder k(z, a) and an adversary h(z) play

    min_{f, g, k} max_h  alpha * L_C(g(z), y) + beta * L_Dec(k(z, a), x) + gamma * L_Adv(h(z), a),

with the demographic-parity adversarial objective

    L_Adv^DP(h) = 1 - sum_{a in {0, 1}} 1 / |D_a| * sum_{i in D_a} |h(z_i) - a|,

one minus the *group-normalized* L1 error of the adversary: each group weighs the same whatever its
size, so the adversary cannot win by predicting the majority, and the optimal adversary's objective
bounds the demographic-parity gap of every classifier of z. Up to its constant, gamma * L_Adv is
``-gamma * group_normalized_l1``: the adversary minimizes the group-normalized L1, the encoder maximizes it.

privib's encoder, task head, adversaries (:class:`~privib.models.networks.ClassifierHead`) and conditional
decoder (:mod:`privib.models.decoder`) serve as f, g, h and k; what is new is the loss of this module. The
adversary's h(z) is its softmax: for a binary attribute ``|h - a| = 1 - p_a = 0.5 * ||p - onehot(a)||_1``,
which also extends the loss to attributes with more than two classes (a sum over every group).
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import torch
from torch import nn

from privib.models.decoder import ConditionalDecoder, feature_groups, reconstruction_nll

__all__ = ["GroupNormalizedL1", "LAFTRObjective", "LAFTRTerms", "group_normalized_l1"]


def group_normalized_l1(probs: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``sum_g mean_{i : s_i = g} 0.5 * ||probs_i - onehot(s_i)||_1`` over the groups present in the batch.

    ``probs`` ``(batch, classes)`` are the adversary's class probabilities and ``s`` ``(batch,)`` the true
    classes. 0 for a perfect adversary; ``classes - 1`` for the uniform guess (1 for a binary attribute, so
    L_Adv^DP = 1 - this value is 0 there), whatever the group sizes.
    """
    error = 1.0 - probs.gather(1, s.long()[:, None]).squeeze(1)  # = 0.5 * ||p - onehot||_1 for a probability vector
    n_classes = probs.shape[1]
    sums = torch.zeros(n_classes, dtype=probs.dtype, device=probs.device).index_add(0, s.long(), error)
    counts = torch.bincount(s.long(), minlength=n_classes).to(probs.dtype)
    present = counts > 0
    return (sums[present] / counts[present]).sum()


class GroupNormalizedL1(nn.Module):
    """The loss of LAFTR-DP's adversary on logits: :func:`group_normalized_l1` of their softmax."""

    def forward(self, logits: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return group_normalized_l1(logits.softmax(dim=-1), s)


@dataclass(frozen=True)
class LAFTRTerms:
    """Batch values of LAFTR's terms: the reconstruction NLL (nats, 0 without a decoder), one group L1 per attribute."""

    recon_nll: torch.Tensor
    adv_l1: list[torch.Tensor]


class LAFTRObjective(nn.Module):
    """LAFTR-DP's decoder k(z, a) and adversary loss; the encoder, classifier and adversaries are the model's.

    L_Dec is privib's reconstruction NLL of the preprocessed features (:func:`~privib.models.decoder.reconstruction_nll`:
    0.5 * squared error on numeric features, cross-entropy on each one-hot group) under a decoder conditioned
    on every sensitive attribute. With ``with_decoder`` False (beta = 0, LAFTR's fair-classification setting)
    there is no decoder and the reconstruction term is 0.

    Args:
        z_dim: width of z.
        n_sensitive_classes: classes of each sensitive attribute.
        feature_names: the preprocessor's feature names (the one-hot layout the NLL follows).
        decoder_widths: hidden layer widths of the decoder.
        activation: hidden activation of the decoder.
        with_decoder: build the decoder.
    """

    def __init__(self, z_dim: int, n_sensitive_classes: Sequence[int], feature_names: Sequence[str],
                 decoder_widths: Sequence[int] = (100,), activation: str = "leaky_relu", with_decoder: bool = True) -> None:
        super().__init__()
        self.groups = feature_groups(feature_names)
        self.decoder = (ConditionalDecoder(z_dim, n_sensitive_classes, len(feature_names), decoder_widths, activation)
                        if with_decoder else None)
        self.adversary_loss = GroupNormalizedL1()

    def forward(self, x: torch.Tensor, z: torch.Tensor, s: torch.Tensor, adversary_logits: Sequence[torch.Tensor]) -> LAFTRTerms:
        """The terms on a batch: ``adversary_logits[i]`` are the logits of the adversary of attribute ``i`` on ``z``."""
        recon = (reconstruction_nll(self.decoder(z, s), x, self.groups).mean() if self.decoder is not None
                 else torch.zeros((), dtype=z.dtype, device=z.device))
        return LAFTRTerms(recon, [self.adversary_loss(logits, s[:, i]) for i, logits in enumerate(adversary_logits)])
