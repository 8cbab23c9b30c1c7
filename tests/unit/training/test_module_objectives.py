"""The reference objectives in VIBModule (``model.objective`` fcrl / laftr): they train, log, check and load."""
from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml

from privib.cli import main
from privib.data.loader import IndexBatchLoader
from privib.errors import ConfigError
from privib.models.checkpoint import load_trained_model
from privib.models.laftr import group_normalized_l1
from privib.training.callbacks import EpochHistory
from privib.training.module import VIBModule
from privib.training.objectives import adversary_loss, objective_step

NAMES = ["a", "b", "c", "d", "job=x", "job=y"]
SPEC = {"input_dim": 6, "feature_names": NAMES, "target": "y", "target_classes": ["0", "1"], "target_prior": [0.5, 0.5],
        "sensitive": ["s"], "sensitive_classes": {"s": ["f", "m"]}, "sensitive_priors": {"s": [0.5, 0.5]}}
FCRL = {"objective": "fcrl", "beta": 0.05, "nce_weight": 0.1, "adv_weight": 0.0, "release": "sample",
        "head_widths": [16], "critic_widths": [16]}
LAFTR = {"objective": "laftr", "deterministic": True, "beta": 0.0, "adv_weight": 1.0, "recon_weight": 0.1,
         "decoder_widths": [16], "activation": "leaky_relu"}


def _table(n: int = 512) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A planted-signal table: y from columns a and b, s planted in column c, a one-hot job column."""
    g = torch.Generator().manual_seed(0)
    s = torch.randint(0, 2, (n,), generator=g)
    numeric = torch.randn(n, 4, generator=g)
    numeric[:, 2] += 2.0 * s - 1.0
    job = torch.eye(2)[torch.randint(0, 2, (n,), generator=g)]
    x = torch.cat([numeric, job], 1)
    return x, (numeric[:, 0] + 0.5 * numeric[:, 1] > 0).long(), s[:, None]


class _Data(pl.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        self.tensors = _table()

    def train_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(self.tensors, 64, shuffle=True)

    def val_dataloader(self) -> IndexBatchLoader:
        return IndexBatchLoader(self.tensors, 256)


def _fit(module: VIBModule, tmp_path: Path, epochs: int) -> list[dict[str, float]]:
    history = EpochHistory(tmp_path / "history.json")
    trainer = pl.Trainer(max_epochs=epochs, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, accelerator="cpu", callbacks=[history], default_root_dir=tmp_path)
    trainer.fit(module, datamodule=_Data())
    return history.rows


def _module(**settings: object) -> VIBModule:
    torch.manual_seed(0)
    return VIBModule(SPEC, z_dim=4, encoder_widths=[32], adversary_widths=[16], lr=1e-2, adv_lr=1e-2, **settings)


def test_fcrl_lowers_its_loss_and_logs_its_terms(tmp_path):
    torch.set_num_threads(1)
    rows = _fit(_module(**FCRL), tmp_path, epochs=6)
    first, last = rows[0], rows[-1]
    assert last["train/loss"] < first["train/loss"] - 0.1  # measured 0.71 -> 0.27
    assert last["val/cond_task_ce"] < first["val/cond_task_ce"]
    assert last["val/task_acc"] > 0.85  # the probe p(y | z), trained on the detached code
    assert last["val/nce"] > first["val/nce"]  # the encoder is rewarded for keeping x in z within each group
    assert {"val/nce", "val/cond_task_ce", "val/adv/s/ce", "val/kl_bits"} <= set(last)
    assert "val/adv_l1" not in last and "val/recon_nll" not in last


def test_fcrl_probe_adds_no_gradient_to_the_encoder():
    module = _module(**FCRL).train()
    x, y, s = (t[:64] for t in _table())
    optimizer = torch.optim.SGD([*module.model.encoder.parameters(), *module.model.task_head.parameters(),
                                 *module.objective_net.parameters()], lr=0.0)
    torch.manual_seed(3)
    objective_step(module, "train", (x, y, s), optimizer)
    stepped = [p.grad.clone() for p in module.model.encoder.parameters()]
    torch.manual_seed(3)  # the same draw of z, then FCRL's loss alone
    mean, _, z, kl = module._represent(x)
    terms = module.objective_net(x, z, y, s)
    loss = terms.task_ce + module.hparams.beta * kl.mean() - module.hparams.nce_weight * terms.nce
    alone = torch.autograd.grad(loss, list(module.model.encoder.parameters()))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(stepped, alone))
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.model.task_head.parameters())


def test_laftr_trains_its_task_and_decoder_and_adversaries_minimize_the_group_l1(tmp_path):
    torch.set_num_threads(1)
    module = _module(**LAFTR)
    assert module.decoder is None and module.objective_net.decoder is not None  # LAFTR's decoder, not cvib's
    rows = _fit(module, tmp_path, epochs=6)
    first, last = rows[0], rows[-1]
    assert last["val/task_ce"] < first["val/task_ce"] - 0.1 and last["val/task_acc"] > 0.85
    assert last["val/recon_nll"] < first["val/recon_nll"]
    # The group L1 lies in [0, 2]; 1 is chance. Against gamma = 1 the adversary stays at chance (measured 1.04).
    assert 0.9 < last["val/adv_l1"] <= 2.0 and last["val/kl_bits"] == 0.0
    z, s = torch.randn(10, 4), torch.randint(0, 2, (10, 1))
    expected = group_normalized_l1(module.model.adversaries[0](z).softmax(-1), s[:, 0])
    assert float(adversary_loss(module, z, s)) == pytest.approx(float(expected))


def test_objective_modules_stay_out_of_the_exported_model(tmp_path):
    for settings in (FCRL, LAFTR):
        module = _module(**settings)
        path = tmp_path / f"{settings['objective']}.ckpt"
        torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
        trained = load_trained_model(path)
        x = _table()[0][:8]
        assert torch.allclose(trained.model.encoder(x)[0], module.model.encoder(x)[0])
        assert trained.release == settings.get("release", "mean")


@pytest.mark.parametrize("settings, needle", [
    ({"objective": "nosuch"}, "model.objective must be one of vib, fcrl, laftr, got 'nosuch'"),
    ({**FCRL, "deterministic": True}, "fcrl bounds I(x; z) by the KL of a stochastic encoder"),
    ({**FCRL, "adv_weight": 1.0}, "fcrl has no adversarial or reconstruction term"),
    ({**FCRL, "nce_weight": -1.0}, "model.nce_weight must be a finite number >= 0"),
    ({**FCRL, "adv_mode": "grl"}, "trains its adversaries in separate updates"),
    ({**LAFTR, "deterministic": False}, "laftr has a deterministic encoder"),
    ({**LAFTR, "release": "sample"}, "laftr has a deterministic encoder"),
    ({**LAFTR, "dep_penalty": "mmd"}, "no cell release or dependence penalty"),
])
def test_settings_that_do_not_fit_the_objective_are_one_line_errors(settings, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        VIBModule(SPEC, **settings)


def test_presets_print_their_objective(capsys):
    for method, expected in (("fcrl", {"objective": "fcrl", "release": "sample", "beta": 0.5, "nce_weight": 1.0}),
                             ("laftr", {"objective": "laftr", "release": "mean", "adv_weight": 1.0, "recon_weight": 0.1})):
        with pytest.raises(SystemExit) as printed:  # the parser prints the config and exits 0
            main(["run", "--method", method, "--print_config"])
        assert printed.value.code in (0, None)
        config = yaml.safe_load(capsys.readouterr().out)
        assert config["method"] == method
        assert {k: config["model"][k] for k in expected} == expected
