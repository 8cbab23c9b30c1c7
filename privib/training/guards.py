"""Training guards: stop on non-finite numbers, warn when an adversary stops being informative."""
from __future__ import annotations

import logging
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint

from privib.errors import TrainingDiverged
from privib.training.checkpoint import AtomicCheckpointIO

log = logging.getLogger(__name__)


def gradients_finite(optimizer: Any) -> bool:
    """True when every gradient ``optimizer`` would apply is finite.

    One fused test instead of one synchronised ``isfinite(grad).all()`` per parameter, four times per
    batch at the default config: torch's multi-tensor check of its gradient scaler (one kernel over all
    gradients, which it multiplies by exactly 1.0), about half the cost of the concatenating test that
    :func:`_concatenated_finite` keeps for gradients or torch builds that op does not take.
    """
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return True
    found, unit = torch.zeros(1, device=grads[0].device), torch.ones(1, device=grads[0].device)
    try:
        torch._amp_foreach_non_finite_check_and_unscale_(grads, found, unit)
    except (RuntimeError, NotImplementedError, AttributeError):  # sparse gradients, several devices, no such op
        return _concatenated_finite(grads)
    return found.item() == 0.0


def _concatenated_finite(grads: list[torch.Tensor]) -> bool:
    """The gradients concatenated and multiplied by zero: the sum is 0 exactly when all are finite and NaN as soon
    as one is NaN or infinite (no overflow)."""
    flat = [(g.to_dense() if g.is_sparse else g).reshape(-1).to("cpu", torch.float64) for g in grads]
    return math.isfinite(torch.cat(flat).mul_(0).sum().item())


class NonFiniteGuard(pl.Callback):
    """Raise :class:`TrainingDiverged` before an optimizer applies a non-finite gradient.

    Checking before the step keeps the weights (and so every checkpoint) finite; the message
    names the epoch, the step and the settings most often to blame.
    """

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        if not gradients_finite(optimizer):
            self._fail(trainer, pl_module, "gradient")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and not (math.isfinite(loss.item()) if loss.numel() == 1 else torch.isfinite(loss).all()):
            self._fail(trainer, pl_module, "loss")

    @staticmethod
    def _fail(trainer: pl.Trainer, pl_module: pl.LightningModule, what: str) -> None:
        hp = pl_module.hparams
        checkpoint_io = getattr(getattr(trainer, "strategy", None), "checkpoint_io", None)
        if isinstance(checkpoint_io, AtomicCheckpointIO):
            checkpoint_io.wait()  # the last epoch's checkpoint may still be on its way to disk
        lasts = [Path(c.dirpath) / "last.ckpt" for c in trainer.checkpoint_callbacks if getattr(c, "dirpath", None)]
        kept = next((f"the last good checkpoint is kept in {last}" for last in lasts if last.is_file()),
                    "no epoch had finished, so no checkpoint was written")
        raise TrainingDiverged(
            f"non-finite {what} at epoch {trainer.current_epoch + 1}, step {trainer.global_step}: lower model.lr "
            f"(now {hp.get('lr')}), model.beta (now {hp.get('beta')}) or model.adv_weight (now {hp.get('adv_weight')}), "
            f"or set model.grad_clip; {kept}",
            epoch=trainer.current_epoch + 1,
            step=trainer.global_step,
        )


class AdversaryMonitor(Checkpoint):
    """Warn when an adversary's training CE stays far from chance level for ``patience`` epochs.

    Chance level is H(S) in nats, the CE of predicting the training prior. A CE well above it
    means the encoder makes the adversary confidently wrong (a fresh attacker still reads s);
    a CE near zero means the adversary wins outright. Warnings go to the log and to
    ``self.warnings`` (the run folder and W&B record them). Derives from ``Checkpoint`` so
    Lightning calls it after the module has logged the epoch's train figures.
    """

    def __init__(self, patience: int = 5, high: float = 1.5, low: float = 0.05) -> None:
        self.patience, self.high, self.low = patience, high, low
        self.streaks: dict[str, int] = {}
        self.warnings: list[str] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for attribute, h_bits in zip(pl_module.sensitive, pl_module.h_sensitive_bits):
            value = trainer.callback_metrics.get(f"train/adv/{attribute}/ce")
            if value is None or h_bits <= 0:
                continue
            ratio = float(value) / (h_bits * math.log(2))
            bad = ratio > self.high or ratio < self.low
            self.streaks[attribute] = self.streaks.get(attribute, 0) + 1 if bad else 0
            if self.streaks[attribute] == self.patience:
                kind = "diverged (CE far above chance)" if ratio > self.high else "dominates (CE near zero)"
                message = (
                    f"adversary for '{attribute}' {kind} for {self.patience} epochs up to epoch {trainer.current_epoch + 1}: "
                    f"CE/chance = {ratio:.2f}; its loss says little about leakage, trust the fresh attackers' audit"
                )
                self.warnings.append(message)
                log.warning(message)

    def state_dict(self) -> dict[str, Any]:
        return {"streaks": dict(self.streaks), "warnings": list(self.warnings)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.streaks = dict(state_dict.get("streaks", {}))
        self.warnings = list(state_dict.get("warnings", []))


class RandomStateCheckpoint(pl.Callback):
    """Save and restore the torch, numpy and Python random states with each checkpoint.

    Lightning's checkpoints hold model, optimizer and loop state but not the global random
    generators that draw the reparameterization noise; with them, a resumed run replays the
    same draws and ends with the same figures as an uninterrupted one.
    """

    def state_dict(self) -> dict[str, Any]:
        numpy_state = np.random.get_state()
        return {
            "torch": torch.get_rng_state(),
            "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]],
            "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        kind, keys, *rest = state_dict["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
        version, internal, gauss = state_dict["python"]
        random.setstate((version, tuple(internal), gauss))
