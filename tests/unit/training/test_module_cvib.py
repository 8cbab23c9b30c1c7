"""The cvib method in the LightningModule: the conditional decoder trains with the encoder, its terms are logged."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from privib.errors import ConfigError

NAMES = ["age", "hours", "job=a", "job=b", "job=c", "sex_like=x", "sex_like=y"]
SPEC = {"input_dim": 7, "feature_names": NAMES, "target": "y", "target_classes": ["0", "1"], "target_prior": [0.5, 0.5],
        "sensitive": ["s"], "sensitive_classes": {"s": ["a", "b"]}, "sensitive_priors": {"s": [0.5, 0.5]}}


class _Data(pl.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        n = 128
        job = torch.randint(0, 3, (n,), generator=g)
        s = torch.randint(0, 2, (n,), generator=g)
        x = torch.cat([torch.randn(n, 2, generator=g), F.one_hot(job, 3).float(), F.one_hot(s, 2).float()], 1)
        self.tensors = (x, (x[:, 0] > 0).long(), s[:, None])

    def train_dataloader(self):
        from privib.data.loader import IndexBatchLoader

        return IndexBatchLoader(self.tensors, 32, shuffle=True)

    def val_dataloader(self):
        from privib.data.loader import IndexBatchLoader

        return IndexBatchLoader(self.tensors, 64)


def test_module_trains_the_decoder_with_the_encoder_and_logs_both_terms():
    from privib.training.module import VIBModule

    torch.manual_seed(0)
    module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8], decoder_widths=[16], adv_weight=0.0,
                       recon_weight=1.0)
    before = [p.clone() for p in module.decoder.parameters()]
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
    trainer.fit(module, datamodule=_Data())
    encoder_opt = trainer.optimizers[0]
    in_encoder_opt = {id(p) for group in encoder_opt.param_groups for p in group["params"]}
    assert all(id(p) in in_encoder_opt for p in module.decoder.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, module.decoder.parameters()))
    logged = trainer.callback_metrics
    assert {"train/recon_nll", "train/pairwise_kl", "val/recon_nll", "val/pairwise_kl"} <= set(logged)
    assert float(logged["val/recon_nll"]) > 0 and float(logged["val/pairwise_kl"]) >= 0
    # Without recon_weight there is no decoder and no such figure.
    plain = VIBModule(SPEC, z_dim=4, encoder_widths=[16], adversary_widths=[8])
    assert plain.decoder is None


def test_recon_weight_needs_a_stochastic_encoder():
    from privib.training.module import VIBModule

    with pytest.raises(ConfigError, match="needs a stochastic encoder"):
        VIBModule(SPEC, deterministic=True, recon_weight=1.0)
    with pytest.raises(ConfigError, match="model.recon_weight must be"):
        VIBModule(SPEC, recon_weight=-1.0)


def test_without_the_pairwise_kl_the_term_is_the_reconstruction_alone():
    from privib.training.module import VIBModule

    torch.manual_seed(0)
    x, _, s = _Data().tensors
    mean, scale, z = torch.randn(len(x), 4), torch.rand(len(x), 4) + 0.1, torch.randn(len(x), 4)
    terms = {}
    for pairwise in (True, False):
        torch.manual_seed(1)
        module = VIBModule(SPEC, z_dim=4, encoder_widths=[16], decoder_widths=[16], recon_weight=0.5, pairwise_kl=pairwise)
        terms[pairwise] = float(module._recon_term("train", x, s, z, mean, scale).detach())
        nll, kl = (float(module._sums["train"][k]) / len(x) for k in ("recon_nll", "pairwise_kl"))
    assert kl > 0
    assert terms[False] == pytest.approx(0.5 * nll, rel=1e-6)
    assert terms[True] == pytest.approx(0.5 * (nll + kl), rel=1e-6)


def test_the_reconstruction_alone_keeps_in_z_what_the_task_does_not_need():
    """cvib's pairwise KL compresses z towards what the task needs; the reconstruction alone keeps x's other columns."""
    from sklearn.linear_model import LogisticRegression

    from privib.training.module import VIBModule

    data = _Data()
    x, _, _ = data.tensors
    job = x[:, 2:5].argmax(1).numpy()  # a column the task (x[:, 0] > 0) does not read
    accuracy = {}
    for pairwise in (True, False):
        torch.manual_seed(0)
        module = VIBModule(SPEC, z_dim=4, encoder_widths=[32], adversary_widths=[8], decoder_widths=[32], beta=0.0,
                           adv_weight=0.0, recon_weight=1.0, pairwise_kl=pairwise, lr=3e-3)
        trainer = pl.Trainer(max_epochs=40, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
        trainer.fit(module, datamodule=data)
        with torch.no_grad():
            codes = module.model.encoder(x)[0].numpy()
        accuracy[pairwise] = LogisticRegression(max_iter=1000).fit(codes, job).score(codes, job)
    assert accuracy[False] > 0.9, accuracy
    assert accuracy[True] < accuracy[False] - 0.2, accuracy
