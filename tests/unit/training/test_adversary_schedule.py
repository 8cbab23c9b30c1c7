"""The adversary's warm-up ramp and periodic re-initialization change training exactly where they say they do."""
from __future__ import annotations

import json

import pytest
import pytorch_lightning as pl
import torch

from privib.data.loader import IndexBatchLoader
from privib.errors import ConfigError
from privib.training.fit import fit_module
from privib.training.options import CheckpointOptions
from privib.training.adversary_schedule import ramped_weight, reinitialize, resets_at, selection_callbacks
from privib.training.module import VIBModule
from tests.unit.training.test_module import SPEC, _fit

SMALL = {"z_dim": 4, "encoder_widths": [16], "adversary_widths": [8], "release": "sample"}


def _state(module: VIBModule, part: str) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in getattr(module.model, part).state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_ramp_reaches_the_full_weight_at_the_warmup_epoch():
    assert [ramped_weight(2.0, 3, e) for e in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert [ramped_weight(2.0, 0, e) for e in range(3)] == [2.0, 2.0, 2.0]
    assert [e for e in range(10) if resets_at(3, e)] == [3, 6, 9]
    assert not any(resets_at(0, e) for e in range(10))


@pytest.mark.parametrize("mode", ["alternating", "grl"])
def test_a_warmup_epoch_trains_as_the_ramped_weight_does(mode):
    """Epoch 1 of lambda 2 with a one-epoch warm-up is bit for bit epoch 1 of lambda 1: only the encoder's
    weight on the adversary changes (validation figures, which weigh it fully, are not part of training)."""
    trained = []
    for adv_weight, warmup in ((2.0, 1), (1.0, 0), (2.0, 0)):
        torch.manual_seed(0)
        module = VIBModule(SPEC, adv_weight=adv_weight, adv_warmup=warmup, adv_mode=mode, adv_steps=2, **SMALL)
        _fit(module, epochs=1)
        trained.append((_state(module, "encoder"), _state(module, "adversaries")))
    assert _same(*trained[0][:1], *trained[1][:1]) and _same(trained[0][1], trained[1][1])
    assert not _same(trained[0][0], trained[2][0])  # the full weight trains another encoder


def test_resetting_gives_the_adversaries_new_weights_and_a_fresh_optimizer_only():
    torch.manual_seed(0)
    module = VIBModule(SPEC, **SMALL)
    trainer = _fit(module, epochs=1)
    encoder_opt, adversary_opt = trainer.optimizers
    before = _state(module, "adversaries")
    encoder_state = {id(p): {k: v.clone() for k, v in s.items()} for p, s in encoder_opt.state.items()}
    reinitialize(module.model.adversaries, [encoder_opt, adversary_opt])
    after = _state(module, "adversaries")
    assert all(not torch.equal(before[k], after[k]) for k in before)
    assert len(adversary_opt.state) == 0
    assert encoder_state.keys() == {id(p) for p in encoder_opt.state}  # the encoder's moments are kept
    grl = VIBModule(SPEC, adv_mode="grl", **SMALL)  # one optimizer for both: only the adversaries' entries go
    (optimizer,) = _fit(grl, epochs=1).optimizers
    reinitialize(grl.model.adversaries, [optimizer])
    adversary_params = set(grl.model.adversaries.parameters())
    assert optimizer.state and not adversary_params & set(optimizer.state)


def test_a_fit_resets_its_adversaries_at_the_epochs_asked():
    """Two epochs with a reset before the second: the adversaries' Adam restarted there (step count of one epoch)."""
    runs = {}
    for every in (0, 1):
        torch.manual_seed(0)
        module = VIBModule(SPEC, adv_reset_every=every, adv_steps=1, **SMALL)
        trainer = _fit(module, epochs=2)
        steps = {int(s["step"]) for s in trainer.optimizers[1].state.values()}
        runs[every] = (steps, _state(module, "adversaries"))
    batches = 256 // 32
    assert runs[0][0] == {2 * batches} and runs[1][0] == {batches}
    assert not _same(runs[0][1], runs[1][1])


@pytest.mark.parametrize("bad", [{"adv_warmup": -1}, {"adv_reset_every": 1.5}, {"adv_warmup": True},
                                 {"adv_warmup": 2, "objective": "fcrl", "adv_weight": 0.0, "beta": 0.5}])
def test_bad_schedules_are_refused(bad):
    with pytest.raises(ConfigError, match="adv_warmup|adv_reset_every"):
        VIBModule(SPEC, **bad)


def test_a_run_resumed_across_a_reset_and_the_ramp_ends_where_an_uninterrupted_one_does(tmp_path):
    """Stopped after epoch 2 of a 2-epoch warm-up with a reset every 2 epochs, then resumed from the warm-up's
    last.ckpt: the weights after epoch 3 are bitwise those of a run that was never stopped."""
    from privib.training.guards import RandomStateCheckpoint
    from tests.unit.training.test_module import _Data

    class Replayed(_Data):  # each epoch's order from the epoch's number, as privib's datamodules draw it
        def train_dataloader(self) -> IndexBatchLoader:
            return IndexBatchLoader(self.tensors, self.batch_size, shuffle=True, epoch_fn=lambda: self.trainer.current_epoch)

    def fit(epochs: int, folder: str, resume: str | None = None) -> VIBModule:
        torch.manual_seed(0)
        module = VIBModule(SPEC, adv_warmup=2, adv_reset_every=2, adv_steps=2, **SMALL)
        saver, = selection_callbacks(2, {"dirpath": tmp_path / folder, "save_last": True, "monitor": "val/task_ce",
                                         "save_on_train_epoch_end": True}, None)  # last.ckpt during the warm-up too
        trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_progress_bar=False, enable_model_summary=False,
                             num_sanity_val_steps=0, accelerator="cpu", callbacks=[saver, RandomStateCheckpoint()])
        trainer.fit(module, datamodule=Replayed(), ckpt_path=resume)
        return module

    straight = fit(3, "straight")
    fit(2, "stopped")
    resumed = fit(3, "resumed", resume=str(tmp_path / "stopped" / "last.ckpt"))
    for part in ("encoder", "adversaries", "task_head"):
        assert _same(_state(straight, part), _state(resumed, part)), part


