"""The post-hoc Gaussian mechanism: the plain MLP's code, standardized, plus isotropic Gaussian noise.

A plain MLP (privib's deterministic encoder and task head, the ``mlp`` method's architecture) is
trained for the task alone; its code is standardized with the training split's mean and standard
deviation, and each release adds N(0, sigma^2) to every dimension. A learned noisy encoder must beat
this at equal leakage, else its training bought nothing the noise alone does not give.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn import functional as F

from privib.baselines.release import SPLITS, BaselineData, BaselineRelease
from privib.models.networks import ClassifierHead, GaussianMLPEncoder

__all__ = ["PlainMLP", "train_plain_mlp", "noise_release"]


class PlainMLP(torch.nn.Module):
    """privib's deterministic encoder and a linear task head on its code."""

    def __init__(self, input_dim: int, n_classes: int, z_dim: int, widths: Sequence[int], activation: str) -> None:
        super().__init__()
        self.encoder = GaussianMLPEncoder(input_dim, z_dim, widths, activation, deterministic=True)
        self.task_head = ClassifierHead(z_dim, n_classes, (), activation)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.task_head(self.code(x))


def train_plain_mlp(data: BaselineData, z_dim: int = 8, widths: Sequence[int] = (128, 128), activation: str = "relu",
                    lr: float = 1e-3, batch_size: int = 256, epochs: int = 20, seed: int = 0) -> tuple[PlainMLP, int]:
    """Train on the training split with Adam, cross-entropy; return the epoch with the lowest validation
    cross-entropy (its weights) and that epoch, counted from 1."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(data.x["train"], dtype=torch.float32), torch.as_tensor(data.y["train"], dtype=torch.int64)
    x_val, y_val = torch.as_tensor(data.x["val"], dtype=torch.float32), torch.as_tensor(data.y["val"], dtype=torch.int64)
    model = PlainMLP(x.shape[1], data.n_classes, z_dim, widths, activation)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    best, best_state, best_epoch = float("inf"), copy.deepcopy(model.state_dict()), 0
    for epoch in range(1, epochs + 1):
        model.train()
        for rows in torch.randperm(len(x), generator=generator).split(batch_size):
            optimizer.zero_grad()
            F.cross_entropy(model(x[rows]), y[rows]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            loss = float(F.cross_entropy(model(x_val), y_val))
        if loss < best:
            best, best_state, best_epoch = loss, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    return model.eval(), best_epoch


def noise_release(data: BaselineData, sigma: float = 1.0, z_dim: int = 8, widths: Sequence[int] = (128, 128),
                  activation: str = "relu", lr: float = 1e-3, batch_size: int = 256, epochs: int = 20,
                  seed: int = 0) -> BaselineRelease:
    """Per split: the standardized code of a plain MLP plus N(0, sigma^2) noise (one draw per row, seeded).

    The head is the MLP's own task head applied to the noisy code, mapped back to the code's scale.
    """
    started = time.perf_counter()
    model, best_epoch = train_plain_mlp(data, z_dim, widths, activation, lr, batch_size, epochs, seed)
    with torch.no_grad():
        raw = {split: model.code(torch.as_tensor(data.x[split], dtype=torch.float32)).numpy() for split in SPLITS}
    center = raw["train"].mean(axis=0)
    spread = raw["train"].std(axis=0)
    spread = np.where(spread > 1e-8, spread, 1.0).astype(np.float32)  # a dead unit stays constant, not NaN
    rng = np.random.default_rng([seed, 1])
    mean = {split: ((raw[split] - center) / spread).astype(np.float32) for split in SPLITS}
    codes = {split: (m + np.float32(sigma) * rng.standard_normal(m.shape, dtype=np.float32)).astype(np.float32)
             for split, m in mean.items()}
    head = {split: _head(model, codes[split], center, spread) for split in ("val", "test")}
    gaussian = {split: (m, np.full_like(m, sigma)) for split, m in mean.items()} if sigma > 0 else None
    return BaselineRelease(
        codes=codes, head=head, gaussian=gaussian,
        info={"fit_s": time.perf_counter() - started, "best_epoch": float(best_epoch),
              "val_acc_noiseless": float(np.mean(_head(model, mean["val"], center, spread).argmax(axis=1) == data.y["val"]))},
    )


def _head(model: PlainMLP, code: NDArray, center: NDArray, spread: NDArray) -> NDArray:
    """Task probabilities of the MLP's head on standardized codes (mapped back to the code's own scale)."""
    with torch.no_grad():
        z = torch.as_tensor(code * spread + center, dtype=torch.float32)
        return model.task_head(z).softmax(dim=-1).numpy()
