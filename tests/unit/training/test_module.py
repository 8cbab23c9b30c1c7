"""VIBModule: the objective's pieces, the alternating schedule, GRL mode, baselines as settings."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from helpers.specs import synthetic_spec
from privib.data.loader import IndexBatchLoader
from privib.errors import ConfigError
from privib.training.module import VIBModule, entropy_bits

SPEC = synthetic_spec({"s": [0.5, 0.5], "r": [0.2, 0.3, 0.5]})


class _Data(pl.LightningDataModule):
    def __init__(self, n: int = 256, batch_size: int = 32) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(n, 6, generator=generator)
        self.tensors = (x, (x[:, 0] > 0).long(), torch.stack([(x[:, 1] > 0).long(), (x[:, 2] > 0).long() * 2], 1))
        self.batch_size = batch_size

    def train_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(self.tensors, self.batch_size, shuffle=True)

    def val_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(self.tensors, 128)


def _fit(module: VIBModule, epochs: int = 1) -> pl.Trainer:
    trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
    trainer.fit(module, datamodule=_Data())
    return trainer


def _adam_steps(optimizer: torch.optim.Optimizer) -> int:
    states = [s for s in optimizer.state.values() if "step" in s]
    return int(states[0]["step"]) if states else 0


@pytest.mark.parametrize("adv_steps", [1, 3])
def test_alternating_schedule_counts_updates(adv_steps):
    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], adv_steps=adv_steps)
    trainer = _fit(module)
    encoder_opt, adversary_opt = trainer.optimizers
    batches = 256 // 32
    assert _adam_steps(encoder_opt) == batches
    assert _adam_steps(adversary_opt) == batches * adv_steps


def test_adversary_update_leaves_encoder_untouched():
    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], adv_steps=2)
    optimizers = [torch.optim.SGD(module.model.encoder.parameters(), lr=0.1),
                  torch.optim.SGD(module.model.adversaries.parameters(), lr=0.1)]
    module.manual_backward = lambda loss: loss.backward()
    before = [p.clone() for p in module.model.encoder.parameters()]
    adversary_before = [p.clone() for p in module.model.adversaries.parameters()]
    x, _, s = _Data().tensors
    module._adversary_updates(x[:32], s[:32], optimizers[1])
    assert all(torch.equal(a, b) for a, b in zip(before, module.model.encoder.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(adversary_before, module.model.adversaries.parameters()))


def test_grl_mode_uses_one_optimizer_and_logs_all_figures():
    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], adv_mode="grl")
    trainer = _fit(module)
    assert len(trainer.optimizers) == 1
    logged = trainer.callback_metrics
    for key in ("train/task_ce", "train/task_acc", "train/kl_bits", "train/adv/s/ce", "train/adv/r/acc",
                "val/info/rate_bits", "val/info/izy_lb_bits", "val/info/izs_lb_bits/r"):
        assert key in logged, key
    assert logged["val/info/rate_bits"] == pytest.approx(logged["val/kl_bits"])
    assert logged["val/info/rate_bits"] > 0


def test_information_plane_bounds_are_entropy_minus_cross_entropy():
    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8])
    logged = _fit(module, epochs=2).callback_metrics
    izy = entropy_bits(SPEC["target_prior"]) - float(logged["val/task_ce"]) / torch.log(torch.tensor(2.0)).item()
    assert float(logged["val/info/izy_lb_bits"]) == pytest.approx(max(0.0, izy), abs=1e-5)
    assert entropy_bits([0.5, 0.5]) == pytest.approx(1.0)


def test_deterministic_mode_has_no_kl_and_is_the_plain_mlp():
    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], deterministic=True, beta=0.0, adv_weight=0.0)
    logged = _fit(module).callback_metrics
    assert float(logged["train/kl_bits"]) == 0.0
    x = _Data().tensors[0][:8]
    torch.testing.assert_close(module.model.predict_proba(x, 16), module.model.predict_proba(x, 0))


def test_adversary_weight_pushes_encoder_against_adversary():
    """With a large lambda the encoder's gradient step raises the adversary's loss on the same batch."""
    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], adv_weight=50.0, beta=0.0, lr=0.05)
    x, y, s = _Data().tensors
    ce_before = sum(a.loss for a in module._adversary_ces(module.model.encoder(x)[0], s)).item()
    optimizer = torch.optim.SGD(module.model.encoder.parameters(), lr=0.05)
    mean, _, z, _ = module._represent(x)
    loss = torch.nn.functional.cross_entropy(module.model.task_head(z), y) - 50.0 * sum(
        a.loss for a in module._adversary_ces(mean, s))
    loss.backward()
    optimizer.step()
    ce_after = sum(a.loss for a in module._adversary_ces(module.model.encoder(x)[0], s)).item()
    assert ce_after > ce_before


@pytest.mark.parametrize("bad", [{"beta": -0.1}, {"adv_weight": -1.0}, {"adv_steps": 0}, {"adv_mode": "x"}, {"z_dim": 0}])
def test_invalid_settings_raise_config_error(bad):
    with pytest.raises(ConfigError):
        VIBModule(SPEC, **bad)


def test_validation_leakage_selection_is_logged_when_asked():
    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], select_leakage_target=0.6)
    logged = _fit(module).callback_metrics
    assert 0.5 <= float(logged["val/leak_auc"]) <= 1.0
    leak, acc = float(logged["val/leak_auc"]), float(logged["val/task_acc"])
    assert float(logged["val/select"]) == pytest.approx(acc if leak <= 0.6 else -leak)
    with pytest.raises(ConfigError):
        VIBModule(SPEC, select_leakage_target=0.3)
