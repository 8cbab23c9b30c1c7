"""One optimizer update of the manual-optimization loop: torch's calls, without Lightning's per-step machinery.

A batch of the default config makes ``adv_steps`` + 1 = 4 updates. Through Lightning each one goes
through ``manual_backward`` (strategy and precision plugin, ``on_before_backward`` and
``on_after_backward`` dispatched to every callback) and ``LightningOptimizer.step`` (a closure, the
profiler, ``on_before_optimizer_step`` dispatched to every callback): together about a fifth of a fit.
In one process at 32-bit precision none of that changes the update, so :func:`optimizer_update` calls
``backward`` and ``step`` itself, runs only the hooks that some callback (or the module) actually
overrides, such as :class:`~privib.training.guards.NonFiniteGuard`'s check, and counts the step in
Lightning's progress so ``trainer.global_step``, checkpoints and ``max_steps`` see the same steps as
before. The updates are bitwise those of Lightning's path. Any other strategy (DDP, which prepares its
gradient reduction in ``manual_backward``) or precision takes Lightning's path unchanged.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.precision import Precision
from pytorch_lightning.strategies import SingleDeviceStrategy

__all__ = ["optimizer_update"]

_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


class _BarePath:
    """What a bare update of one fit runs: the hooks some callback or the module overrides (bound to their
    leading arguments, as Lightning calls them) and Lightning's step counter."""

    def __init__(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.trainer = trainer
        self.hooks: dict[str, list[Any]] = {}
        for name in _HOOKS:
            hooks = [partial(getattr(cb, name), trainer, module) for cb in trainer.callbacks
                     if getattr(type(cb), name) is not getattr(pl.Callback, name)]
            if getattr(type(module), name) is not getattr(pl.LightningModule, name):
                hooks.append(getattr(module, name))
            self.hooks[name] = hooks
        self.progress = trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress


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
    bare.zero_grad(set_to_none=True)
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