class _Entangled(pl.LightningDataModule):
    """The sensitive attribute is the task's label 9 times in 10: the stronger the adversary, the worse the task."""

    def __init__(self, n: int = 2048) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(n, 6, generator=generator)
        y = (x[:, 0] > 0).long()
        s = torch.where(torch.rand(n, generator=generator) < 0.9, y, 1 - y)
        self.tensors = (x, y, torch.stack([s, torch.zeros_like(s)], 1))
        self.splits = {"train": range(n)}

    def train_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(self.tensors, 64, shuffle=True, epoch_fn=lambda: self.trainer.current_epoch)

    def val_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(self.tensors, 256)


def _fit_privib(tmp_path, warmup: int, epochs: int = 10, patience: int | None = None) -> tuple[dict[str, float], list]:
    torch.manual_seed(0)
    module = VIBModule(SPEC, adv_weight=1.0, adv_warmup=warmup, lr=0.01, **SMALL)
    result = fit_module(module, _Entangled(), tmp_path / "ckpt", tmp_path / "history.json", CheckpointOptions(patience=patience),
                        {"max_epochs": epochs, "accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False})
    best = torch.load(tmp_path / "ckpt" / "best.ckpt", weights_only=False)
    return result.metrics, [best["epoch"], json.loads((tmp_path / "history.json").read_text())]


def test_the_best_checkpoint_and_early_stopping_ignore_the_warmup_epochs(tmp_path):
    """Here a warm-up epoch is the best on the task; with a 5-epoch warm-up no epoch before the sixth (the first at
    the full weight) is chosen, written as best.ckpt, or counted by early stopping."""
    ramped, (best_epoch, history) = _fit_privib(tmp_path / "ramped", warmup=5)
    task_ce = {row["epoch"]: row["val/task_ce"] for row in history}
    assert min(task_ce, key=task_ce.get) <= 5  # a warm-up epoch is the best on the task ...
    assert ramped["fit/best_epoch"] == min((e for e in task_ce if e >= 6), key=task_ce.get)  # ... and is not chosen
    assert best_epoch == ramped["fit/best_epoch"] - 1  # best.ckpt holds that epoch (Lightning counts from 0)
    _, (_, history) = _fit_privib(tmp_path / "stopped", warmup=5, patience=2)
    assert len(history) >= 5 + 3  # patience counts from the first judged epoch: at least 3 of them after the warm-up


def test_a_warmup_longer_than_the_fit_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="adv_warmup 10 leaves no epoch at the full adversary weight"):
        _fit_privib(tmp_path, warmup=10)
