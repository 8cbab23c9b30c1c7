"""When the adversarial term bites: a warm-up ramp of its weight and periodic re-initialization of the adversaries.

Both are options of :class:`~privib.training.module.VIBModule` (``adv_warmup``, ``adv_reset_every``), both count
whole epochs, so a run resumed from an epoch's checkpoint follows the same schedule as one that was not stopped.

- **Warm-up.** With a large weight the encoder can give the task up in its first epochs, before the task head
  has learned anything worth keeping (seen on Heritage Health: best epoch 1-2, accuracy at the majority rate).
  During the first ``adv_warmup`` epochs the encoder's loss uses a growing share of ``adv_weight``; the
  adversaries themselves train from the first batch. The best checkpoint and early stopping judge only the
  epochs from ``adv_warmup`` on: a warm-up epoch, pushed less by the adversary, scores better on the task and
  leaks more (on Heritage Health, selected warm-up epochs leaked DP 0.18 where the full weight gave 0.11).
- **Re-initialization.** An adversary trained alongside the encoder can settle where the encoder has learned
  to fool it, while a fresh attacker trained after the fact still reads the attribute. Every
  ``adv_reset_every`` epochs the adversaries start again from new weights and a cleared optimizer state, so the
  encoder keeps facing a learner that has not adapted to it yet.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from privib.errors import ConfigError

__all__ = ["check_schedule", "ramped_weight", "resets_at", "reinitialize", "selection_callbacks"]


def check_schedule(adv_warmup: int, adv_reset_every: int) -> None:
    """Both are whole numbers of epochs, >= 0 (0: off)."""
    for name, value in (("adv_warmup", adv_warmup), ("adv_reset_every", adv_reset_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"model.{name} must be a whole number of epochs >= 0 (0: off), got {value!r}")


def ramped_weight(adv_weight: float, adv_warmup: int, epoch: int) -> float:
    """The encoder's adversary weight during ``epoch`` (from 0): ``adv_weight * (epoch + 1) / (adv_warmup + 1)``
    until it reaches ``adv_weight`` at epoch ``adv_warmup``; ``adv_weight`` throughout when ``adv_warmup`` is 0."""
    return adv_weight * min(1.0, (epoch + 1) / (adv_warmup + 1))


def resets_at(adv_reset_every: int, epoch: int) -> bool:
    """Whether the adversaries start again at the beginning of ``epoch`` (never before the first epoch)."""
    return adv_reset_every > 0 and epoch > 0 and epoch % adv_reset_every == 0


def reinitialize(adversaries: torch.nn.Module, optimizers: Iterable[torch.optim.Optimizer]) -> None:
    """New weights for every layer of ``adversaries`` (its layers' own initialization, from torch's global
    generator) and no optimizer state left for its parameters (Adam's moments and step count start over)."""
    for layer in adversaries.modules():
        if layer is not adversaries and hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    params = set(adversaries.parameters())
    for optimizer in optimizers:
        for param in [p for p in optimizer.state if p in params]:
            del optimizer.state[param]


def selection_callbacks(first_epoch: int, checkpoint: dict[str, Any], early_stopping: dict[str, Any] | None) -> list[Any]:
    """Lightning's best-checkpoint and early-stopping callbacks (``checkpoint``, ``early_stopping``: their arguments)
    that judge only the epochs from ``first_epoch`` (from 0) on: the warm-up's epochs, trained with a smaller
    adversary weight, would win on the task and leak more. ``last.ckpt`` is still written every epoch (resume)."""
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    class BestAfterWarmup(ModelCheckpoint):
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.current_epoch >= first_epoch:
                super().on_train_epoch_end(trainer, pl_module)
            elif not self._should_skip_saving_checkpoint(trainer) and self._should_save_on_train_epoch_end(trainer):
                self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    class StopAfterWarmup(EarlyStopping):
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.current_epoch >= first_epoch:
                super().on_train_epoch_end(trainer, pl_module)

    best, stop = (BestAfterWarmup, StopAfterWarmup) if first_epoch else (ModelCheckpoint, EarlyStopping)
    return [best(**checkpoint), *([stop(**early_stopping)] if early_stopping else [])]
