"""Optimizer updates without Lightning's per-step machinery: the same updates, the same step count, the guard still runs."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

import privib.training.steps as steps
from privib.data.loader import IndexBatchLoader
from privib.errors import TrainingDiverged
from privib.training.guards import NonFiniteGuard
from privib.training.module import VIBModule

SPEC = {"input_dim": 6, "feature_names": [f"f{i}" for i in range(6)], "target": "y", "target_classes": ["0", "1"],
        "target_prior": [0.5, 0.5], "sensitive": ["s"], "sensitive_classes": {"s": ["a", "b"]}, "sensitive_priors": {"s": [0.5, 0.5]}}


class _Data(pl.LightningDataModule):
    """256 rows, batches of 32: 8 batches per epoch."""

    def __init__(self) -> None:
        super().__init__()
        x = torch.randn(256, 6, generator=torch.Generator().manual_seed(0))
        self.tensors = (x, (x[:, 0] > 0).long(), (x[:, 1:2] > 0).long())

    def train_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(self.tensors, 32, shuffle=True)

    def val_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(self.tensors, 128)


def _fit(lightning_path: bool, monkeypatch: pytest.MonkeyPatch, **model: object) -> tuple[VIBModule, pl.Trainer]:
    if lightning_path:
        monkeypatch.setattr(steps, "_bare_path", lambda module: None)
    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], adv_steps=3, **model)
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu", callbacks=[NonFiniteGuard()])
    trainer.fit(module, datamodule=_Data())
    monkeypatch.undo()
    return module, trainer


@pytest.mark.parametrize("model", [{}, {"grad_clip": 0.05}, {"adv_mode": "grl"}])
def test_bare_updates_are_bitwise_lightnings_and_count_the_same_steps(monkeypatch, model):
    bare, bare_trainer = _fit(False, monkeypatch, **model)
    lightning, lightning_trainer = _fit(True, monkeypatch, **model)
    for a, b in zip(bare.state_dict().values(), lightning.state_dict().values()):
        assert torch.equal(a, b)
    updates_per_batch = 1 if model.get("adv_mode") == "grl" else 4
    assert bare_trainer.global_step == lightning_trainer.global_step == 2 * (256 // 32) * updates_per_batch
    assert {k: float(v) for k, v in bare_trainer.callback_metrics.items()} == {
        k: float(v) for k, v in lightning_trainer.callback_metrics.items()}


def test_the_non_finite_guard_still_stops_a_bare_update_before_the_step(monkeypatch):
    calls = []
    real = NonFiniteGuard.on_before_optimizer_step
    monkeypatch.setattr(NonFiniteGuard, "on_before_optimizer_step",
                        lambda self, *args: (calls.append(args[2]), real(self, *args))[1])
    with pytest.raises(TrainingDiverged, match="non-finite"):
        _fit(False, monkeypatch, lr=1e30, adv_lr=1e30)
    assert calls and all(isinstance(optimizer, torch.optim.Adam) for optimizer in calls)


class _Counter(pl.Callback):
    """Records what Lightning's loop shows a callback: each batch's end, each validation, the logged step."""

    def __init__(self) -> None:
        self.batch_ends: list[tuple[int, int]] = []
        self.validations = 0
        self.logged_steps: list[int] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.validations += not trainer.sanity_checking

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.logged_steps.append(trainer.fit_loop.epoch_loop._batches_that_stepped)


class _BatchEnds(NonFiniteGuard):
    """The guard (one of the callbacks the chunked path knows), recording the batch ends it is shown."""

    def __init__(self) -> None:
        self.ends: list[tuple[int, int, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        self.ends.append((trainer.current_epoch, batch_idx, float(outputs["loss"])))


def _chunked_fit(batches_per_step: int, monkeypatch: pytest.MonkeyPatch, **trainer_options: object):
    monkeypatch.setattr(steps, "BATCHES_PER_STEP", batches_per_step)
    calls = []
    step = VIBModule.training_step
    monkeypatch.setattr(VIBModule, "training_step", lambda self, dataloader_iter: (calls.append(1), step(self, dataloader_iter))[1])
    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], adv_steps=3)
    counter, ends = _Counter(), _BatchEnds()
    options = {"max_epochs": 2, **trainer_options}
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, accelerator="cpu", callbacks=[counter, ends], **options)
    trainer.fit(module, datamodule=_Data())
    monkeypatch.undo()
    progress = trainer.fit_loop.epoch_loop.batch_progress
    seen = (progress.total.ready, progress.total.started, progress.total.processed, progress.total.completed)
    return module, trainer, counter, ends.ends, seen, len(calls)


@pytest.mark.parametrize("options", [{}, {"limit_train_batches": 5}, {"max_steps": 22}, {"val_check_interval": 3},
                                     {"limit_train_batches": 6, "val_check_interval": 4}])
def test_several_batches_per_step_train_and_count_exactly_as_one_per_step(monkeypatch, options):
    one = _chunked_fit(1, monkeypatch, **options)
    many = _chunked_fit(16, monkeypatch, **options)
    for a, b in zip(one[0].state_dict().values(), many[0].state_dict().values()):
        assert torch.equal(a, b)
    assert one[1].global_step == many[1].global_step
    assert one[2].validations == many[2].validations and one[2].logged_steps == many[2].logged_steps
    assert one[3] == many[3] and one[4] == many[4]  # every batch's end, with its own index; Lightning's counters
    batches = {(): 16, ("limit_train_batches",): 10, ("max_steps",): 6, ("val_check_interval",): 16,
               ("limit_train_batches", "val_check_interval"): 12}[tuple(sorted(options))]
    assert len(many[3]) == batches and many[4] == (batches,) * 4
    assert many[1].global_step == batches * 4
    assert one[5] == batches and many[5] == {(): 2, ("limit_train_batches",): 2, ("max_steps",): 1,
                                             ("val_check_interval",): 6, ("limit_train_batches", "val_check_interval"): 4,
                                             }[tuple(sorted(options))]  # training_step calls: Lightning's loop runs
    assert {k: float(v) for k, v in one[1].callback_metrics.items()} == {k: float(v) for k, v in many[1].callback_metrics.items()}


def test_a_callback_that_may_stop_the_fit_gets_lightnings_loop_after_every_batch(monkeypatch):
    class StopAtThird(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            trainer.should_stop = trainer.should_stop or batch_idx == 2

    monkeypatch.setattr(steps, "BATCHES_PER_STEP", 16)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], adv_steps=3)
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu", callbacks=[StopAtThird()])
    trainer.fit(module, datamodule=_Data())
    assert trainer.global_step == 3 * 4


def test_gradients_are_cleared_as_zero_grad_does_and_an_overriding_optimizer_keeps_its_own():
    params = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))]
    optimizer = torch.optim.Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.1}])
    for p in params:
        p.grad = torch.ones_like(p)
    steps._clear_gradients(optimizer)
    assert all(p.grad is None for p in params)

    class Keeping(torch.optim.SGD):
        def zero_grad(self, set_to_none: bool = True) -> None:
            for p in self.param_groups[0]["params"]:
                p.grad.zero_()

    custom = Keeping(params, lr=0.1)
    for p in params:
        p.grad = torch.ones_like(p)
    steps._clear_gradients(custom)
    assert all(p.grad is not None and not p.grad.any() for p in params)
