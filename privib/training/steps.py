"""One optimizer update of the manual-optimization loop: torch's calls, without Lightning's per-step machinery.

A batch of the default config makes ``adv_steps`` + 1 = 4 updates. Through Lightning each one goes
through ``manual_backward`` (strategy and precision plugin, ``on_before_backward`` and
``on_after_backward`` dispatched to every callback) and ``LightningOptimizer.step`` (a closure, the
profiler, ``on_before_optimizer_step`` dispatched to every callback): together about a fifth of a fit.
In one process at 32-bit precision none of that changes the update, so :func:`optimizer_update` clears the
gradients, calls ``backward`` and ``step`` itself, runs only the hooks that some callback (or the module) actually
overrides, such as :class:`~privib.training.guards.NonFiniteGuard`'s check, and counts the step in
Lightning's progress so ``trainer.global_step``, checkpoints and ``max_steps`` see the same steps as
before. The updates are bitwise those of Lightning's path. Any other strategy (DDP, which prepares its
gradient reduction in ``manual_backward``) or precision takes Lightning's path unchanged.

Lightning's loop around each batch (fetcher, profiler contexts, every callback's batch hooks, the logger
connector, scheduler and validation checks) costs about 0.5 ms a batch, a tenth of a default fit. On the same
bare path :func:`train_batches` trains up to :data:`BATCHES_PER_STEP` batches per ``training_step`` (Lightning's
``dataloader_iter`` flavour): between them it runs the batch hooks that some callback overrides, with each
batch's own arguments, and counts each batch in Lightning's progress, so progress bar, ``limit_train_batches``,
``max_steps``, ``val_check_interval`` and the logged steps see every batch as before.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.plugins.precision import Precision
from pytorch_lightning.strategies import SingleDeviceStrategy

from privib.training.guards import NonFiniteGuard

__all__ = ["BATCHES_PER_STEP", "optimizer_update", "train_batches"]

_BATCH_HOOKS = ("on_train_batch_start", "on_train_batch_end")
_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step", *_BATCH_HOOKS)
# Callbacks whose batch hooks never ask the fit to stop (the guard raises instead).
_QUIET_BATCH_HOOKS = (ModelCheckpoint, TQDMProgressBar, NonFiniteGuard)
# Batches one ``training_step`` may train on the bare path: Lightning's loop runs once per this many batches.
BATCHES_PER_STEP = 16


class _BarePath:
    """What the bare path of one fit runs: the hooks some callback or the module overrides (bound to their
    leading arguments, as Lightning calls them), Lightning's step and batch counters, batches per step."""

    def __init__(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.trainer = trainer
        self.hooks: dict[str, list[Any]] = {}
        for name in _HOOKS:
            hooks = [partial(getattr(cb, name), trainer, module) for cb in trainer.callbacks
                     if getattr(type(cb), name) is not getattr(pl.Callback, name)]
            if getattr(type(module), name) is not getattr(pl.LightningModule, name):
                hooks.append(getattr(module, name))
            self.hooks[name] = hooks
        self.epoch_loop = trainer.fit_loop.epoch_loop
        self.progress = self.epoch_loop.manual_optimization.optim_step_progress
        # Validation by time, learning-rate schedulers stepped per batch, or a batch hook that may ask the fit to
        # stop (only privib's guard, checkpoint and progress bar are known not to) need Lightning's loop every batch.
        known = all(isinstance(cb, _QUIET_BATCH_HOOKS) for cb in trainer.callbacks
                    if any(getattr(type(cb), name) is not getattr(pl.Callback, name) for name in _BATCH_HOOKS))
        plain = known and getattr(trainer, "_val_check_time_interval", None) is None and not trainer.lr_scheduler_configs
        self.batches_per_step = BATCHES_PER_STEP if plain else 1

    def ends_step(self) -> bool:
        """True where Lightning's loop must run before the next batch: a stop, or a validation check, is due."""
        trainer, loop = self.trainer, self.epoch_loop
        if trainer.should_stop or (trainer.max_steps != -1 and trainer.global_step >= trainer.max_steps):
            return True
        interval = trainer.val_check_batch
        if interval is None or interval == float("inf"):
            return False
        done = loop.total_batch_idx if trainer.check_val_every_n_epoch is None else loop.batch_idx
        return (done + 1) % interval == 0


def _bare_path(module: pl.LightningModule) -> _BarePath | None:
    """The bare path of the fit ``module`` is in, or None where Lightning's own path is needed."""
    trainer = module._trainer
    if trainer is None or not trainer.training:
        return None
    cached = module.__dict__.get("_privib_bare_path")
    if cached is not None and cached.trainer is trainer:
        return cached
    plain = (type(trainer.strategy) is SingleDeviceStrategy and type(trainer.precision_plugin) is Precision
             and type(module).backward is pl.LightningModule.backward)
    path = _BarePath(trainer, module) if plain else None
    module.__dict__["_privib_bare_path"] = path
    return path


def optimizer_update(module: pl.LightningModule, loss: torch.Tensor, optimizer: Any, clip_norm: float | None = None) -> None:
    """``zero_grad``, backward of ``loss``, optional gradient-norm clipping, ``step`` of ``optimizer``.

    ``optimizer`` is what ``module.optimizers()`` returns (a ``LightningOptimizer``) or a torch optimizer;
    outside a fit (no trainer) the update is plain torch.
    """
    path = _bare_path(module)
    if path is None and module._trainer is not None:
        optimizer.zero_grad(set_to_none=True)
        module.manual_backward(loss)
        if clip_norm is not None:
            module.clip_gradients(optimizer, gradient_clip_val=clip_norm, gradient_clip_algorithm="norm")
        optimizer.step()
        return
    bare = getattr(optimizer, "optimizer", optimizer)
    _clear_gradients(bare)
    hooks = path.hooks if path is not None else dict.fromkeys(_HOOKS, ())
    for hook in hooks["on_before_backward"]:
        hook(loss)
    loss.backward()
    for hook in hooks["on_after_backward"]:
        hook()
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_([p for group in bare.param_groups for p in group["params"]], clip_norm)
    for hook in hooks["on_before_optimizer_step"]:
        hook(bare)
    if path is not None:
        path.progress.increment_ready()
    bare.step()
    if path is not None:
        path.progress.increment_completed()


def _clear_gradients(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.zero_grad(set_to_none=True)``: torch's own wraps the loop in a dynamo guard and a profiler
    context, ~12 us a call against ~1 us (4 calls a batch); an optimizer that overrides it keeps its own."""
    if type(optimizer).zero_grad is not torch.optim.Optimizer.zero_grad:
        optimizer.zero_grad(set_to_none=True)
        return
    for group in optimizer.param_groups:
        for param in group["params"]:
            param.grad = None


def train_batches(module: pl.LightningModule, dataloader_iter: Iterator[Any], train: Callable[[Any], torch.Tensor]) -> torch.Tensor:
    """``train`` each batch this ``training_step`` takes from Lightning's ``dataloader_iter``; the last batch's loss.

    One batch off the bare path; on it, up to :data:`BATCHES_PER_STEP`, until the epoch's batches run out or
    Lightning's loop must run (a validation check or a stop is due). Lightning runs its hooks and counts for
    the first batch's start and the last batch's end; this runs the overridden ones in between.
    """
    path = _bare_path(module)
    if path is None:
        return train(_to_device(module, next(dataloader_iter)[0]))
    progress = path.epoch_loop.batch_progress
    for taken in range(path.batches_per_step):
        batch, batch_idx, _ = next(dataloader_iter)
        batch = _to_device(module, batch)
        if taken:
            progress.increment_ready()
            for hook in path.hooks["on_train_batch_start"]:
                hook(batch, batch_idx)
            progress.increment_started()
        loss = train(batch)
        if taken + 1 == path.batches_per_step or dataloader_iter.done or path.ends_step():  # type: ignore[attr-defined]
            return loss
        progress.increment_processed()
        for hook in path.hooks["on_train_batch_end"]:
            hook({"loss": loss.detach()}, batch, batch_idx)  # the outputs Lightning hands a manual-optimization hook
        progress.increment_completed()
        path.epoch_loop._batches_that_stepped += 1  # the logged step, as Lightning's ``on_advance_end`` counts it
    raise AssertionError("unreachable: the loop returns on its last batch")


def _to_device(module: pl.LightningModule, batch: Any) -> Any:
    """In the ``dataloader_iter`` flavour the step moves its batches (a no-op on the CPU)."""
    return batch if module.device.type == "cpu" else module.trainer.strategy.batch_to_device(batch, module.device)
