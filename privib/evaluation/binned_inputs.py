"""Numeric bins under gradient attacks: the bins re-derived after each step, and a smooth stand-in for their gradient.

A binned input (``data.numeric_bins``) is a step function of its numeric column: its gradient is zero
almost everywhere, so an FGSM / PGD attack that differentiates the encoder's input would see only the
standardized value and none of what moving it across a cut does. An encoder that reads the bins would
then look robust to gradient attacks while random noise, which moves the bins, still hurts it (on the
default Adult run with 64 bins: PGD at radius 0.2 cost 0.012 of accuracy, noise of 1.0 0.118). The attack
therefore differentiates through a smooth surrogate of the bins (backward pass differentiable
approximation, BPDA, Athalye et al. 2018): the forward pass keeps the exact one-hot bins, the backward pass
takes the gradient of soft bins, differences of sigmoids at the cuts.
"""
from __future__ import annotations

import numpy as np
import torch

from privib.evaluation.feature_layout import FeatureLayout

__all__ = ["rebinned", "with_bin_gradients"]


def rebinned(x: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """``x`` with the bins of its binned numeric columns re-derived (a copy; ``x`` itself when nothing is binned)."""
    if not layout.numeric_bins:
        return x
    return torch.from_numpy(layout.rebin(x.detach().cpu().numpy().copy())).to(x.device)


def with_bin_gradients(x: torch.Tensor, layout: FeatureLayout) -> torch.Tensor:
    """``x`` whose bin columns equal its hard bins in value and carry the soft bins' gradient to their numeric column.

    The soft bins' width at each cut is half the distance to the nearest other cut (a column with one cut: 0.25
    standardized units), so the surrogate follows the step function's shape at every scale.
    """
    if not layout.numeric_bins:
        return x
    out = x.clone()
    for j, cuts, columns in layout.numeric_bins:
        c = torch.as_tensor(cuts, dtype=x.dtype, device=x.device)
        above = torch.sigmoid((x[:, j:j + 1] - c) / _widths(cuts, x))  # P(value > cut k), soft
        soft = torch.cat([1 - above[:, :1], above[:, :-1] - above[:, 1:], above[:, -1:]], dim=1)
        hard = x[:, columns].detach()
        out[:, columns] = hard + soft - soft.detach()
    return out


def _widths(cuts: list[float], x: torch.Tensor) -> torch.Tensor:
    gaps = np.diff(np.asarray(cuts, dtype=np.float64))
    if gaps.size == 0:
        return torch.full((1,), 0.25, dtype=x.dtype, device=x.device)
    nearest = np.minimum(np.r_[gaps[:1], gaps], np.r_[gaps, gaps[-1:]])
    return torch.as_tensor(np.maximum(nearest / 2.0, 1e-6), dtype=x.dtype, device=x.device)
