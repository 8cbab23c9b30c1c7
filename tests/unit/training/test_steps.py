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
